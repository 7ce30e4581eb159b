//! The image pipeline's browser half. It runs inside the pipeline Web Worker
//! (`public/pipeline-worker.js` loads this same WASM module there), so decoding
//! and encoding never block the page.
//!
//! The browser's own codecs do the heavy lifting: `createImageBitmap` decodes
//! (and resizes, at high quality) and `OffscreenCanvas.convertToBlob` encodes.
//! Every decision is made by the pure functions in [`crate::pipeline`]:
//! format detection, EXIF, the size plan, the orientation transform, the
//! SSIM search on a sample (scored here on the browser's own encodes), the
//! byte search and the metadata check. HEIC, which Chromium and Firefox
//! cannot decode, goes to the HEIC module (`heif_module.rs`, a third WASM
//! build), which the worker loads only when a HEIC arrives.

use js_sys::{Function, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, BlobPropertyBag, ImageBitmap, ImageBitmapOptions, ImageData, ImageEncodeOptions, OffscreenCanvas,
    OffscreenCanvasRenderingContext2d, ResizeQuality, WorkerGlobalScope,
};

use crate::pipeline::exif::{jpeg_exif, parse};
use crate::pipeline::format::{self, detect, SourceFormat};
use crate::pipeline::orient::{canvas_transform, oriented_size};
use crate::pipeline::plan::plan;
use crate::pipeline::quality::{EncodeLoop, Step};
use crate::pipeline::ssim::{luma, ssim, Sample, SsimSearch};
use crate::pipeline::{passes_through, strip, Decoder, PipelineError, Summary, Targets};

/// Most quality searches per image (each may shrink the image once more).
const MAX_ROUNDS: u32 = 4;
/// Most encodes in one quality search.
const ENCODES_PER_ROUND: usize = 6;

/// Worker entry: processes one file. Resolves to `{ blob, summary }` where
/// `summary` is [`Summary`] as JSON; rejects with `{ kind, message }` JSON.
/// `progress` is called with a fraction in `0..=1` as the work advances.
#[wasm_bindgen(js_name = pipelineWorkerProcess)]
pub async fn pipeline_worker_process(
    file: Blob,
    targets_json: String,
    progress: Function,
    heif_decoder: Function,
) -> Result<JsValue, JsValue> {
    let targets: Targets = serde_json::from_str(&targets_json).unwrap_or_default();
    let report = |fraction: f64| {
        let _ = progress.call1(&JsValue::NULL, &JsValue::from_f64(fraction.clamp(0.0, 1.0)));
    };
    match run(file, &targets, &report, &heif_decoder).await {
        Ok((blob, summary)) => {
            let out = js_sys::Object::new();
            let summary = serde_json::to_string(&summary).unwrap_or_default();
            js_sys::Reflect::set(&out, &"blob".into(), &blob)?;
            js_sys::Reflect::set(&out, &"summary".into(), &summary.into())?;
            Ok(out.into())
        }
        Err(e) => {
            let body = serde_json::json!({ "kind": e.kind(), "message": e.to_string() });
            Err(JsValue::from_str(&body.to_string()))
        }
    }
}

