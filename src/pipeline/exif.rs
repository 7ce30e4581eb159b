//! Reads what the pipeline needs from a JPEG's EXIF: orientation, capture
//! time, and whether it carries GPS (which must never leave the phone).

/// What EXIF says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExifInfo {
    /// 1–8; 1 means upright.
    pub orientation: Option<u16>,
    /// `DateTimeOriginal` as written (`YYYY:MM:DD HH:MM:SS`, camera-local time).
    pub captured: Option<String>,
    pub has_gps: bool,
}

/// Finds the EXIF payload (after `Exif\0\0`) in a JPEG's APP1 segments.
pub fn jpeg_exif(jpeg: &[u8]) -> Option<&[u8]> {
    let mut i: usize = 2;
    while i.checked_add(4).is_some_and(|end| end <= jpeg.len()) && jpeg[i] == 0xFF {
        let marker = jpeg[i + 1];
        if marker == 0xDA || marker == 0xD9 {
            return None; // start of scan: no metadata beyond here
        }
        let len = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
        let end = i.checked_add(2)?.checked_add(len)?;
        let body = jpeg.get(i.checked_add(4)?..end)?;
        if marker == 0xE1 && body.starts_with(b"Exif\0\0") {
            return Some(&body[6..]);
        }
        i = end;
    }
    None
}

struct Tiff<'a> {
    data: &'a [u8],
    little: bool,
}

/// `base + add`, or `None` where it would overflow (offsets are 32-bit file
/// values, and `usize` is 32 bits on wasm32).
fn at(base: usize, add: usize) -> Option<usize> {
    base.checked_add(add)
}

impl Tiff<'_> {
    fn u16(&self, at_: usize) -> Option<u16> {
        let b = self.data.get(at_..at(at_, 2)?)?;
        Some(if self.little { u16::from_le_bytes([b[0], b[1]]) } else { u16::from_be_bytes([b[0], b[1]]) })
    }

    fn u32(&self, at_: usize) -> Option<u32> {
        let b = self.data.get(at_..at(at_, 4)?)?;
        let a = [b[0], b[1], b[2], b[3]];
        Some(if self.little { u32::from_le_bytes(a) } else { u32::from_be_bytes(a) })
    }

    /// Entries of the IFD at `offset`: (tag, type, count, value-or-offset field position).
    fn entries(&self, offset: usize) -> Vec<(u16, u16, u32, usize)> {
        let Some(n) = self.u16(offset) else { return Vec::new() };
        (0..n as usize)
            .filter_map(|k| {
                let e = at(offset, 2)?.checked_add(k.checked_mul(12)?)?;
                Some((self.u16(e)?, self.u16(at(e, 2)?)?, self.u32(at(e, 4)?)?, at(e, 8)?))
            })
            .collect()
    }
}

/// Parses a TIFF-structured EXIF payload. Malformed data yields what could be read.
pub fn parse(exif: &[u8]) -> ExifInfo {
    let little = match exif.get(..4) {
        Some(b"II*\0") => true,
        Some(b"MM\0*") => false,
        _ => return ExifInfo::default(),
    };
    let t = Tiff { data: exif, little };
    let mut info = ExifInfo::default();
    let Some(ifd0) = t.u32(4) else { return info };
    for (tag, _, _, field) in t.entries(usize::try_from(ifd0).unwrap_or(usize::MAX)) {
        match tag {
            0x0112 => info.orientation = t.u16(field).filter(|o| (1..=8).contains(o)),
            0x8825 => info.has_gps = true,
            0x8769 => {
                let Some(sub) = t.u32(field) else { continue };
                for (tag, kind, count, field) in t.entries(usize::try_from(sub).unwrap_or(usize::MAX)) {
                    if tag == 0x9003 && kind == 2 && count >= 19 {
                        let start = usize::try_from(t.u32(field).unwrap_or(0)).unwrap_or(usize::MAX);
                        info.captured = at(start, 19)
                            .and_then(|end| exif.get(start..end))
                            .and_then(|s| std::str::from_utf8(s).ok())
                            .map(str::to_owned);
                    }
                }
            }
            _ => {}
        }
    }
    info
}

