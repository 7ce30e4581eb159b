//! Removes metadata from a photo before it is filed, whatever the browser did:
//! EXIF (with its GPS position, times and camera serial numbers), XMP, IPTC,
//! comments, text chunks, embedded thumbnails, and anything after the end of
//! the image. What decides how the photo looks is kept: the compressed image
//! data untouched (nothing is re-encoded), ICC profiles, and the JFIF and
//! Adobe segments and PNG colour chunks. One pass with checked slicing: it
//! never panics and takes time linear in the input.

/// Why bytes could not be cleaned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StripError {
    /// The bytes are not a well-formed file of the declared type.
    #[error("malformed {0}")]
    Malformed(String),
    /// The declared type is not one this module can clean.
    #[error("cannot remove metadata from {0}")]
    Unsupported(String),
}

/// The bytes to file: `bytes` with every metadata segment removed.
/// `content_type` is one of image/jpeg, image/png and image/webp; any other
/// type (HEIC, say) is [`StripError::Unsupported`].
pub fn strip(content_type: &str, bytes: &[u8]) -> Result<Vec<u8>, StripError> {
    match content_type {
        "image/jpeg" => jpeg(bytes),
        "image/png" => png(bytes),
        "image/webp" => webp(bytes),
        other => Err(StripError::Unsupported(other.chars().take(64).collect())),
    }
}

fn malformed(format: &str, why: &str) -> StripError {
    StripError::Malformed(format!("{format}: {why}"))
}

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;

/// Walks the marker segments from SOI to the first EOI, copying those kept.
/// The entropy-coded data after each SOS (several in a progressive JPEG) runs
/// to the first 0xFF that is not stuffing (0xFF 0x00) or a restart marker.
fn jpeg(bytes: &[u8]) -> Result<Vec<u8>, StripError> {
    let bad = |why| malformed("JPEG", why);
    if bytes.get(..2) != Some(&[0xFF, SOI][..]) {
        return Err(bad("no start-of-image marker"));
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&[0xFF, SOI]);
    let mut pos = 2;
    let mut scanned = false;
    loop {
        match bytes.get(pos) {
            Some(0xFF) => {}
            Some(_) => return Err(bad("data where a marker was expected")),
            None => return Err(bad("no end-of-image marker")),
        }
        // Any number of 0xFF fill bytes may precede a marker; none are kept.
        while bytes.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *bytes.get(pos).ok_or_else(|| bad("no end-of-image marker"))?;
        pos += 1;
        match marker {
            EOI if scanned => {
                out.extend_from_slice(&[0xFF, EOI]);
                return Ok(out);
            }
            EOI => return Err(bad("no scan before the end-of-image marker")),
            // TEM and RSTn stand alone: no length follows.
            0x01 | 0xD0..=0xD7 => {
                out.extend_from_slice(&[0xFF, marker]);
                continue;
            }
            0x00 | SOI => return Err(bad("unexpected marker")),
            _ => {}
        }
        let length = bytes.get(pos..pos + 2).ok_or_else(|| bad("truncated segment"))?;
        let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
        let body = length
            .checked_sub(2)
            .and_then(|n| bytes.get(pos + 2..pos + 2 + n))
            .ok_or_else(|| bad("bad segment length"))?;
        pos += length;
        jpeg_segment(&mut out, marker, body);
        if marker == SOS {
            scanned = true;
            let start = pos;
            while let Some(&byte) = bytes.get(pos) {
                match (byte, bytes.get(pos + 1)) {
                    (0xFF, Some(0x00 | 0xD0..=0xD7)) => pos += 2,
                    (0xFF, _) => break,
                    _ => pos += 1,
                }
            }
            out.extend_from_slice(bytes.get(start..pos).ok_or_else(|| bad("truncated scan"))?);
        }
    }
}

