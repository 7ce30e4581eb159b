//! Tests for [`super::strip`]: real images from the `image` encoders with
//! metadata spliced in, checked both by byte search and by `image`'s own
//! metadata readers; hand-built streams for the JPEG walker's corners; and
//! truncated, mutated and arbitrary input, which must fail without panicking.

use super::*;
use image::codecs::jpeg::{JpegDecoder, JpegEncoder};
use image::codecs::png::{PngDecoder, PngEncoder};
use image::codecs::webp::{WebPDecoder, WebPEncoder};
use image::{ExtendedColorType, ImageDecoder, ImageEncoder, RgbaImage};
use proptest::prelude::*;
use std::io::Cursor;

const TRAILER: &[u8] = b"TRAILER-SECRET after the end";
const XMP: &[u8] =
    b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF about='http://ns.adobe.com/xap/1.0/'/></x:xmpmeta>";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn picture(w: u32, h: u32) -> RgbaImage {
    RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([(x * 37) as u8, (y * 53) as u8, ((x + y) * 11) as u8, 255 - x as u8])
    })
}

/// A minimal little-endian TIFF: IFD0 holds only GPSInfo (0x8825), pointing
/// at a GPS IFD with GPSLatitudeRef = "S".
fn exif_tiff() -> Vec<u8> {
    let mut t = b"II*\0".to_vec();
    t.extend(8u32.to_le_bytes());
    t.extend(1u16.to_le_bytes());
    t.extend([0x25, 0x88, 4, 0, 1, 0, 0, 0, 26, 0, 0, 0]);
    t.extend(0u32.to_le_bytes());
    t.extend(1u16.to_le_bytes());
    t.extend([1, 0, 2, 0, 2, 0, 0, 0, b'S', 0, 0, 0]);
    t.extend(0u32.to_le_bytes());
    t
}

fn jpeg_segment(marker: u8, body: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, marker];
    s.extend(u16::try_from(body.len() + 2).unwrap().to_be_bytes());
    s.extend(body);
    s
}

fn plain_jpeg() -> Vec<u8> {
    let rgb = image::DynamicImage::ImageRgba8(picture(19, 13)).to_rgb8();
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90).encode(&rgb, 19, 13, ExtendedColorType::Rgb8).unwrap();
    out
}

/// `plain_jpeg` with EXIF (GPS), XMP, extended XMP, IPTC, a comment, an ICC
/// profile and MPF after its JFIF segment, and (if asked) a trailer.
fn dirty_jpeg(trailer: bool) -> Vec<u8> {
    let plain = plain_jpeg();
    assert_eq!(&plain[2..4], [0xFF, 0xE0], "the encoder writes JFIF first");
    let after_jfif = 4 + usize::from(u16::from_be_bytes([plain[4], plain[5]]));
    let mut out = plain[..after_jfif].to_vec();
    out.extend(jpeg_segment(0xE1, &[b"Exif\0\0".as_slice(), &exif_tiff()].concat()));
    out.extend(jpeg_segment(0xE1, &[b"http://ns.adobe.com/xap/1.0/\0".as_slice(), XMP].concat()));
    let extended =
        [b"http://ns.adobe.com/xmp/extension/\0".as_slice(), &[b'0'; 32], &[0, 0, 0, 4, 0, 0, 0, 0], b"XMP!"];
    out.extend(jpeg_segment(0xE1, &extended.concat()));
    out.extend(jpeg_segment(0xED, b"Photoshop 3.0\08BIM\x04\x04\0\0\0\0\0\x0bIPTC-SECRET"));
    out.extend(jpeg_segment(0xFE, b"COMMENT-SECRET"));
    out.extend(jpeg_segment(0xE2, b"ICC_PROFILE\0\x01\x01fake profile bytes"));
    out.extend(jpeg_segment(0xE2, b"MPF\0II*\0"));
    out.extend(jpeg_segment(0xEB, b"JP\0\0JUMBF"));
    out.extend(&plain[after_jfif..]);
    if trailer {
        out.extend(TRAILER);
    }
    out
}

