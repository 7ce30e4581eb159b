//! Scan mode: each image as a document for `POST /DocumentReference`, which
//! Medtech files in the Inbox Scan folder, as PDF or TIFF only, at most 8 MB.
//!
//! - PDF (default): one A4 page with the image and a caption (site,
//!   laterality, view, type, description, capture time), because the Inbox
//!   shows no Media metadata. A JPEG is embedded as it is (DCTDecode, no
//!   re-encoding); other formats are converted to JPEG first.
//! - TIFF (option): Deflate-compressed RGB with the caption in the
//!   ImageDescription tag, scaled down only if needed to fit the limit.

use std::io::Cursor;

use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, Stream};

use super::fhir::{body_site_text, kind_label, view_label};
use crate::model::ImageMetadata;

/// A4 in points.
const PAGE: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 40.0;
/// The caption's type size and line spacing, in points.
const FONT_SIZE: f32 = 11.0;
const LEADING: f32 = 15.0;
/// Space between the image and the caption's first line.
const CAPTION_GAP: f32 = 24.0;
/// The image keeps at least this much height on the first page; caption
/// lines that do not fit under it continue on further pages.
const MIN_IMAGE_HEIGHT: f32 = 300.0;

/// Why a PDF could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("image cannot be read: {0}")]
    Image(String),
    #[error("PDF cannot be written: {0}")]
    Pdf(String),
}

/// The caption lines for an image.
pub fn caption(meta: &ImageMetadata, captured: &str) -> Vec<String> {
    let mut lines = vec!["Clinical photograph".to_owned()];
    let site = body_site_text(meta).unwrap_or_else(|| "not recorded".into());
    lines.push(format!("Site: {site}"));
    let laterality = match meta.laterality {
        Some(crate::model::Laterality::Left) => "left",
        Some(crate::model::Laterality::Right) => "right",
        Some(crate::model::Laterality::Bilateral) => "both sides",
        Some(crate::model::Laterality::NotApplicable) => "not applicable",
        None => "not recorded",
    };
    lines.push(format!("Laterality: {laterality}"));
    lines.push(format!(
        "View: {}    Type: {}",
        meta.view.map(view_label).unwrap_or("not recorded"),
        meta.kind.map(kind_label).unwrap_or("not recorded")
    ));
    if let Some(d) = meta.description.as_deref().filter(|d| !d.trim().is_empty()) {
        lines.push(format!("Description: {d}"));
    }
    if let Some(consent) = &meta.consent {
        lines.push(consent.note());
    }
    lines.push(format!("Captured: {captured}"));
    lines
}

/// Greedy word wrap of `text` into lines at most `width` wide (as
/// `measure` tells widths). A word wider than a line is broken across lines,
/// so nothing runs off the page.
fn wrap(text: &str, width: f32, measure: &dyn Fn(&str) -> f32) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("never empty");
        let joined = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
        if measure(&joined) <= width {
            *line = joined;
            continue;
        }
        if !line.is_empty() {
            lines.push(String::new());
        }
        // The word starts a line; break it wherever it is still too wide.
        for c in word.chars() {
            let line = lines.last_mut().expect("never empty");
            line.push(c);
            if measure(line) > width && line.chars().count() > 1 {
                line.pop();
                lines.push(c.to_string());
            }
        }
    }
    lines
}

/// The caption laid out for the page: every line wrapped to the text width.
fn lay_out(caption: &[String]) -> Result<Vec<String>, ScanError> {
    let metrics = super::pdf_font::Metrics::new(FONT_SIZE).map_err(ScanError::Pdf)?;
    let width = PAGE.0 - 2.0 * MARGIN;
    Ok(caption.iter().flat_map(|line| wrap(line, width, &|s| metrics.width(s))).collect())
}

/// Decodes the stored photo within the server's pixel bound.
fn decode(image: &[u8], max_pixels: u64) -> Result<image::DynamicImage, ScanError> {
    crate::server::support::decode::decode_bounded(image, max_pixels)
        .map_err(|e| ScanError::Image(e.to_string()))
}

