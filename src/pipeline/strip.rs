//! Metadata on JPEG bytes: find it, strip it, and read the frame size.
//!
//! Stripping keeps only what decoding needs: APP0 (JFIF) and APP2 ICC
//! profiles (colour). EXIF (APP1, with GPS and maker notes), XMP, MPF, other
//! APPn segments and comments are removed, before the first scan and between
//! scans. Image data is copied untouched, up to and including the end-of-image
//! marker: anything after it (a "motion photo" video, an MPF secondary
//! image, a trailer) is cut.

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

/// From the first start of scan to the end of the image: the byte ranges
/// to keep (scans with their entropy-coded data, kept segments between
/// scans, EOI), whether anything was dropped on the way, and where the image
/// ends. A file cut short keeps what it has. `None` if malformed.
fn body(jpeg: &[u8], mut i: usize) -> Option<(Vec<std::ops::Range<usize>>, bool, usize)> {
    let mut out = Vec::new();
    let mut dropped = false;
    loop {
        if i >= jpeg.len() {
            return Some((out, dropped, jpeg.len())); // no EOI: truncated
        }
        if jpeg[i] != 0xFF {
            return None;
        }
        let Some(&marker) = jpeg.get(i + 1) else { return Some((out, dropped, jpeg.len())) };
        match marker {
            0xD9 => {
                out.push(i..i + 2);
                return Some((out, dropped, i + 2));
            }
            0xFF => i += 1, // fill byte
            0x01 | 0xD0..=0xD7 => {
                out.push(i..i + 2);
                i += 2;
            }
            _ => {
                let len = u16::from_be_bytes([*jpeg.get(i + 2)?, *jpeg.get(i + 3)?]) as usize;
                let end = i.checked_add(2 + len)?;
                if len < 2 || end > jpeg.len() {
                    return None;
                }
                if marker == 0xDA {
                    // Entropy-coded data runs to the next marker that is
                    // neither a stuffed zero nor a restart.
                    let mut j = end;
                    while j < jpeg.len() {
                        if jpeg[j] == 0xFF {
                            match jpeg.get(j + 1) {
                                Some(0x00 | 0xD0..=0xD7) => j += 2,
                                Some(_) => break,
                                None => j += 1,
                            }
                        } else {
                            j += 1;
                        }
                    }
                    out.push(i..j.min(jpeg.len()));
                    i = j;
                } else {
                    if keep(marker, &jpeg[i + 4..end]) {
                        out.push(i..end);
                    } else {
                        dropped = true;
                    }
                    i = end;
                }
            }
        }
    }
}

/// Whether the JPEG carries anything [`strip`] would remove: a metadata
/// segment anywhere, or bytes after the end of the image.
pub fn has_metadata(jpeg: &[u8]) -> bool {
    let Some((segs, scan)) = segments(jpeg) else { return true };
    if segs.iter().any(|(m, r)| !keep(*m, &jpeg[r.clone()])) {
        return true;
    }
    body(jpeg, scan).is_none_or(|(_, dropped, end)| dropped || end < jpeg.len())
}

/// The JPEG without metadata or trailer; `None` if it is malformed.
pub fn strip(jpeg: &[u8]) -> Option<Vec<u8>> {
    let (segs, scan) = segments(jpeg)?;
    let (chunks, _, _) = body(jpeg, scan)?;
    let mut out = Vec::with_capacity(jpeg.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    for (marker, body) in segs {
        if keep(marker, &jpeg[body.clone()]) {
            out.extend_from_slice(&jpeg[body.start - 4..body.end]);
        }
    }
    for chunk in chunks {
        out.extend_from_slice(&jpeg[chunk]);
    }
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
    fn a_motion_photo_trailer_and_an_mpf_secondary_image_are_cut() {
        let primary = camera_jpeg();
        // Samsung and Pixel "motion photos" append an MP4 after EOI.
        let mut motion = primary.clone();
        motion.extend_from_slice(b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom");
        motion.extend_from_slice(&[0x47; 4096]);
        // MPF: an APP2 index, and a second JPEG (a preview) after the first.
        let mut mpf = primary[..2].to_vec();
        mpf.extend_from_slice(&segment(0xE2, b"MPF\0MM\0*\0\0\0\x08"));
        mpf.extend_from_slice(&primary[2..]);
        mpf.extend_from_slice(&camera_jpeg());
        for jpeg in [motion, mpf] {
            assert!(has_metadata(&jpeg));
            let clean = strip(&jpeg).unwrap();
            assert!(!has_metadata(&clean));
            assert!(clean.ends_with(&[0xFF, 0xD9]));
            assert!(!clean.windows(4).any(|w| w == b"ftyp" || w == b"MPF\0"));
            assert_eq!(clean.windows(2).filter(|w| *w == [0xFF, 0xD8]).count(), 1, "one image");
            assert_eq!(clean, strip(&primary).unwrap(), "exactly the primary image, stripped");
        }
    }

    #[test]
    fn progressive_scans_are_kept_with_their_tables_and_markers_inside_data_are_not_ends() {
        let mut jpeg = camera_jpeg();
        jpeg.truncate(jpeg.len() - 2); // drop EOI
                                       // A DHT between scans, a comment between scans (dropped), a second
                                       // scan with a restart marker and a stuffed 0xFF in its data.
        jpeg.extend_from_slice(&segment(0xC4, &[0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]));
        jpeg.extend_from_slice(&segment(0xFE, b"between scans"));
        jpeg.extend_from_slice(&segment(0xDA, &[1, 1, 0, 1, 63, 0]));
        jpeg.extend_from_slice(&[0x01, 0xFF, 0x00, 0x02, 0xFF, 0xD3, 0x03, 0xFF, 0xD9]);
        let clean = strip(&jpeg).unwrap();
        assert!(clean.ends_with(&[0x01, 0xFF, 0x00, 0x02, 0xFF, 0xD3, 0x03, 0xFF, 0xD9]));
        assert!(clean.windows(2).any(|w| w == [0xFF, 0xC4]), "tables between scans kept");
        assert!(!clean.windows(13).any(|w| w == b"between scans"));
        assert!(!has_metadata(&clean));
    }

    #[test]
    fn malformed_headers_are_refused() {
        assert!(strip(b"not a jpeg").is_none());
        assert!(strip(&[0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF]).is_none());
    }
}