#[test]
fn jpeg_loses_its_metadata_and_keeps_its_pixels_and_colour() {
    let dirty = dirty_jpeg(true);
    let clean = strip("image/jpeg", &dirty).unwrap();
    for needle in [
        b"Exif\0\0".as_slice(),
        b"http://ns.adobe.com/xap",
        b"http://ns.adobe.com/xmp/extension",
        b"Photoshop 3.0",
        b"COMMENT-SECRET",
        b"MPF\0",
        b"JUMBF",
        TRAILER,
    ] {
        assert!(contains(&dirty, needle));
        assert!(!contains(&clean, needle), "{:?} survived", String::from_utf8_lossy(needle));
    }
    assert!(contains(&clean, b"ICC_PROFILE\0\x01\x01fake profile bytes"));
    assert!(contains(&clean, b"JFIF\0"));
    assert!(clean.starts_with(&[0xFF, 0xD8]) && clean.ends_with(&[0xFF, 0xD9]));
    assert_eq!(clean, plain_jpeg_with_icc(), "exactly the encoder's file plus the profile");

    let mut before = JpegDecoder::new(Cursor::new(&dirty)).unwrap();
    let mut after = JpegDecoder::new(Cursor::new(&clean)).unwrap();
    assert!(before.exif_metadata().unwrap().is_some() && before.xmp_metadata().unwrap().is_some());
    assert_eq!(after.exif_metadata().unwrap(), None);
    assert_eq!(after.xmp_metadata().unwrap(), None);
    assert_eq!(after.iptc_metadata().unwrap(), None);
    assert_eq!(after.icc_profile().unwrap(), before.icc_profile().unwrap());
    assert!(after.icc_profile().unwrap().is_some());

    let (before, after) =
        (image::load_from_memory(&dirty).unwrap(), image::load_from_memory(&clean).unwrap());
    assert_eq!((after.width(), after.height()), (19, 13));
    assert_eq!(after.to_rgb8(), before.to_rgb8());
}

fn plain_jpeg_with_icc() -> Vec<u8> {
    let plain = plain_jpeg();
    let after_jfif = 4 + usize::from(u16::from_be_bytes([plain[4], plain[5]]));
    let icc = jpeg_segment(0xE2, b"ICC_PROFILE\0\x01\x01fake profile bytes");
    [&plain[..after_jfif], &icc, &plain[after_jfif..]].concat()
}

/// A stream no encoder here writes: a JFIF thumbnail, JFXX, an oversized
/// Adobe segment, fill bytes, stuffing, restart markers and two scans (as in
/// a progressive JPEG), with metadata between the scans.
#[test]
fn jpeg_walker_handles_fill_restarts_and_several_scans() {
    let jfif_thumb = b"JFIF\0\x01\x02\x01\0\x48\0\x48\x01\x01\xAA\xBB\xCC";
    let adobe = b"Adobe\0\x64\0\0\0\0\x01EXTRA";
    let sof2 = [8, 0, 1, 0, 1, 1, 1, 0x11, 0];
    let sos = [1, 1, 0, 0, 63, 0];
    let entropy = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xD7, 0x78];
    let input = [
        vec![0xFF, 0xD8],
        jpeg_segment(0xE0, jfif_thumb),
        jpeg_segment(0xE0, b"JFXX\0\x10thumbnail"),
        jpeg_segment(0xEE, adobe),
        vec![0xFF, 0xFF, 0xFF],
        jpeg_segment(0xC2, &sof2),
        jpeg_segment(0xDA, &sos),
        entropy.to_vec(),
        vec![0xFF, 0xFF],
        jpeg_segment(0xFE, b"between scans"),
        jpeg_segment(0xDD, &[0, 4]),
        jpeg_segment(0xDA, &sos),
        vec![0x9A],
        vec![0xFF, 0xD9],
        b"\xFF\xD8 a second image after EOI".to_vec(),
    ]
    .concat();
    let expected = [
        vec![0xFF, 0xD8],
        jpeg_segment(0xE0, b"JFIF\0\x01\x02\x01\0\x48\0\x48\0\0"),
        jpeg_segment(0xEE, &adobe[..12]),
        jpeg_segment(0xC2, &sof2),
        jpeg_segment(0xDA, &sos),
        entropy.to_vec(),
        jpeg_segment(0xDD, &[0, 4]),
        jpeg_segment(0xDA, &sos),
        vec![0x9A, 0xFF, 0xD9],
    ]
    .concat();
    assert_eq!(strip("image/jpeg", &input), Ok(expected));
}

