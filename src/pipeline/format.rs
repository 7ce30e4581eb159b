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

#[cfg(test)]
mod tests {
    use super::*;

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
}
