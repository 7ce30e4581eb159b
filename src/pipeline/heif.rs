//! HEIC/HEIF decoding in pure Rust (`heifer`), for browsers without a native
//! HEIC decoder (Chromium, Firefox) and for the native reference path.
//!
//! Chosen by measurement (BENCHMARKS.md, "HEIC decoder"): `heifer` matched
//! libheif on real iPhone, Xiaomi and Galaxy photos; `heic-rs` decoded them
//! with wrong contrast. The decoder applies the HEIF transforms (`clap`,
//! `irot`, `imir`) itself, so its pixels are upright: the EXIF orientation in
//! a HEIC is informational and must not be applied again.

use super::PipelineError;

/// Largest HEIF decoded in WASM, in pixels (4 bytes each). A 48 MP photo
/// fits; a 200 MP one is refused with a clear message instead of exhausting
/// a phone's memory.
pub const MAX_PIXELS: u64 = 64_000_000;

/// Upright 8-bit sRGB pixels.
pub struct Rgba {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

/// Decodes the primary image, converting Display P3 (iPhone) to sRGB, since
/// the output JPEG carries no colour profile.
pub fn decode_rgba(bytes: &[u8]) -> Result<Rgba, PipelineError> {
    let options = heifer::Options { max_threads: 1, max_pixels: MAX_PIXELS };
    match heifer::decode_srgb_rgba8(bytes, &options) {
        Ok(image) => Ok(Rgba { width: image.width, height: image.height, rgba: image.data }),
        Err(heifer::Error::Invalid(why)) if why.contains("too large") => Err(PipelineError::TooLarge),
        Err(_) => Err(PipelineError::HeifUndecodable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_and_foreign_input_is_refused_without_panicking() {
        assert!(matches!(decode_rgba(b""), Err(PipelineError::HeifUndecodable)));
        let mut fake = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
        fake.extend_from_slice(&[0xAB; 512]);
        assert!(matches!(decode_rgba(&fake), Err(PipelineError::HeifUndecodable)));
    }
}
