//! The whole pipeline natively, with the `image` crate: detect, read EXIF,
//! decode, orient, resize, find the quality that reaches the SSIM floor on a
//! sample, keep under the byte target, encode a metadata-free JPEG.
//! It is the deterministic reference for tests and benchmarks (the browser
//! path uses its own codecs), and what a server-side fallback would run.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, RgbaImage};

use super::exif::{jpeg_exif, parse};
use super::format::{detect, SourceFormat};
use super::orient::orient;
use super::plan::plan;
use super::quality::{EncodeLoop, Step};
use super::ssim::{luma, ssim, Sample, SsimSearch};
use super::{passes_through, PipelineError, Targets};

/// The pipeline's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    /// JPEG quality used; `None` when the file passed through or stayed PNG.
    pub quality: Option<f32>,
    /// EXIF `DateTimeOriginal`, kept for the app's own record.
    pub captured: Option<String>,
    pub source: SourceFormat,
}

/// A baseline JPEG of `img` at `quality` (0–1), with no metadata.
pub fn encode_jpeg(img: &DynamicImage, quality: f32) -> Vec<u8> {
    let mut out = Vec::new();
    let q = (quality * 100.0).round().clamp(1.0, 100.0) as u8;
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, q);
    // The encoder writes JFIF only: no EXIF, no GPS.
    let _ = img.to_rgb8().write_with_encoder(encoder);
    out
}

/// A photo decoded, resized to the plan and turned upright: the pixels
/// every encode starts from.
pub fn prepare(bytes: &[u8], t: &Targets) -> Result<DynamicImage, PipelineError> {
    let source = detect(bytes)?;
    let orientation = match source {
        SourceFormat::Jpeg => jpeg_exif(bytes).map(parse).unwrap_or_default().orientation.unwrap_or(1),
        _ => 1,
    };
    prepare_as(bytes, source, orientation, t)
}

/// [`prepare`], with the format and EXIF orientation already read.
fn prepare_as(
    bytes: &[u8],
    source: SourceFormat,
    orientation: u16,
    t: &Targets,
) -> Result<DynamicImage, PipelineError> {
    let format = match source {
        SourceFormat::Jpeg => Some(ImageFormat::Jpeg),
        SourceFormat::Png => Some(ImageFormat::Png),
        SourceFormat::WebP => Some(ImageFormat::WebP),
        SourceFormat::Heif => None,
    };
    let decoded = match format {
        Some(format) => {
            image::load_from_memory_with_format(bytes, format).map_err(|_| PipelineError::Undecodable)?
        }
        // Upright already: the decoder applies HEIF's own rotation.
        None => {
            let heif = super::heif::decode_rgba(bytes)?;
            DynamicImage::ImageRgba8(
                RgbaImage::from_raw(heif.width, heif.height, heif.rgba).ok_or(PipelineError::Undecodable)?,
            )
        }
    };
    let p = plan(decoded.width(), decoded.height(), orientation, t);
    let resized = if p.scale < 1.0 {
        decoded.resize_exact(p.decode_width, p.decode_height, FilterType::Triangle)
    } else {
        decoded
    };
    let rgba = resized.to_rgba8();
    let (pixels, w, h) = orient(rgba.as_raw(), rgba.width(), rgba.height(), orientation);
    Ok(DynamicImage::ImageRgba8(RgbaImage::from_raw(w, h, pixels).ok_or(PipelineError::Undecodable)?))
}

/// The SSIM search ([`SsimSearch`]) on `img`'s sample, with this encoder:
/// the lowest quality whose sample reaches the floor, or the top quality
/// when the search is off or nothing reaches it.
pub fn sample_quality(img: &DynamicImage, t: &Targets) -> f32 {
    if t.ssim_floor <= 0.0 {
        return t.max_quality;
    }
    // Prepared pixels are RGBA already: no copy of the whole photo.
    let converted;
    let rgba = match img.as_rgba8() {
        Some(rgba) => rgba,
        None => {
            converted = img.to_rgba8();
            &converted
        }
    };
    let sample = Sample::new(rgba.width(), rgba.height());
    let pixels = sample.cut(rgba.as_raw(), rgba.width());
    let reference = luma(&pixels);
    let Some(mosaic) = RgbaImage::from_raw(sample.width(), sample.height(), pixels) else {
        return t.max_quality;
    };
    let mosaic = DynamicImage::ImageRgba8(mosaic);
    let mut search = SsimSearch::new(t);
    while let Some(q) = search.next_quality() {
        let score = image::load_from_memory_with_format(&encode_jpeg(&mosaic, q), ImageFormat::Jpeg)
            .map(|d| ssim(&reference, &luma(d.to_rgba8().as_raw()), sample.width() as usize))
            .unwrap_or(0.0);
        search.record(q, score);
    }
    search.chosen()
}

/// Runs the pipeline on a file's bytes.
pub fn process(bytes: &[u8], t: &Targets) -> Result<Output, PipelineError> {
    let source = detect(bytes)?;
    let info = if source == SourceFormat::Jpeg {
        jpeg_exif(bytes).map(parse).unwrap_or_default()
    } else {
        Default::default()
    };
    if passes_through(bytes, t) {
        let (width, height) = super::strip::dimensions(bytes).unwrap_or((0, 0));
        return Ok(Output {
            bytes: bytes.to_vec(),
            content_type: "image/jpeg",
            width,
            height,
            quality: None,
            captured: info.captured,
            source,
        });
    }
    let prepared = prepare_as(bytes, source, info.orientation.unwrap_or(1), t)?;
    let out = compress(prepared, source, t)?;
    Ok(Output { captured: info.captured, ..out })
}