/// Copies one segment to `out` unless it is metadata. APP0 is kept only for
/// JFIF (less any thumbnail), APP2 only for ICC_PROFILE, APP14 only for
/// Adobe (its transform flag says how the colour is decoded); every other
/// APPn (EXIF, XMP, extended XMP, MPF, IPTC, …) and COM are dropped. Frame,
/// table, scan and restart-interval segments are kept.
fn jpeg_segment(out: &mut Vec<u8>, marker: u8, body: &[u8]) {
    let mut write = |parts: &[&[u8]]| {
        let length = 2 + parts.iter().map(|p| p.len()).sum::<usize>();
        out.extend_from_slice(&[0xFF, marker]);
        // No longer than the segment read, so it fits in 16 bits.
        out.extend_from_slice(&u16::try_from(length).unwrap_or(u16::MAX).to_be_bytes());
        parts.iter().for_each(|p| out.extend_from_slice(p));
    };
    match marker {
        // Identifier, version, units and density; then a zero-sized thumbnail.
        0xE0 if body.starts_with(b"JFIF\0") => match body.get(..12) {
            Some(head) if body.len() >= 14 => write(&[head, &[0, 0]]),
            _ => write(&[body]),
        },
        0xE2 if body.starts_with(b"ICC_PROFILE\0") => write(&[body]),
        // Identifier, version, two flag words and the transform byte.
        0xEE if body.starts_with(b"Adobe") => write(&[body.get(..12).unwrap_or(body)]),
        0xE0..=0xEF | 0xFE => {}
        _ => write(&[body]),
    }
}

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// PNG chunks that carry metadata rather than the image or its colour.
const PNG_DROPPED: [&[u8; 4]; 5] = [b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"];

/// Walks the chunks from IHDR to IEND, copying all but [`PNG_DROPPED`].
/// The decoder checks the CRCs when the photo is read.
fn png(bytes: &[u8]) -> Result<Vec<u8>, StripError> {
    let bad = |why| malformed("PNG", why);
    if bytes.get(..8) != Some(&PNG_SIGNATURE[..]) {
        return Err(bad("no PNG signature"));
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&PNG_SIGNATURE);
    let mut pos = 8;
    loop {
        let header = bytes.get(pos..pos + 8).ok_or_else(|| bad("no IEND chunk"))?;
        let [l0, l1, l2, l3, k0, k1, k2, k3] =
            <[u8; 8]>::try_from(header).map_err(|_| bad("no IEND chunk"))?;
        let length = u32::from_be_bytes([l0, l1, l2, l3]);
        let kind = [k0, k1, k2, k3];
        if length > 0x7FFF_FFFF {
            return Err(bad("chunk length over 2^31 - 1"));
        }
        if !kind.iter().all(u8::is_ascii_alphabetic) {
            return Err(bad("chunk type is not four letters"));
        }
        if (pos == 8) != (&kind == b"IHDR") {
            return Err(bad("IHDR is not the first chunk"));
        }
        let end = usize::try_from(length)
            .ok()
            .and_then(|n| n.checked_add(pos + 12))
            .ok_or_else(|| bad("truncated chunk"))?;
        let chunk = bytes.get(pos..end).ok_or_else(|| bad("truncated chunk"))?;
        if !PNG_DROPPED.contains(&&kind) {
            out.extend_from_slice(chunk);
        }
        if &kind == b"IEND" {
            return Ok(out);
        }
        pos = end;
    }
}

/// VP8X flag bits for an EXIF chunk (0x08) and an XMP chunk (0x04).
const VP8X_METADATA_FLAGS: u8 = 0x08 | 0x04;

/// Walks the RIFF chunks, dropping EXIF and XMP and clearing their VP8X
/// flags, then writes the RIFF size afresh. Bytes past the RIFF size go.
fn webp(bytes: &[u8]) -> Result<Vec<u8>, StripError> {
    let bad = |why| malformed("WebP", why);
    let header = bytes.get(..12).ok_or_else(|| bad("no RIFF header"))?;
    if header.get(..4) != Some(b"RIFF") || header.get(8..) != Some(b"WEBP") {
        return Err(bad("no RIFF WEBP header"));
    }
    let riff = u32_le(header, 4).and_then(|n| bytes.get(..n.checked_add(8)?));
    let riff = riff.filter(|r| r.len() >= 12).ok_or_else(|| bad("truncated RIFF"))?;
    let mut out = Vec::with_capacity(riff.len());
    out.extend_from_slice(b"RIFF\0\0\0\0WEBP");
    let mut pos = 12;
    while pos < riff.len() {
        let head = riff.get(pos..pos + 8).ok_or_else(|| bad("truncated chunk"))?;
        let (fourcc, _) = head.split_at(4);
        let size = u32_le(head, 4).ok_or_else(|| bad("truncated chunk"))?;
        let payload = size
            .checked_add(pos + 8)
            .and_then(|end| riff.get(pos + 8..end))
            .ok_or_else(|| bad("truncated chunk"))?;
        if pos == 12 && !matches!(fourcc, b"VP8 " | b"VP8L" | b"VP8X") {
            return Err(bad("first chunk is not an image"));
        }
        let mut write = |parts: &[&[u8]]| {
            out.extend_from_slice(head);
            parts.iter().for_each(|p| out.extend_from_slice(p));
            if size % 2 == 1 {
                out.push(0);
            }
        };
        match fourcc {
            b"EXIF" | b"XMP " => {}
            b"VP8X" => match payload.split_first() {
                Some((flags, rest)) if payload.len() >= 10 => write(&[&[flags & !VP8X_METADATA_FLAGS], rest]),
                _ => return Err(bad("VP8X chunk too short")),
            },
            _ => write(&[payload]),
        }
        // Chunks are padded to an even length; tolerate a missing final pad.
        pos = (pos + 8 + size + size % 2).min(riff.len());
    }
    let size = u32::try_from(out.len() - 8).map_err(|_| bad("too large"))?;
    out[4..8].copy_from_slice(&size.to_le_bytes());
    Ok(out)
}

/// The little-endian u32 at `at`, as a length.
fn u32_le(bytes: &[u8], at: usize) -> Option<usize> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    usize::try_from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok()
}

#[cfg(test)]
#[path = "strip_tests.rs"]
mod tests;
