//! Checks that uploaded bytes are the image they claim to be: magic bytes,
//! then a decodable header (dimensions) within the pixel bound; a HEIC is
//! parsed and decoded by `heifer`, since its container can claim anything.
//! Every decode on the server is bounded ([`limits`]). Runs on the blocking pool.

use std::io::Cursor;

use crate::server::support::decode::{limits, within, DecodeError};

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
    #[error("image of {pixels} pixels is over the bound of {max}")]
    TooManyPixels { pixels: u64, max: u64 },
}

impl From<DecodeError> for VerifyError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Undecodable(why) => VerifyError::Undecodable(why),
            DecodeError::TooManyPixels { pixels, max } => VerifyError::TooManyPixels { pixels, max },
        }
    }
}

/// HEIF brands in the `ftyp` box that mean "still image".
const HEIF_BRANDS: [&[u8; 4]; 8] = [b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"];

fn is_heif(bytes: &[u8]) -> bool {
    bytes.len() >= 12 && &bytes[4..8] == b"ftyp" && HEIF_BRANDS.iter().any(|b| &bytes[8..12] == *b)
}

/// Parses the HEIF container and decodes its primary image (bounded), so a
/// file that only starts like a HEIC is refused.
fn heif_dimensions(bytes: &[u8], max_pixels: u64) -> Result<(u32, u32), VerifyError> {
    let options = heifer::Options { max_threads: 1, max_pixels };
    match heifer::decode_srgb_rgba8(bytes, &options) {
        Ok(image) => {
            within(image.width, image.height, max_pixels)?;
            Ok((image.width, image.height))
        }
        Err(heifer::Error::Invalid(why)) if why.contains("too large") => {
            Err(VerifyError::TooManyPixels { pixels: max_pixels.saturating_add(1), max: max_pixels })
        }
        Err(e) => Err(VerifyError::Undecodable(format!("HEIF: {e}"))),
    }
}

/// Verifies `bytes` against the declared content type, refusing images of
/// more than `max_pixels`.
pub fn inspect(bytes: &[u8], declared: &str, max_pixels: u64) -> Result<Inspected, VerifyError> {
    let wrong = || VerifyError::WrongType { declared: declared.to_owned() };
    if declared == "image/heic" || declared == "image/heif" {
        if !is_heif(bytes) {
            return Err(wrong());
        }
        let (w, h) = heif_dimensions(bytes, max_pixels)?;
        return Ok(Inspected { width: Some(w), height: Some(h) });
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
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), expected);
    reader.limits(limits(max_pixels));
    let (w, h) = reader.into_dimensions().map_err(|e| VerifyError::Undecodable(e.to_string()))?;
    within(w, h, max_pixels)?;
    Ok(Inspected { width: Some(w), height: Some(h) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::support::decode::decode_bounded;

    const MAX: u64 = 10_000_000;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::RgbImage::new(w, h).write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
        out
    }

    #[test]
    fn accepts_a_real_png_and_reads_its_size() {
        let got = inspect(&png(7, 5), "image/png", MAX).unwrap();
        assert_eq!(got, Inspected { width: Some(7), height: Some(5) });
    }

    #[test]
    fn refuses_a_mislabelled_or_fake_image() {
        assert!(matches!(inspect(&png(2, 2), "image/jpeg", MAX), Err(VerifyError::WrongType { .. })));
        assert!(matches!(
            inspect(b"%PDF-1.7 not an image", "image/jpeg", MAX),
            Err(VerifyError::WrongType { .. })
        ));
        // JPEG magic, then garbage: the header does not decode.
        let fake = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(inspect(&fake, "image/jpeg", MAX), Err(VerifyError::Undecodable(_))));
        assert!(inspect(&png(2, 2), "application/pdf", MAX).is_err());
    }

    #[test]
    fn a_file_that_only_starts_like_a_heic_is_refused() {
        // The first 12 bytes and an `ispe` box are all the old check read.
        let mut heic = vec![0, 0, 0, 24];
        heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
        heic.extend_from_slice(b"....ispe\0\0\0\0");
        heic.extend_from_slice(&4032u32.to_be_bytes());
        heic.extend_from_slice(&3024u32.to_be_bytes());
        heic.extend_from_slice(&[0x5A; 4096]);
        assert!(matches!(inspect(&heic, "image/heic", MAX), Err(VerifyError::Undecodable(_))));
        assert!(inspect(&png(2, 2), "image/heic", MAX).is_err());
    }

    #[test]
    fn images_over_the_pixel_bound_are_refused_from_their_header() {
        // A PNG header claiming 30000 × 30000 over a few bytes of data: the
        // bound is checked before anything is allocated.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&30_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&30_000u32.to_be_bytes());
        let refused = inspect(&bomb, "image/png", MAX);
        assert!(
            matches!(refused, Err(VerifyError::TooManyPixels { .. }) | Err(VerifyError::Undecodable(_))),
            "{refused:?}"
        );
        assert!(matches!(
            inspect(&png(4000, 3000), "image/png", MAX),
            Err(VerifyError::TooManyPixels { .. })
        ));
        assert!(inspect(&png(3000, 3000), "image/png", MAX).is_ok());
        assert!(decode_bounded(&bomb, MAX).is_err());
    }
}