#[test]
fn jpeg_without_an_end_or_a_scan_is_malformed() {
    let plain = plain_jpeg();
    let no_eoi = &plain[..plain.len() - 2];
    assert!(matches!(strip("image/jpeg", no_eoi), Err(StripError::Malformed(_))));
    let no_scan = [vec![0xFF, 0xD8], jpeg_segment(0xFE, b"x"), vec![0xFF, 0xD9]].concat();
    assert!(matches!(strip("image/jpeg", &no_scan), Err(StripError::Malformed(_))));
    let bad_length = [0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x01, 0xFF, 0xD9];
    assert!(matches!(strip("image/jpeg", &bad_length), Err(StripError::Malformed(_))));
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    c.extend(kind);
    c.extend(data);
    c.extend(crc32(&[kind.as_slice(), data].concat()).to_be_bytes());
    c
}

fn png_kinds(bytes: &[u8]) -> Vec<String> {
    let mut kinds = Vec::new();
    let mut pos = 8;
    while pos + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        kinds.push(String::from_utf8_lossy(&bytes[pos + 4..pos + 8]).into_owned());
        pos += 12 + len;
    }
    kinds
}

fn plain_png() -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out).write_image(&picture(9, 7), 9, 7, ExtendedColorType::Rgba8).unwrap();
    out
}

fn dirty_png(trailer: bool) -> Vec<u8> {
    let plain = plain_png();
    let after_ihdr = 8 + 25;
    let mut out = plain[..after_ihdr].to_vec();
    out.extend(png_chunk(b"pHYs", &[0, 0, 0x0B, 0x13, 0, 0, 0x0B, 0x13, 1]));
    out.extend(png_chunk(b"tEXt", b"Comment\0TEXT-SECRET"));
    out.extend(png_chunk(b"zTXt", b"Author\0\0x\x9c\x03\0\0\0\0\x01"));
    out.extend(png_chunk(b"iTXt", &[b"XML:com.adobe.xmp\0\0\0\0\0".as_slice(), XMP].concat()));
    out.extend(png_chunk(b"eXIf", &exif_tiff()));
    out.extend(png_chunk(b"tIME", &[0x07, 0xE9, 1, 2, 3, 4, 5]));
    out.extend(&plain[after_ihdr..]);
    if trailer {
        out.extend(TRAILER);
    }
    out
}

#[test]
fn png_loses_its_metadata_and_keeps_its_pixels_and_colour_chunks() {
    let dirty = dirty_png(true);
    let clean = strip("image/png", &dirty).unwrap();
    assert!(png_kinds(&dirty).iter().any(|k| k == "eXIf"));
    let kinds = png_kinds(&clean);
    assert_eq!(kinds.first().map(String::as_str), Some("IHDR"));
    assert_eq!(kinds.get(1).map(String::as_str), Some("pHYs"));
    assert_eq!(kinds.last().map(String::as_str), Some("IEND"));
    assert!(kinds.iter().all(|k| ["IHDR", "pHYs", "IDAT", "IEND"].contains(&k.as_str())), "{kinds:?}");
    for needle in [b"TEXT-SECRET".as_slice(), b"http://ns.adobe.com/xap", b"II*\0", TRAILER] {
        assert!(!contains(&clean, needle), "{:?} survived", String::from_utf8_lossy(needle));
    }
    let mut before = PngDecoder::new(Cursor::new(&dirty)).unwrap();
    let mut after = PngDecoder::new(Cursor::new(&clean)).unwrap();
    assert!(before.exif_metadata().unwrap().is_some() && before.xmp_metadata().unwrap().is_some());
    assert_eq!(after.exif_metadata().unwrap(), None);
    assert_eq!(after.xmp_metadata().unwrap(), None);
    let after = image::load_from_memory(&clean).unwrap();
    assert_eq!(after.to_rgba8(), picture(9, 7));
}

fn riff_chunk(fourcc: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = fourcc.to_vec();
    c.extend(u32::try_from(data.len()).unwrap().to_le_bytes());
    c.extend(data);
    if data.len() % 2 == 1 {
        c.push(0);
    }
    c
}

fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body = chunks.concat();
    [b"RIFF".as_slice(), &u32::try_from(body.len() + 4).unwrap().to_le_bytes(), b"WEBP", &body].concat()
}