/// The parts of an EXIF time (`YYYY:MM:DD HH:MM:SS`, camera-local), checked
/// for range: year, month (1–12), day, hour, minute, second. EXIF has no time
/// zone; the browser applies its own when it turns this into an instant.
pub fn captured_parts(captured: &str) -> Option<[u32; 6]> {
    let b = captured.as_bytes();
    if b.len() < 19 || b[4] != b':' || b[7] != b':' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| captured.get(r)?.parse::<u32>().ok();
    let parts = [num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?];
    let [y, mo, d, h, mi, s] = parts;
    ((1900..=2200).contains(&y)
        && (1..=12).contains(&mo)
        && (1..=31).contains(&d)
        && h < 24
        && mi < 60
        && s < 61)
        .then_some(parts)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn capture_times_are_read_strictly() {
        assert_eq!(captured_parts("2026:11:20 09:15:00"), Some([2026, 11, 20, 9, 15, 0]));
        // Cameras with an unset clock write zeros or blanks: no capture time, not an error.
        assert_eq!(captured_parts("0000:00:00 00:00:00"), None);
        assert_eq!(captured_parts("    :  :     :  :  "), None);
        assert_eq!(captured_parts("2026-11-20T09:15:00"), None);
        assert_eq!(captured_parts("2026:13:20 09:15:00"), None);
    }

    /// A big-endian EXIF payload with orientation, a GPS pointer and DateTimeOriginal.
    pub fn sample_exif(orientation: u16, gps: bool) -> Vec<u8> {
        let mut t = b"MM\0*\0\0\0\x08".to_vec();
        let n: u16 = if gps { 3 } else { 2 };
        t.extend_from_slice(&n.to_be_bytes());
        let exif_ifd = 8 + 2 + 12 * n as u32 + 4;
        t.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1]);
        t.extend_from_slice(&orientation.to_be_bytes());
        t.extend_from_slice(&[0, 0]);
        t.extend_from_slice(&[0x87, 0x69, 0, 4, 0, 0, 0, 1]);
        t.extend_from_slice(&exif_ifd.to_be_bytes());
        if gps {
            t.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0]);
        }
        t.extend_from_slice(&[0, 0, 0, 0]);
        let date_at = exif_ifd + 2 + 12 + 4;
        t.extend_from_slice(&1u16.to_be_bytes());
        t.extend_from_slice(&[0x90, 0x03, 0, 2, 0, 0, 0, 20]);
        t.extend_from_slice(&date_at.to_be_bytes());
        t.extend_from_slice(&[0, 0, 0, 0]);
        t.extend_from_slice(b"2026:11:20 09:15:00\0");
        t
    }

    /// Wraps an EXIF payload in a minimal JPEG (SOI, APP1, then `rest`).
    pub fn jpeg_with_exif(exif: &[u8], rest: &[u8]) -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8, 0xFF, 0xE1];
        j.extend_from_slice(&((exif.len() + 8) as u16).to_be_bytes());
        j.extend_from_slice(b"Exif\0\0");
        j.extend_from_slice(exif);
        j.extend_from_slice(rest);
        j
    }

    #[test]
    fn reads_orientation_capture_time_and_gps() {
        let jpeg = jpeg_with_exif(&sample_exif(6, true), &[0xFF, 0xD9]);
        let info = parse(jpeg_exif(&jpeg).unwrap());
        assert_eq!(info.orientation, Some(6));
        assert_eq!(info.captured.as_deref(), Some("2026:11:20 09:15:00"));
        assert!(info.has_gps);
        let plain = parse(&sample_exif(1, false));
        assert!(!plain.has_gps);
    }

    #[test]
    fn offsets_near_the_top_of_the_address_space_read_as_nothing() {
        // IFD0 at 0xFFFFFFF8: on wasm32, offset + 2 + 12k overflowed.
        let mut t = b"MM\0*\xFF\xFF\xFF\xF8".to_vec();
        t.extend_from_slice(&[0; 16]);
        assert_eq!(parse(&t), ExifInfo::default());
        // An EXIF sub-IFD and a date pointer at the very top.
        let mut t = b"MM\0*\0\0\0\x08\0\x01".to_vec();
        t.extend_from_slice(&[0x87, 0x69, 0, 4, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]);
        assert_eq!(parse(&t), ExifInfo::default());
        assert!(at(usize::MAX - 1, 2).is_none());
    }

    #[test]
    fn malformed_exif_reads_as_nothing() {
        assert_eq!(parse(b"garbage"), ExifInfo::default());
        assert_eq!(parse(b"MM\0*\xFF\xFF\xFF\xFF"), ExifInfo::default());
        assert!(jpeg_exif(&[0xFF, 0xD8, 0xFF, 0xDA, 0, 2]).is_none());
    }
}
