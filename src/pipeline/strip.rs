//! Metadata on JPEG bytes: find it, strip it, and read the frame size.
//!
//! Stripping keeps only what decoding needs: APP0 (JFIF) and APP2 ICC
//! profiles (colour). EXIF (APP1, with GPS and maker notes), XMP, other APPn
//! segments and comments are removed. Image data is copied untouched.

/// Segments that carry no metadata worth keeping are dropped; see module doc.
fn keep(marker: u8, body: &[u8]) -> bool {
    match marker {
        0xE0 => body.starts_with(b"JFIF\0"),
        0xE2 => body.starts_with(b"ICC_PROFILE\0"),
        0xE1 | 0xE3..=0xEF | 0xFE => false,
        _ => true,
    }
}

/// A header segment: its marker and where its body lies.
type Segment = (u8, std::ops::Range<usize>);

/// Walks the header segments until start of scan; also returns where the scan begins.
fn segments(jpeg: &[u8]) -> Option<(Vec<Segment>, usize)> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut out = Vec::new();
    let mut i = 2;
    loop {
        if jpeg.get(i) != Some(&0xFF) {
            return None;
        }
        let marker = *jpeg.get(i + 1)?;
        if marker == 0xDA {
            return Some((out, i));
        }
        let len = u16::from_be_bytes([*jpeg.get(i + 2)?, *jpeg.get(i + 3)?]) as usize;
        if len < 2 || i + 2 + len > jpeg.len() {
            return None;
        }
        out.push((marker, i + 4..i + 2 + len));
        i += 2 + len;
    }
}

/// Whether the JPEG carries any segment [`strip`] would remove.
pub fn has_metadata(jpeg: &[u8]) -> bool {
    segments(jpeg).is_none_or(|(segs, _)| segs.iter().any(|(m, r)| !keep(*m, &jpeg[r.clone()])))
}

/// The JPEG without metadata; `None` if its header is malformed.
pub fn strip(jpeg: &[u8]) -> Option<Vec<u8>> {
    let (segs, scan) = segments(jpeg)?;
    let mut out = Vec::with_capacity(jpeg.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    for (marker, body) in segs {
        if keep(marker, &jpeg[body.clone()]) {
            out.extend_from_slice(&jpeg[body.start - 4..body.end]);
        }
    }
    out.extend_from_slice(&jpeg[scan..]);
    Some(out)
}

/// Width and height from the frame header (SOF0–SOF15, not DHT/JPG/DAC).
pub fn dimensions(jpeg: &[u8]) -> Option<(u32, u32)> {
    let (segs, _) = segments(jpeg)?;
    segs.iter().find(|(m, _)| matches!(m, 0xC0..=0xCF) && !matches!(m, 0xC4 | 0xC8 | 0xCC)).and_then(
        |(_, r)| {
            let b = jpeg.get(r.start..r.start + 5)?;
            Some((u16::from_be_bytes([b[3], b[4]]) as u32, u16::from_be_bytes([b[1], b[2]]) as u32))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::exif::{jpeg_exif, parse};

    fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(body);
        s
    }

    /// SOI, JFIF, EXIF with GPS, XMP, ICC, a comment, SOF0 640×480, SOS, data, EOI.
    fn camera_jpeg() -> Vec<u8> {
        let exif = crate::pipeline::exif::tests::sample_exif(6, true);
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&exif);
        [
            vec![0xFF, 0xD8],
            segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"),
            segment(0xE1, &app1),
            segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>"),
            segment(0xE2, b"ICC_PROFILE\0\x01\x01profile"),
            segment(0xFE, b"taken at 12 Example St"),
            segment(0xC0, &[8, 0x01, 0xE0, 0x02, 0x80, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]),
            segment(0xDA, &[3, 1, 0, 2, 0x11, 3, 0x11, 0, 0x3F, 0]),
            vec![0x12, 0x34, 0xFF, 0x00, 0x56],
            vec![0xFF, 0xD9],
        ]
        .concat()
    }

    #[test]
    fn strips_exif_gps_xmp_and_comments_but_keeps_pixels_and_colour() {
        let jpeg = camera_jpeg();
        assert!(has_metadata(&jpeg));
        assert!(parse(jpeg_exif(&jpeg).unwrap()).has_gps);
        let clean = strip(&jpeg).unwrap();
        assert!(!has_metadata(&clean));
        assert!(jpeg_exif(&clean).is_none(), "no EXIF, so no GPS");
        assert!(!clean.windows(9).any(|w| w == b"xmpmeta/>"));
        assert!(!clean.windows(10).any(|w| w == b"Example St"));
        assert!(clean.windows(11).any(|w| w == b"ICC_PROFILE"), "colour profile kept");
        assert!(clean.ends_with(&[0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD9]), "scan data untouched");
        assert_eq!(dimensions(&clean), Some((640, 480)));
    }

    #[test]
    fn malformed_headers_are_refused() {
        assert!(strip(b"not a jpeg").is_none());
        assert!(strip(&[0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF]).is_none());
    }
}