/// Encodes prepared pixels ([`prepare`]): the SSIM search on a sample, then
/// the byte search from the quality it found, shrinking if even the lowest
/// quality is too big; a PNG source stays PNG when that is smaller.
pub fn compress(mut img: DynamicImage, source: SourceFormat, t: &Targets) -> Result<Output, PipelineError> {
    // The quality to start from: the lowest that looks right.
    let top = sample_quality(&img, t);
    let t = &Targets { max_quality: top, ..*t };

    // Screenshots and scans often compress better losslessly.
    if source == SourceFormat::Png {
        let mut png = Vec::new();
        if img.write_to(&mut Cursor::new(&mut png), ImageFormat::Png).is_ok()
            && png.len() as u64 <= t.max_bytes
        {
            let jpeg = encode_jpeg(&img, t.max_quality);
            if png.len() <= jpeg.len() {
                return Ok(Output {
                    bytes: png,
                    content_type: "image/png",
                    width: img.width(),
                    height: img.height(),
                    quality: None,
                    captured: None,
                    source,
                });
            }
        }
    }
    let mut encode_loop = EncodeLoop::new(t, 6, 4);
    let mut encoded: Vec<(f32, Vec<u8>)> = Vec::new();
    loop {
        match encode_loop.next_step() {
            Step::Encode(q) => {
                let out = encode_jpeg(&img, q);
                encode_loop.encoded(q, out.len() as u64);
                encoded.push((q, out));
            }
            Step::Shrink(factor) => {
                let (nw, nh) = ((img.width() as f64 * factor) as u32, (img.height() as f64 * factor) as u32);
                img = img.resize_exact(nw.max(1), nh.max(1), FilterType::Triangle);
                encoded.clear();
            }
            Step::Keep(quality) => {
                let bytes = encoded.into_iter().find(|(q, _)| *q == quality).map(|(_, b)| b);
                return Ok(Output {
                    bytes: bytes.ok_or(PipelineError::Undecodable)?,
                    content_type: "image/jpeg",
                    width: img.width(),
                    height: img.height(),
                    quality: Some(quality),
                    captured: None,
                    source,
                });
            }
            Step::GiveUp => break,
        }
    }
    Err(PipelineError::Undecodable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::exif::tests::{jpeg_with_exif, sample_exif};
    use crate::pipeline::format::FormatError;
    use crate::pipeline::strip::has_metadata;

    fn noisy_jpeg(w: u32, h: u32) -> Vec<u8> {
        // Noise compresses badly, so it exercises the quality search.
        let mut seed = 12345u32;
        let img = image::RgbImage::from_fn(w, h, |_, _| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let v = (seed >> 16) as u8;
            image::Rgb([v, v.wrapping_mul(3), v.wrapping_add(90)])
        });
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg).unwrap();
        out
    }

    #[test]
    fn a_camera_photo_comes_out_upright_small_and_clean() {
        let photo = noisy_jpeg(1200, 800);
        // Put EXIF (orientation 6, GPS, capture time) in front of the image data.
        let with_exif = jpeg_with_exif(&sample_exif(6, true), &photo[2..]);
        let t = Targets { max_edge: 1000, max_bytes: 150_000, ..Targets::default() };
        let out = process(&with_exif, &t).unwrap();
        assert!(out.height > out.width, "rotated to portrait: {}x{}", out.width, out.height);
        assert!(out.height <= 1000, "long edge capped");
        let ratio = out.height as f64 / out.width as f64;
        assert!((ratio - 1.5).abs() < 0.01, "aspect ratio kept: {ratio}");
        assert!(out.bytes.len() as u64 <= t.max_bytes, "{} bytes", out.bytes.len());
        assert!(!has_metadata(&out.bytes), "no EXIF, GPS or other metadata");
        assert!(jpeg_exif(&out.bytes).is_none());
        assert_eq!(out.captured.as_deref(), Some("2026:11:20 09:15:00"));
        assert!(out.quality.is_some_and(|q| (0.6..=0.95).contains(&q)));
    }

    #[test]
    fn a_clean_small_jpeg_passes_through_untouched() {
        let photo = noisy_jpeg(300, 200);
        assert!(!has_metadata(&photo));
        let out = process(&photo, &Targets::default()).unwrap();
        assert_eq!(out.bytes, photo);
        assert_eq!(out.quality, None);
        // The same pixels with EXIF do not pass through: the metadata must go.
        let with_exif = jpeg_with_exif(&sample_exif(1, true), &photo[2..]);
        let out = process(&with_exif, &Targets::default()).unwrap();
        assert_ne!(out.bytes, with_exif);
        assert!(!has_metadata(&out.bytes));
    }

    #[test]
    fn screenshots_stay_png_when_smaller() {
        let shot = image::RgbImage::from_fn(400, 300, |x, _| {
            if x < 200 {
                image::Rgb([255, 255, 255])
            } else {
                image::Rgb([20, 40, 60])
            }
        });
        let mut png = Vec::new();
        shot.write_to(&mut Cursor::new(&mut png), ImageFormat::Png).unwrap();
        let out = process(&png, &Targets::default()).unwrap();
        assert_eq!(out.content_type, "image/png");
    }

    #[test]
    fn damaged_and_foreign_files_fail_specifically() {
        let photo = noisy_jpeg(64, 64);
        assert_eq!(
            process(&photo[..photo.len() / 2], &Targets::default()),
            Err(PipelineError::Format(FormatError::Truncated))
        );
        assert_eq!(
            process(b"%PDF-1.7 ...", &Targets::default()),
            Err(PipelineError::Format(FormatError::Pdf))
        );
        let mut broken = photo.clone();
        for b in &mut broken[200..400] {
            *b = 0xFF;
        }
        // Corrupt scan data may decode to garbage or fail; it must never panic.
        let _ = process(&broken, &Targets { max_bytes: 10, ..Targets::default() });
    }
}
