//! The URLs the client builds from values it did not choose.

use crate::server::alex::AlexError;

/// The launch-context call's URL. Each value is one path segment, every
/// byte but letters and digits percent-encoded; a value that is a dot
/// segment (`.`, `..`, or their encodings, which URL parsers resolve
/// alike) is refused, so a launch link can never steer our token to
/// another path of ALEX.
pub(super) fn launch_context_url(
    vendor_base: &str,
    context: &str,
    signature: &str,
) -> Result<String, AlexError> {
    let segment = |s: &str| -> Result<String, AlexError> {
        let decoded = s.replace("%2e", ".").replace("%2E", ".");
        if s.is_empty() || decoded.chars().all(|c| c == '.') {
            return Err(AlexError::Malformed("launch value is a dot segment".into()));
        }
        Ok(s.bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect())
    };
    Ok(format!(
        "{vendor_base}/vendorforms/api/getlaunchcontextstring/{}/{}",
        segment(context)?,
        segment(signature)?
    ))
}

/// A value as one query-string component.
pub(super) fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_values_are_single_strictly_encoded_segments() {
        let url = launch_context_url("https://alex.example", "a.b/c?d#e", "s+g=").unwrap();
        assert_eq!(
            url,
            "https://alex.example/vendorforms/api/getlaunchcontextstring/a%2Eb%2Fc%3Fd%23e/s%2Bg%3D"
        );
        let parsed = url::Url::parse(&url).unwrap();
        assert_eq!(parsed.path_segments().unwrap().count(), 5, "no value adds or removes a segment");
        for dots in [".", "..", "%2e%2E", ".%2e", "...", ""] {
            assert!(launch_context_url("https://alex.example", dots, "sig").is_err(), "{dots:?}");
            assert!(launch_context_url("https://alex.example", "ctx", dots).is_err(), "{dots:?}");
        }
    }
}