/// The pipeline: bytes in, a finished blob and its summary out.
/// `heif_decoder` is `decodeHeif` of the HEIC module (`src/client/heif_module.rs`),
/// which the worker's bootstrap loads only when a HEIC needs it.
async fn run(
    file: Blob,
    t: &Targets,
    progress: &dyn Fn(f64),
    heif_decoder: &Function,
) -> Result<(Blob, Summary), PipelineError> {
    let started = js_sys::Date::now();
    progress(0.02);
    let bytes = read(&file).await?;
    let source = detect(&bytes)?;
    let exif = if source == SourceFormat::Jpeg { jpeg_exif(&bytes).map(parse) } else { None };
    let captured = exif.as_ref().and_then(|e| e.captured.clone());
    let summary = |blob: &Blob, content_type: &str, (width, height): (u32, u32), quality, encodes| Summary {
        content_type: content_type.to_owned(),
        bytes: blob.size() as u64,
        width,
        height,
        quality,
        captured: captured.clone(),
        source: source.name().to_owned(),
        elapsed_ms: js_sys::Date::now() - started,
        encodes,
        sample_encodes: 0,
        sample_ssim: None,
        passed_through: false,
        decoder: Decoder::Browser,
        decode_workers: 0,
    };
    if passes_through(&bytes, t) {
        let size = strip::dimensions(&bytes).unwrap_or_default();
        let mut s = summary(&file, "image/jpeg", size, None, 0);
        s.passed_through = true;
        progress(1.0);
        return Ok((file, s));
    }
    progress(0.08);
    let (mut decoder, mut decode_workers) = (Decoder::Browser, 0);
    let mut canvas = match source {
        SourceFormat::Heif => {
            let (canvas, used, workers) = decode_heif(&file, bytes, t, heif_decoder).await?;
            (decoder, decode_workers) = (used, workers);
            canvas
        }
        _ => {
            let size = format::dimensions(&bytes, source).ok_or(PipelineError::Undecodable)?;
            let orientation = exif.and_then(|e| e.orientation).unwrap_or(1);
            // Decode a copy without EXIF, so no browser applies the orientation
            // a second time; the canvas transform applies it exactly once.
            let clean = match source {
                SourceFormat::Jpeg => strip::strip(&bytes).ok_or(PipelineError::Undecodable)?,
                _ => bytes,
            };
            let blob = blob_from(&clean, source.mime())?;
            drop(clean);
            let p = plan(size.0, size.1, orientation, t);
            let bitmap = decode(&blob, Some((p.decode_width, p.decode_height))).await?;
            upright_canvas(&bitmap, orientation)?
        }
    };
    progress(0.45);

    // The quality to start from: the lowest whose sample looks right.
    let (top, sample_encodes, sample_ssim) = sample_quality(&canvas, t).await?;
    let t = &Targets { max_quality: top, ..*t };
    progress(0.5);

    // Screenshots and scans often stay smaller as PNG. The JPEG made to
    // compare with is the quality search's first encode, not made twice.
    let mut first_jpeg = None;
    if source == SourceFormat::Png {
        let png = encode(&canvas, "image/png", None).await?;
        if png.size() as u64 <= t.max_bytes {
            let top = encode(&canvas, "image/jpeg", Some(t.max_quality)).await?;
            if png.size() <= top.size() {
                progress(1.0);
                let dims = (canvas.width(), canvas.height());
                let s = Summary {
                    decoder,
                    decode_workers,
                    sample_encodes,
                    sample_ssim,
                    ..summary(&png, "image/png", dims, None, 2)
                };
                return Ok((png.clone(), s));
            }
            first_jpeg = Some(top);
        }
    }

    let mut encodes = 0u32;
    let mut encode_loop = EncodeLoop::new(t, ENCODES_PER_ROUND, MAX_ROUNDS);
    let mut round: Vec<(f32, Blob)> = Vec::new();
    loop {
        match encode_loop.next_step() {
            Step::Encode(q) => {
                let blob = match first_jpeg.take() {
                    Some(top) if q == t.max_quality => top,
                    _ => encode(&canvas, "image/jpeg", Some(q)).await?,
                };
                encodes += 1;
                encode_loop.encoded(q, blob.size() as u64);
                round.push((q, blob));
                progress(
                    0.5 + 0.45 * (encodes as f64 / (MAX_ROUNDS as usize * ENCODES_PER_ROUND) as f64).min(1.0),
                );
            }
            Step::Shrink(factor) => {
                first_jpeg = None;
                round.clear();
                let w = ((canvas.width() as f64 * factor) as u32).max(1);
                let h = ((canvas.height() as f64 * factor) as u32).max(1);
                canvas = resized(&canvas, w, h).await?;
            }
            Step::Keep(quality) => {
                let blob = round.into_iter().find(|(q, _)| *q == quality).map(|(_, b)| b);
                let blob = without_metadata(blob.ok_or(PipelineError::Undecodable)?).await?;
                progress(1.0);
                let dims = (canvas.width(), canvas.height());
                let s = Summary {
                    decoder,
                    decode_workers,
                    sample_encodes,
                    sample_ssim,
                    ..summary(&blob, "image/jpeg", dims, Some(quality), encodes)
                };
                return Ok((blob.clone(), s));
            }
            Step::GiveUp => break,
        }
    }
    Err(PipelineError::Undecodable)
}

fn scope() -> Result<WorkerGlobalScope, PipelineError> {
    js_sys::global().dyn_into::<WorkerGlobalScope>().map_err(|_| PipelineError::Browser)
}