/// Builds a one-page A4 PDF of the image with its caption. CPU-bound: call it
/// in `spawn_blocking`.
pub fn pdf(
    image: &[u8],
    content_type: &str,
    caption: &[String],
    max_pixels: u64,
) -> Result<Vec<u8>, ScanError> {
    let jpeg = if content_type == "image/jpeg" {
        image.to_vec()
    } else {
        let decoded = decode(image, max_pixels)?;
        let mut out = Vec::new();
        decoded
            .to_rgb8()
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg)
            .map_err(|e| ScanError::Image(e.to_string()))?;
        out
    };
    let decoder = image::codecs::jpeg::JpegDecoder::new(Cursor::new(&jpeg))
        .map_err(|e| ScanError::Image(e.to_string()))?;
    let (w, h) = image::ImageDecoder::dimensions(&decoder);
    let color_space = match image::ImageDecoder::color_type(&decoder) {
        image::ColorType::L8 => "DeviceGray",
        _ => "DeviceRGB",
    };

    let lines = lay_out(caption)?;
    // The first page: the image, then as many caption lines as fit under
    // it while it keeps its minimum height; the rest continue on pages of
    // their own, so every word and the capture time are in the document.
    let per_page = ((PAGE.1 - 2.0 * MARGIN) / LEADING).floor() as usize;
    let first_page = (((PAGE.1 - 2.0 * MARGIN - MIN_IMAGE_HEIGHT - CAPTION_GAP) / LEADING).floor() as usize)
        .min(lines.len());
    let caption_height = CAPTION_GAP + first_page as f32 * LEADING;

    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let encoder = super::pdf_font::Encoder::new(&lines);
    let font_id = encoder.add_font(&mut doc).map_err(ScanError::Pdf)?;
    let image_id = doc.add_object(Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Image", "Width" => w as i64, "Height" => h as i64,
            "ColorSpace" => color_space, "BitsPerComponent" => 8, "Filter" => "DCTDecode",
        },
        jpeg,
    ));
    // Fit the image above the caption, keeping its aspect ratio.
    let (box_w, box_h) = (PAGE.0 - 2.0 * MARGIN, PAGE.1 - 2.0 * MARGIN - caption_height);
    let scale = (box_w / w as f32).min(box_h / h as f32);
    let (draw_w, draw_h) = (w as f32 * scale, h as f32 * scale);
    let x = MARGIN + (box_w - draw_w) / 2.0;
    let y = PAGE.1 - MARGIN - draw_h;
    let image_ops = vec![
        Operation::new("q", vec![]),
        Operation::new("cm", vec![draw_w.into(), 0.into(), 0.into(), draw_h.into(), x.into(), y.into()]),
        Operation::new("Do", vec!["Im1".into()]),
        Operation::new("Q", vec![]),
    ];
    // Text from its first baseline down, one line per `LEADING`.
    let text_ops = |lines: &[String], top: f32| {
        let mut ops = vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), FONT_SIZE.into()]),
            Operation::new("TL", vec![LEADING.into()]),
            Operation::new("Td", vec![MARGIN.into(), top.into()]),
        ];
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                ops.push(Operation::new("T*", vec![]));
            }
            ops.push(Operation::new("Tj", vec![Object::string_literal(encoder.encode(line))]));
        }
        ops.push(Operation::new("ET", vec![]));
        ops
    };
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id },
        "XObject" => dictionary! { "Im1" => image_id },
    });
    let first_top = MARGIN + caption_height - CAPTION_GAP;
    let mut pages = vec![[image_ops, text_ops(&lines[..first_page], first_top)].concat()];
    for rest in lines[first_page..].chunks(per_page.max(1)) {
        pages.push(text_ops(rest, PAGE.1 - MARGIN - FONT_SIZE));
    }
    let mut kids = Vec::new();
    for operations in pages {
        let content = Content { operations }.encode().map_err(|e| ScanError::Pdf(e.to_string()))?;
        let content_id = doc.add_object(Stream::new(dictionary! {}, content));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id, "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), PAGE.0.into(), PAGE.1.into()],
        });
        kids.push(Object::from(page_id));
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).map_err(|e| ScanError::Pdf(e.to_string()))?;
    Ok(out)
}

