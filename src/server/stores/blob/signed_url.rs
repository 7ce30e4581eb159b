//! URLs the app signs itself, for local-disk blobs in embedded mode: the same
//! contract S3 presigned URLs give (exact method, key, type, length; expiry).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::server::support::clock::unix_now;

type HmacSha256 = Hmac<Sha256>;

/// Path under which local blobs are uploaded and fetched.
pub const BLOB_PATH: &str = "/api/medtech/blobs";

/// Signs and checks blob URLs with a per-process random key.
pub struct UrlSigner {
    key: [u8; 32],
    origin: String,
}

/// What a signature covers.
pub struct Signed<'a> {
    pub method: &'a str,
    pub key: &'a str,
    /// Content type and length, for uploads.
    pub upload: Option<(&'a str, u64)>,
    /// Unix seconds.
    pub expires: u64,
}

impl Signed<'_> {
    fn message(&self) -> String {
        let (ct, len) = self.upload.unwrap_or(("", 0));
        format!("{}\n{}\n{ct}\n{len}\n{}", self.method, self.key, self.expires)
    }
}

impl UrlSigner {
    /// A signer with a fresh key; URLs are valid only on this process.
    pub fn new(origin: &str) -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random number generator failed");
        Self { key, origin: origin.trim_end_matches('/').to_owned() }
    }

    fn mac(&self, what: &Signed<'_>) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(what.message().as_bytes());
        mac
    }

    /// The full URL for `what`.
    pub fn url(&self, what: &Signed<'_>) -> String {
        let sig = hex::encode(self.mac(what).finalize().into_bytes());
        let mut url = format!("{}{BLOB_PATH}/{}?exp={}&sig={sig}", self.origin, what.key, what.expires);
        if let Some((ct, len)) = what.upload {
            let ct: String = url::form_urlencoded::byte_serialize(ct.as_bytes()).collect();
            url.push_str(&format!("&ct={ct}&len={len}"));
        }
        url
    }

    /// Checks a signature (constant time) and the expiry.
    pub fn verify(&self, what: &Signed<'_>, sig_hex: &str) -> bool {
        let Ok(sig) = hex::decode(sig_hex) else { return false };
        what.expires >= unix_now() && self.mac(what).verify_slice(&sig).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(expires: u64) -> Signed<'static> {
        Signed { method: "PUT", key: "s/i", upload: Some(("image/jpeg", 10)), expires }
    }

    #[test]
    fn signatures_cover_every_field() {
        let s = UrlSigner::new("http://x");
        let exp = unix_now() + 60;
        let url = s.url(&upload(exp));
        let sig = url.split("sig=").nth(1).unwrap().split('&').next().unwrap().to_owned();
        assert!(s.verify(&upload(exp), &sig));
        let other_len = Signed { upload: Some(("image/jpeg", 11)), ..upload(exp) };
        assert!(!s.verify(&other_len, &sig));
        let other_type = Signed { upload: Some(("image/png", 10)), ..upload(exp) };
        assert!(!s.verify(&other_type, &sig));
        assert!(!s.verify(&upload(exp + 1), &sig));
        assert!(!UrlSigner::new("http://x").verify(&upload(exp), &sig), "another process's key");
    }

    #[test]
    fn expired_urls_fail() {
        let s = UrlSigner::new("http://x");
        let past = unix_now() - 1;
        let url = s.url(&upload(past));
        let sig = url.split("sig=").nth(1).unwrap().split('&').next().unwrap().to_owned();
        assert!(!s.verify(&upload(past), &sig));
    }
}