/// A lossless WebP wrapped as VP8X (alpha, EXIF and XMP flags set) with
/// EXIF and XMP chunks, both of odd length so they are padded.
fn dirty_webp(trailer: bool) -> Vec<u8> {
    let mut simple = Vec::new();
    WebPEncoder::new_lossless(&mut simple).encode(&picture(9, 7), 9, 7, ExtendedColorType::Rgba8).unwrap();
    assert_eq!(&simple[12..16], b"VP8L");
    let vp8x = [0x10 | 0x08 | 0x04, 0, 0, 0, 8, 0, 0, 6, 0, 0];
    let exif = [exif_tiff().as_slice(), b"\0"].concat();
    let xmp = XMP.to_vec();
    assert!(exif.len() % 2 == 1 && xmp.len() % 2 == 1);
    let mut out = riff(&[
        riff_chunk(b"VP8X", &vp8x),
        simple[12..].to_vec(),
        riff_chunk(b"EXIF", &exif),
        riff_chunk(b"XMP ", &xmp),
    ]);
    if trailer {
        out.extend(TRAILER);
    }
    out
}

#[test]
fn webp_loses_its_metadata_and_flags_and_keeps_its_pixels() {
    let dirty = dirty_webp(true);
    let clean = strip("image/webp", &dirty).unwrap();
    for needle in [b"EXIF".as_slice(), b"XMP ", b"II*\0", b"http://ns.adobe.com/xap", TRAILER] {
        assert!(contains(&dirty, needle));
        assert!(!contains(&clean, needle), "{:?} survived", String::from_utf8_lossy(needle));
    }
    assert_eq!(&clean[12..16], b"VP8X");
    assert_eq!(clean[20], 0x10, "only the alpha flag is left");
    assert_eq!(u32::from_le_bytes(clean[4..8].try_into().unwrap()) as usize, clean.len() - 8);
    let mut before = WebPDecoder::new(Cursor::new(&dirty)).unwrap();
    let mut after = WebPDecoder::new(Cursor::new(&clean)).unwrap();
    assert!(before.exif_metadata().unwrap().is_some() && before.xmp_metadata().unwrap().is_some());
    assert_eq!(after.exif_metadata().unwrap(), None);
    assert_eq!(after.xmp_metadata().unwrap(), None);
    let after = image::load_from_memory(&clean).unwrap();
    assert_eq!(after.to_rgba8(), picture(9, 7));
}

#[test]
fn other_types_are_unsupported_and_junk_is_malformed() {
    assert!(matches!(strip("image/heic", b"\0\0\0\x18ftypheic"), Err(StripError::Unsupported(_))));
    for kind in ["image/jpeg", "image/png", "image/webp"] {
        assert!(matches!(strip(kind, b""), Err(StripError::Malformed(_))));
        assert!(matches!(strip(kind, b"%PDF-1.7 not an image at all"), Err(StripError::Malformed(_))));
    }
    assert!(matches!(strip("image/png", &plain_jpeg()), Err(StripError::Malformed(_))));
}

fn samples() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("image/jpeg", dirty_jpeg(false)),
        ("image/png", dirty_png(false)),
        ("image/webp", dirty_webp(false)),
    ]
}

#[test]
fn every_truncation_is_malformed_and_cleaning_is_idempotent() {
    for (kind, dirty) in samples() {
        let clean = strip(kind, &dirty).unwrap();
        assert_eq!(strip(kind, &clean).as_ref(), Ok(&clean), "{kind}");
        for file in [&dirty, &clean] {
            for end in 0..file.len() {
                assert!(
                    matches!(strip(kind, &file[..end]), Err(StripError::Malformed(_))),
                    "{kind} cut at {end}"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(kind in 0usize..3, prefix in 0usize..3, tail in proptest::collection::vec(any::<u8>(), 0..300)) {
        let kinds = ["image/jpeg", "image/png", "image/webp"];
        let magic: [&[u8]; 3] = [b"\xFF\xD8", &PNG_SIGNATURE, b"RIFF\x20\0\0\0WEBP"];
        let bytes = [magic[prefix], &tail].concat();
        let _ = strip(kinds[kind], &bytes);
    }

    #[test]
    fn mutated_files_never_panic_and_clean_to_a_fixed_point(
        sample in 0usize..3,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let (kind, mut bytes) = samples().swap_remove(sample);
        for (at, value) in edits {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        if let Ok(clean) = strip(kind, &bytes) {
            prop_assert!(clean.len() <= bytes.len() + 1);
            prop_assert_eq!(strip(kind, &clean), Ok(clean));
        }
    }
}
