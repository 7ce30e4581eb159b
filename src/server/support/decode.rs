//! Decoding untrusted image bytes within a pixel bound: every decode on the
//! server goes through here (uploads, scans, earlier photos from ALEX).

use std::io::Cursor;

/// Why bytes could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("image header cannot be decoded: {0}")]
    Undecodable(String),
    #[error("image of {pixels} pixels is over the bound of {max}")]
    TooManyPixels { pixels: u64, max: u64 },
}

/// Decoder limits for an image of at most `max_pixels`: dimensions, and
/// memory for the pixels at 4 bytes each plus the decoder's own buffers.
pub fn limits(max_pixels: u64) -> image::Limits {
    let mut limits = image::Limits::default();
    let edge = u32::try_from(max_pixels).unwrap_or(u32::MAX);
    limits.max_image_width = Some(edge);
    limits.max_image_height = Some(edge);
    limits.max_alloc = Some(max_pixels.saturating_mul(4).saturating_add(16 << 20));
    limits
}

/// Decodes any raster the `image` build reads (not HEIC) within [`limits`],
/// refusing from its header an image of more than `max_pixels`.
pub fn decode_bounded(bytes: &[u8], max_pixels: u64) -> Result<image::DynamicImage, DecodeError> {
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DecodeError::Undecodable(e.to_string()))?;
    reader.limits(limits(max_pixels));
    let (w, h) = reader.into_dimensions().map_err(|e| DecodeError::Undecodable(e.to_string()))?;
    within(w, h, max_pixels)?;
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DecodeError::Undecodable(e.to_string()))?;
    reader.limits(limits(max_pixels));
    reader.decode().map_err(|e| DecodeError::Undecodable(e.to_string()))
}

/// Refuses a `w`×`h` image of more than `max_pixels`.
pub fn within(w: u32, h: u32, max_pixels: u64) -> Result<(), DecodeError> {
    let pixels = u64::from(w) * u64::from(h);
    if pixels > max_pixels {
        return Err(DecodeError::TooManyPixels { pixels, max: max_pixels });
    }
    Ok(())
}