async fn read(blob: &Blob) -> Result<Vec<u8>, PipelineError> {
    let buffer = JsFuture::from(blob.array_buffer()).await.map_err(|_| PipelineError::Browser)?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

fn blob_from(bytes: &[u8], mime: &str) -> Result<Blob, PipelineError> {
    let parts = js_sys::Array::of1(&Uint8Array::from(bytes));
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(|_| PipelineError::Browser)
}

fn bitmap_options(size: Option<(u32, u32)>) -> ImageBitmapOptions {
    let options = ImageBitmapOptions::new();
    if let Some((w, h)) = size {
        options.set_resize_width(w);
        options.set_resize_height(h);
        options.set_resize_quality(ResizeQuality::Medium);
    }
    options
}

/// Decodes with the browser's codec, resized on the way when `size` is given.
async fn decode(blob: &Blob, size: Option<(u32, u32)>) -> Result<ImageBitmap, PipelineError> {
    let promise = scope()?
        .create_image_bitmap_with_blob_and_image_bitmap_options(blob, &bitmap_options(size))
        .map_err(|_| PipelineError::Undecodable)?;
    let bitmap = JsFuture::from(promise).await.map_err(|_| PipelineError::Undecodable)?;
    bitmap.dyn_into().map_err(|_| PipelineError::Browser)
}

fn context(canvas: &OffscreenCanvas) -> Result<OffscreenCanvasRenderingContext2d, PipelineError> {
    canvas.get_context("2d").ok().flatten().and_then(|c| c.dyn_into().ok()).ok_or(PipelineError::TooLarge)
}

/// Draws `bitmap` upright onto a new canvas, then frees the bitmap.
fn upright_canvas(bitmap: &ImageBitmap, orientation: u16) -> Result<OffscreenCanvas, PipelineError> {
    let (w, h) = (bitmap.width(), bitmap.height());
    let (ow, oh) = oriented_size(w, h, orientation);
    let canvas = OffscreenCanvas::new(ow, oh).map_err(|_| PipelineError::TooLarge)?;
    let ctx = context(&canvas)?;
    let [a, b, c, d, e, f] = canvas_transform(w, h, orientation);
    ctx.set_transform(a, b, c, d, e, f).map_err(|_| PipelineError::Browser)?;
    ctx.draw_image_with_image_bitmap(bitmap, 0.0, 0.0).map_err(|_| PipelineError::Browser)?;
    bitmap.close();
    Ok(canvas)
}

/// A resized copy of `canvas`, resampled at high quality.
async fn resized(canvas: &OffscreenCanvas, w: u32, h: u32) -> Result<OffscreenCanvas, PipelineError> {
    let promise = scope()?
        .create_image_bitmap_with_offscreen_canvas_and_image_bitmap_options(
            canvas,
            &bitmap_options(Some((w, h))),
        )
        .map_err(|_| PipelineError::Browser)?;
    let bitmap: ImageBitmap = JsFuture::from(promise)
        .await
        .map_err(|_| PipelineError::Browser)?
        .dyn_into()
        .map_err(|_| PipelineError::Browser)?;
    upright_canvas(&bitmap, 1)
}

async fn encode(canvas: &OffscreenCanvas, mime: &str, quality: Option<f32>) -> Result<Blob, PipelineError> {
    let options = ImageEncodeOptions::new();
    options.set_type(mime);
    if let Some(q) = quality {
        options.set_quality(q as f64);
    }
    let promise = canvas.convert_to_blob_with_options(&options).map_err(|_| PipelineError::Browser)?;
    let blob = JsFuture::from(promise).await.map_err(|_| PipelineError::Browser)?;
    blob.dyn_into().map_err(|_| PipelineError::Browser)
}

/// The SSIM search ([`SsimSearch`]) on the canvas's sample mosaic, which the
/// browser's own codec encodes and decodes at each probe: the quality to
/// encode the photo at, the mosaic encodes it took, and the mosaic's score
/// at that quality.
async fn sample_quality(
    canvas: &OffscreenCanvas,
    t: &Targets,
) -> Result<(f32, u32, Option<f32>), PipelineError> {
    if t.ssim_floor <= 0.0 {
        return Ok((t.max_quality, 0, None));
    }
    let sample = Sample::new(canvas.width(), canvas.height());
    let (w, h) = (sample.width(), sample.height());
    let (tw, th) = sample.tile();
    let mosaic = OffscreenCanvas::new(w, h).map_err(|_| PipelineError::TooLarge)?;
    let ctx = context(&mosaic)?;
    for (sx, sy, dx, dy) in sample.tiles() {
        let [sx, sy, dx, dy, tw, th] = [sx, sy, dx, dy, tw, th].map(f64::from);
        ctx.draw_image_with_offscreen_canvas_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
            canvas, sx, sy, tw, th, dx, dy, tw, th,
        )
        .map_err(|_| PipelineError::Browser)?;
    }
    let reference = luma(&pixels(&ctx, w, h)?);
    let scratch = OffscreenCanvas::new(w, h).map_err(|_| PipelineError::TooLarge)?;
    let scratch_ctx = context(&scratch)?;
    let mut search = SsimSearch::new(t);
    while let Some(q) = search.next_quality() {
        let bitmap = decode(&encode(&mosaic, "image/jpeg", Some(q)).await?, None).await?;
        scratch_ctx.draw_image_with_image_bitmap(&bitmap, 0.0, 0.0).map_err(|_| PipelineError::Browser)?;
        bitmap.close();
        search.record(q, ssim(&reference, &luma(&pixels(&scratch_ctx, w, h)?), w as usize));
    }
    Ok((search.chosen(), search.probes(), search.score().map(|s| s as f32)))
}