/// Builds a TIFF of at most `max_bytes`, shrinking the image only when it must.
/// CPU-bound: call it in `spawn_blocking`.
pub fn tiff(
    image: &[u8],
    caption: &[String],
    max_bytes: usize,
    max_pixels: u64,
) -> Result<Vec<u8>, ScanError> {
    use tiff::encoder::compression::DeflateLevel;
    use tiff::encoder::{colortype, Compression, TiffEncoder};
    use tiff::tags::{Predictor, Tag};

    let tiff_err = |e: tiff::TiffError| ScanError::Pdf(e.to_string());
    let mut rgb = decode(image, max_pixels)?.to_rgb8();
    // TIFF's ImageDescription is 7-bit ASCII: accents are folded, letters kept.
    let description = super::pdf_font::ascii_fold(&caption.join("; "));
    for _ in 0..4 {
        let mut out = Cursor::new(Vec::new());
        {
            let mut encoder = TiffEncoder::new(&mut out)
                .map_err(tiff_err)?
                .with_compression(Compression::Deflate(DeflateLevel::Balanced))
                .with_predictor(Predictor::Horizontal);
            let mut img =
                encoder.new_image::<colortype::RGB8>(rgb.width(), rgb.height()).map_err(tiff_err)?;
            img.encoder().write_tag(Tag::ImageDescription, description.as_str()).map_err(tiff_err)?;
            img.write_data(rgb.as_raw()).map_err(tiff_err)?;
        }
        let bytes = out.into_inner();
        if bytes.len() <= max_bytes {
            return Ok(bytes);
        }
        let f = ((max_bytes as f64 / bytes.len() as f64).sqrt() * 0.95).min(0.9);
        let (w, h) = ((rgb.width() as f64 * f) as u32, (rgb.height() as f64 * f) as u32);
        rgb = image::imageops::resize(&rgb, w.max(1), h.max(1), image::imageops::FilterType::Triangle);
    }
    Err(ScanError::Pdf("the TIFF does not fit the size limit".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ImageKind, ImageView, Laterality};

    fn jpeg() -> Vec<u8> {
        let mut out = Vec::new();
        image::RgbImage::from_fn(40, 30, |x, _| image::Rgb([x as u8 * 6, 80, 160]))
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg)
            .unwrap();
        out
    }

    #[test]
    fn embeds_the_jpeg_unchanged_with_a_caption() {
        let photo = jpeg();
        let meta = ImageMetadata {
            laterality: Some(Laterality::Left),
            body_site: Some("14975008".into()),
            view: Some(ImageView::CloseUp),
            kind: Some(ImageKind::Rash),
            description: Some("Itchy rash for two weeks".into()),
            consent: Some(crate::model::Consent {
                scope: crate::model::ConsentScope::Teaching,
                given_by: crate::model::ConsentGiver::Guardian,
                how: crate::model::ConsentMethod::Written,
            }),
        };
        let lines = caption(&meta, "2026-11-26T10:00:00Z");
        let bytes = pdf(&photo, "image/jpeg", &lines, MAX_PIXELS).unwrap();
        let doc = Document::load_mem(&bytes).expect("the PDF parses");
        assert_eq!(doc.get_pages().len(), 1);
        let text = doc.extract_text(&[1]).unwrap();
        for needle in [
            "Site: Left forearm",
            "Laterality: left",
            "close-up",
            "rash",
            "Itchy rash for two weeks",
            "Consent: clinical record and de-identified teaching; written; given by a parent or guardian",
            "2026-11-26",
        ] {
            assert!(text.contains(needle), "{needle:?} in {text:?}");
        }
        assert!(bytes.windows(photo.len()).any(|w| w == photo.as_slice()), "JPEG embedded byte for byte");
    }

    #[test]
    fn tiff_fits_the_limit_and_carries_the_caption() {
        let photo = jpeg();
        let bytes = tiff(&photo, &["Site: Left forearm".into()], 8 * 1024 * 1024, MAX_PIXELS).unwrap();
        assert!(bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*"));
        let mut decoder = tiff::decoder::Decoder::new(Cursor::new(&bytes)).unwrap();
        assert_eq!(decoder.dimensions().unwrap(), (40, 30), "full size when it fits");
        assert!(bytes.windows(18).any(|w| w == b"Site: Left forearm"));
        // A tiny limit forces the image down until it fits.
        let small = tiff(&photo, &[], 3000, MAX_PIXELS).unwrap();
        assert!(small.len() <= 3000);
    }

    const MAX_PIXELS: u64 = 10_000_000;

    /// Text as an independent reader (poppler's `pdftotext`) extracts it,
    /// from inside the A4 page only (72 dpi: one pixel a point), so text
    /// drawn off the page is not found.
    fn pdftotext(pdf: &[u8]) -> String {
        use std::io::Write;
        let mut child = std::process::Command::new("pdftotext")
            .args(["-enc", "UTF-8", "-r", "72", "-x", "0", "-y", "0", "-W", "595", "-H", "842", "-", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("pdftotext (poppler-utils, installed by scripts/test.sh)");
        child.stdin.take().unwrap().write_all(pdf).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn macrons_survive_into_the_pdf_text() {
        let meta =
            ImageMetadata { description: Some("Tūhoe Ngāti Māori, ōrite".into()), ..Default::default() };
        let lines = caption(&meta, "2026-11-26T10:00:00Z");
        let bytes = pdf(&jpeg(), "image/jpeg", &lines, MAX_PIXELS).unwrap();
        let text = pdftotext(&bytes);
        assert!(text.contains("Tūhoe Ngāti Māori, ōrite"), "{text:?}");
        assert!(text.contains("Clinical photograph"), "{text:?}");
        let tiff = tiff(&jpeg(), &lines, 8 << 20, MAX_PIXELS).unwrap();
        assert!(tiff.windows(17).any(|w| w == b"Tuhoe Ngati Maori"), "TIFF's ASCII folds, keeps the letters");
    }

    /// A 500-character description with words too long for a line: every
    /// word and the capture line are in the document, and no line is wider
    /// than the page's text area.
    #[test]
    fn a_long_description_wraps_and_stays_on_the_page() {
        let long_word = "Pseudopseudohypoparathyroidism".repeat(4);
        let mut description = format!("Wound on the left shin {long_word} ");
        let mut n = 0;
        while description.chars().count() < 490 {
            description.push_str(&format!("note{n} WWWW "));
            n += 1;
        }
        let description: String = description.chars().take(500).collect();
        let meta = ImageMetadata { description: Some(description.clone()), ..Default::default() };
        let lines = caption(&meta, "2026-11-26T10:00:00Z");
        let bytes = pdf(&jpeg(), "image/jpeg", &lines, MAX_PIXELS).unwrap();
        let text = pdftotext(&bytes);
        let squashed: String = text.split_whitespace().collect();
        for word in description.split_whitespace() {
            assert!(squashed.contains(word), "{word:?} is missing from {text:?}");
        }
        assert!(text.contains("Captured: 2026-11-26T10:00:00Z"), "{text:?}");
        // Every laid-out line fits the text width.
        let metrics = crate::server::alex::pdf_font::Metrics::new(FONT_SIZE).unwrap();
        for line in lay_out(&lines).unwrap() {
            assert!(metrics.width(&line) <= PAGE.0 - 2.0 * MARGIN + 0.01, "{line:?} is too wide");
        }
    }

    #[test]
    fn captions_longer_than_a_page_continue_on_the_next() {
        let lines: Vec<String> = (0..70).map(|i| format!("Line {i}")).collect();
        let bytes = pdf(&jpeg(), "image/jpeg", &lines, MAX_PIXELS).unwrap();
        let doc = Document::load_mem(&bytes).unwrap();
        assert_eq!(doc.get_pages().len(), 2, "the image and the first lines, then the rest");
        let text = pdftotext(&bytes);
        for i in 0..70 {
            assert!(text.contains(&format!("Line {i}\n")), "Line {i} is missing");
        }
    }

    #[test]
    fn converts_png_to_jpeg() {
        let mut png = Vec::new();
        image::RgbImage::new(10, 10).write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
        let bytes = pdf(&png, "image/png", &["x".into()], MAX_PIXELS).unwrap();
        assert!(Document::load_mem(&bytes).is_ok());
    }
}
