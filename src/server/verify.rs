//! Checks that uploaded bytes are the image they claim to be: magic bytes,
//! then a decodable header (dimensions). Runs on the blocking pool.

use std::io::Cursor;

/// The image types the app accepts, as declared by clients.
pub const ACCEPTED_TYPES: [&str; 5] = ["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"];

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inspected {
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// Why bytes were refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("content does not match the declared type {declared}")]
    WrongType { declared: String },
    #[error("image header cannot be decoded: {0}")]
    Undecodable(String),
}

/// HEIF brands in the `ftyp` box that mean "still image".
const HEIF_BRANDS: [&[u8; 4]; 8] = [b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"];

fn is_heif(bytes: &[u8]) -> bool {
    bytes.len() >= 12 && &bytes[4..8] == b"ftyp" && HEIF_BRANDS.iter().any(|b| &bytes[8..12] == *b)
}

/// Reads the first `ispe` (image spatial extents) property: width, height.
fn heif_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let at = bytes.windows(4).position(|w| w == b"ispe")?;
    // 'ispe' + version/flags (4) + width (4) + height (4)
    let body = bytes.get(at + 8..at + 16)?;
    let w = u32::from_be_bytes(body[0..4].try_into().ok()?);
    let h = u32::from_be_bytes(body[4..8].try_into().ok()?);
    (w > 0 && h > 0).then_some((w, h))
}

/// Verifies `bytes` against the declared content type.
pub fn inspect(bytes: &[u8], declared: &str) -> Result<Inspected, VerifyError> {
    let wrong = || VerifyError::WrongType { declared: declared.to_owned() };
    if declared == "image/heic" || declared == "image/heif" {
        if !is_heif(bytes) {
            return Err(wrong());
        }
        let dims = heif_dimensions(bytes);
        return Ok(Inspected { width: dims.map(|d| d.0), height: dims.map(|d| d.1) });
    }
    let expected = match declared {
        "image/jpeg" => image::ImageFormat::Jpeg,
        "image/png" => image::ImageFormat::Png,
        "image/webp" => image::ImageFormat::WebP,
        _ => return Err(wrong()),
    };
    if image::guess_format(bytes).ok() != Some(expected) {
        return Err(wrong());
    }
    let reader = image::ImageReader::with_format(Cursor::new(bytes), expected);
    let (w, h) = reader.into_dimensions().map_err(|e| VerifyError::Undecodable(e.to_string()))?;
    Ok(Inspected { width: Some(w), height: Some(h) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::RgbImage::new(w, h).write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
        out
    }

    #[test]
    fn accepts_a_real_png_and_reads_its_size() {
        let got = inspect(&png(7, 5), "image/png").unwrap();
        assert_eq!(got, Inspected { width: Some(7), height: Some(5) });
    }

    #[test]
    fn refuses_a_mislabelled_or_fake_image() {
        assert!(matches!(inspect(&png(2, 2), "image/jpeg"), Err(VerifyError::WrongType { .. })));
        assert!(matches!(
            inspect(b"%PDF-1.7 not an image", "image/jpeg"),
            Err(VerifyError::WrongType { .. })
        ));
        // JPEG magic, then garbage: the header does not decode.
        let fake = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(inspect(&fake, "image/jpeg"), Err(VerifyError::Undecodable(_))));
        assert!(inspect(&png(2, 2), "application/pdf").is_err());
    }

    #[test]
    fn recognises_heic_by_its_ftyp_box() {
        let mut heic = vec![0, 0, 0, 24];
        heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
        heic.extend_from_slice(b"....ispe\0\0\0\0");
        heic.extend_from_slice(&4032u32.to_be_bytes());
        heic.extend_from_slice(&3024u32.to_be_bytes());
        assert_eq!(
            inspect(&heic, "image/heic").unwrap(),
            Inspected { width: Some(4032), height: Some(3024) }
        );
        assert!(inspect(&png(2, 2), "image/heic").is_err());
    }
}