/// A canvas's RGBA pixels.
fn pixels(ctx: &OffscreenCanvasRenderingContext2d, w: u32, h: u32) -> Result<Vec<u8>, PipelineError> {
    let data =
        ctx.get_image_data(0.0, 0.0, f64::from(w), f64::from(h)).map_err(|_| PipelineError::Browser)?;
    Ok(data.data().0)
}

/// Proves the encoder wrote no metadata, and strips it if some browser did.
async fn without_metadata(blob: Blob) -> Result<Blob, PipelineError> {
    let bytes = read(&blob).await?;
    if !strip::has_metadata(&bytes) {
        return Ok(blob);
    }
    let clean = strip::strip(&bytes).ok_or(PipelineError::Browser)?;
    blob_from(&clean, "image/jpeg")
}

/// HEIC/HEIF: the browser's own decoder where it has one (Safari), else the
/// WASM decoder. Either way the pixels come out upright (HEIF carries its
/// rotation as image properties, which both apply), planned to the targets.
/// Returns which decoder it took and how many workers decoded it, for the
/// summary. `bytes` is moved into the HEIC decoder and freed here, so only
/// the decoder's copy stays in memory while it works.
async fn decode_heif(
    file: &Blob,
    bytes: Vec<u8>,
    t: &Targets,
    heif_decoder: &Function,
) -> Result<(OffscreenCanvas, Decoder, u32), PipelineError> {
    if let Ok(native) = decode(file, None).await {
        let p = plan(native.width(), native.height(), 1, t);
        let canvas = upright_canvas(&native, 1)?;
        let canvas =
            if p.scale < 1.0 { resized(&canvas, p.decode_width, p.decode_height).await? } else { canvas };
        return Ok((canvas, Decoder::Browser, 0));
    }
    let input = Uint8Array::from(bytes.as_slice());
    drop(bytes);
    let pending = heif_decoder.call1(&JsValue::NULL, &input).map_err(|_| PipelineError::Browser)?;
    drop(input);
    let decoded = match JsFuture::from(js_sys::Promise::resolve(&pending)).await {
        Ok(decoded) => decoded,
        Err(kind) => {
            return Err(match kind.as_string().as_deref() {
                Some("tooLarge") => PipelineError::TooLarge,
                Some("heifUndecodable") => PipelineError::HeifUndecodable,
                _ => PipelineError::Browser,
            })
        }
    };
    let field =
        |name: &str| js_sys::Reflect::get(&decoded, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
    let workers = field("workers").as_f64().map_or(1, |w| w as u32);
    let data: ImageData = field("image").dyn_into().map_err(|_| PipelineError::Browser)?;
    let p = plan(data.width(), data.height(), 1, t);
    let promise = scope()?
        .create_image_bitmap_with_image_data_and_image_bitmap_options(
            &data,
            &bitmap_options(Some((p.decode_width, p.decode_height))),
        )
        .map_err(|_| PipelineError::TooLarge)?;
    let bitmap: ImageBitmap = JsFuture::from(promise)
        .await
        .map_err(|_| PipelineError::TooLarge)?
        .dyn_into()
        .map_err(|_| PipelineError::Browser)?;
    Ok((upright_canvas(&bitmap, 1)?, Decoder::Wasm, workers))
}
