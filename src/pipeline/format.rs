//! What a file is, from its first bytes, with a specific reason when it is
//! not an image the pipeline takes.

/// Image formats the pipeline accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    Jpeg,
    Png,
    WebP,
    /// HEIC or HEIF (ISO-BMFF with an image brand).
    Heif,
}

impl SourceFormat {
    pub fn name(self) -> &'static str {
        match self {
            SourceFormat::Jpeg => "jpeg",
            SourceFormat::Png => "png",
            SourceFormat::WebP => "webp",
            SourceFormat::Heif => "heif",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            SourceFormat::Jpeg => "image/jpeg",
            SourceFormat::Png => "image/png",
            SourceFormat::WebP => "image/webp",
            SourceFormat::Heif => "image/heif",
        }
    }
}

/// Why a file was refused, in words for the person who chose it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("This is a PDF document, not a photo.")]
    Pdf,
    #[error("This file is empty.")]
    Empty,
    #[error("This file type is not supported. Use a JPEG, PNG, WebP or HEIC photo.")]
    Unsupported,
    #[error("This photo is incomplete (the file ends early). Copy or export it again.")]
    Truncated,
}

const HEIF_BRANDS: [&[u8; 4]; 8] = [b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"];

/// Whether a file's first bytes (12 are enough) are a HEIC/HEIF's: the
/// page uses it to keep HEIC decodes, which need the full image in memory,
/// to one at a time across the pipeline's workers.
pub fn is_heif_head(head: &[u8]) -> bool {
    detect(head) == Ok(SourceFormat::Heif)
}

/// Detects the format, and catches truncated JPEG and PNG files cheaply.
pub fn detect(bytes: &[u8]) -> Result<SourceFormat, FormatError> {
    match bytes {
        [] => Err(FormatError::Empty),
        [0xFF, 0xD8, 0xFF, ..] => {
            // A complete JPEG ends with EOI (some cameras pad after it).
            let tail = &bytes[bytes.len().saturating_sub(64)..];
            if tail.windows(2).any(|w| w == [0xFF, 0xD9]) {
                Ok(SourceFormat::Jpeg)
            } else {
                Err(FormatError::Truncated)
            }
        }
        [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n', ..] => {
            if bytes.len() >= 12 && &bytes[bytes.len() - 8..bytes.len() - 4] == b"IEND" {
                Ok(SourceFormat::Png)
            } else {
                Err(FormatError::Truncated)
            }
        }
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Ok(SourceFormat::WebP),
        [_, _, _, _, b'f', b't', b'y', b'p', b0, b1, b2, b3, ..] => {
            let brand = [*b0, *b1, *b2, *b3];
            if HEIF_BRANDS.iter().any(|b| **b == brand) {
                Ok(SourceFormat::Heif)
            } else {
                Err(FormatError::Unsupported)
            }
        }
        [b'%', b'P', b'D', b'F', ..] => Err(FormatError::Pdf),
        _ => Err(FormatError::Unsupported),
    }
}

/// Width and height from a PNG, WebP or JPEG header, without decoding.
/// HEIF sizes come from its decoder.
pub fn dimensions(bytes: &[u8], format: SourceFormat) -> Option<(u32, u32)> {
    let be = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    let le16 = |at: usize| Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?) as u32);
    let le24 = |at: usize| {
        let b = bytes.get(at..at + 3)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], 0]))
    };
    match format {
        SourceFormat::Jpeg => super::strip::dimensions(bytes),
        SourceFormat::Png if bytes.get(12..16) == Some(b"IHDR") => Some((be(16)?, be(20)?)),
        SourceFormat::WebP => match bytes.get(12..16)? {
            b"VP8 " if bytes.get(23..26) == Some(&[0x9D, 0x01, 0x2A]) => {
                Some((le16(26)? & 0x3FFF, le16(28)? & 0x3FFF))
            }
            b"VP8L" if bytes.get(20) == Some(&0x2F) => {
                let bits = u32::from_le_bytes(bytes.get(21..25)?.try_into().ok()?);
                Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
            }
            b"VP8X" => Some((le24(24)? + 1, le24(27)? + 1)),
            _ => None,
        },
        _ => None,
    }
    .filter(|&(w, h)| w > 0 && h > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heif_head_needs_an_image_brand_in_the_first_box() {
        assert!(is_heif_head(b"\0\0\0\x18ftypheic"));
        assert!(is_heif_head(b"\0\0\0\x18ftypmif1\0\0\0\0"));
        assert!(!is_heif_head(b"\0\0\0\x18ftypmp42"));
        assert!(!is_heif_head(b"\0\0\0\x18ftyp"));
        assert!(!is_heif_head(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 1]));
        assert!(!is_heif_head(b""));
    }

    #[test]
    fn recognises_formats_and_says_why_not() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 0xFF, 0xD9];
        assert_eq!(detect(&jpeg), Ok(SourceFormat::Jpeg));
        assert_eq!(detect(&jpeg[..6]), Err(FormatError::Truncated));
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(b"\0\0\0\0IEND\xAE\x42\x60\x82");
        assert_eq!(detect(&png), Ok(SourceFormat::Png));
        assert_eq!(detect(&png[..12]), Err(FormatError::Truncated));
        assert_eq!(detect(b"RIFF\0\0\0\0WEBPVP8 "), Ok(SourceFormat::WebP));
        assert_eq!(detect(b"\0\0\0\x18ftypheic\0\0\0\0"), Ok(SourceFormat::Heif));
        assert_eq!(detect(b"\0\0\0\x18ftypmp42\0\0\0\0"), Err(FormatError::Unsupported));
        assert_eq!(detect(b"%PDF-1.7"), Err(FormatError::Pdf));
        assert_eq!(detect(b""), Err(FormatError::Empty));
        assert_eq!(detect(b"GIF89a"), Err(FormatError::Unsupported));
    }

    #[test]
    fn reads_sizes_from_headers() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&640u32.to_be_bytes());
        png.extend_from_slice(&480u32.to_be_bytes());
        assert_eq!(dimensions(&png, SourceFormat::Png), Some((640, 480)));

        let mut lossy = b"RIFF\0\0\0\0WEBPVP8 \0\0\0\0\0\0\0\x9d\x01\x2a".to_vec();
        lossy.extend_from_slice(&[0x00, 0x0A, 0x80, 0x07]); // 2560 × 1920
        assert_eq!(dimensions(&lossy, SourceFormat::WebP), Some((2560, 1920)));

        let mut lossless = b"RIFF\0\0\0\0WEBPVP8L\0\0\0\0\x2f".to_vec();
        let bits: u32 = 99 | (49 << 14); // 100 × 50
        lossless.extend_from_slice(&bits.to_le_bytes());
        assert_eq!(dimensions(&lossless, SourceFormat::WebP), Some((100, 50)));

        let mut extended = b"RIFF\0\0\0\0WEBPVP8X\0\0\0\0\0\0\0\0".to_vec();
        extended.extend_from_slice(&[0xFF, 0x0F, 0x00, 0xBF, 0x0B, 0x00]); // 4096 × 3008
        assert_eq!(dimensions(&extended, SourceFormat::WebP), Some((4096, 3008)));

        assert_eq!(dimensions(b"RIFF", SourceFormat::WebP), None);
    }
}
