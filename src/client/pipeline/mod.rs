//! The page's side of the image pipeline: a small pool of Web Workers, each
//! running [`super::worker`], started on first use.
//!
//! Jobs wait here, not in the workers, and each goes to the first idle
//! worker, so a slow photo never holds up the next while another worker is
//! free. The pool has [`pool_size`] workers: one per core the browser reports,
//! at most [`MAX_WORKERS`], fewer on a phone that reports little memory. Each
//! worker holds one photo at a time, and only one HEIC decodes at once across
//! the pool (it needs the whole picture in memory; a JPEG is decoded already
//! shrunk), so peak memory is one full-size HEIC plus one shrunk photo per
//! other worker. Every job reports progress back here.
//!
//! A HEIC made of tiles (every phone HEIC) is decoded across the pool: the
//! worker holding it reports its tile count, and the tiles are handed out
//! here one at a time, to that worker and to any idle one (started if need
//! be), before any waiting job; each comes back to the holder, which
//! assembles the picture. A worker that fails mid-tile gives its tile back to
//! the others. A tile worker holds one tile at a time, so the pool's peak
//! memory grows by one tile per worker.

use std::rc::Rc;

use futures::channel::oneshot;
#[cfg(feature = "hydrate")]
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;

use crate::pipeline::{Summary, Targets};

mod pool;
mod protocol;
mod schedule;

use self::pool::{dispatch, start, Queued, Running, POOL};
pub use self::schedule::{next_job, pool_size, tile_worker};

/// Where the worker script is served (from `public/`).
pub const WORKER_URL: &str = "/pipeline-worker.js";

/// Most workers in the pool, whatever the phone reports.
pub const MAX_WORKERS: usize = 3;

/// A finished image, ready to upload.
#[derive(Debug, Clone)]
pub struct Processed {
    pub blob: Blob,
    pub summary: Summary,
}

/// Why an image could not be prepared; `message` is for the GP.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct PipelineFailure {
    pub kind: String,
    pub message: String,
}

impl PipelineFailure {
    fn browser() -> Self {
        Self {
            kind: "browser".into(),
            message: "The browser could not process this photo. Try again, or use another browser.".into(),
        }
    }
}

/// Starts the first worker (and so the download of its module) ahead of the
/// first photo, so that photo does not wait for it.
pub fn warm_up() {
    POOL.with(|pool| {
        let mut p = pool.borrow_mut();
        p.size();
        if p.slots[0].is_none() {
            drop(p);
            start(pool, 0);
        }
    });
}

/// Whether the file starts like a HEIC/HEIF (read from its first bytes).
async fn starts_like_heif(file: &Blob) -> bool {
    let Ok(head) = file.slice_with_i32_and_i32(0, 16) else { return false };
    match JsFuture::from(head.array_buffer()).await {
        Ok(buffer) => crate::pipeline::format::is_heif_head(&js_sys::Uint8Array::new(&buffer).to_vec()),
        Err(_) => false,
    }
}

/// One job's first bytes being read. Dropped when the read ends, or with
/// the job if its caller gives up on it mid-read, so a dropped job can never
/// hold the queue: the jobs it held back are handed out then.
struct Reading;

impl Drop for Reading {
    fn drop(&mut self) {
        let _ = POOL.try_with(|pool| {
            let Ok(mut p) = pool.try_borrow_mut() else { return };
            p.reading = p.reading.saturating_sub(1);
            let ready = p.reading == 0;
            drop(p);
            if ready {
                dispatch(pool);
            }
        });
    }
}

/// Runs one file through the pipeline in a worker of the pool. `on_progress`
/// receives fractions in `0..=1` while it works. Jobs start as workers come
/// free, in [`next_job`]'s order: HEICs first, one at a time, JPEGs in the
/// order they are asked for.
pub async fn process(
    file: &Blob,
    targets: &Targets,
    on_progress: impl Fn(f64) + 'static,
) -> Result<Processed, PipelineFailure> {
    let (done, outcome) = oneshot::channel();
    // Its place in the queue is taken now, before reading its first bytes.
    let id = POOL.with(|pool| {
        let mut p = pool.borrow_mut();
        p.next_id = p.next_id.wrapping_add(1);
        p.reading += 1;
        p.next_id
    });
    let reading = Reading;
    let heif = starts_like_heif(file).await;
    let queued =
        Queued { id, file: file.clone(), targets: serde_json::to_string(targets).unwrap_or_default(), heif };
    let running = Running { progress: Rc::new(on_progress), done, heif, file: file.clone(), tiles: None };
    POOL.with(|pool| {
        let mut p = pool.borrow_mut();
        let at = p.waiting.iter().position(|(q, _)| q.id > id).unwrap_or(p.waiting.len());
        p.waiting.insert(at, (queued, running));
    });
    // Queued: the last of a batch to get here hands the batch out.
    drop(reading);
    outcome.await.unwrap_or_else(|_| Err(PipelineFailure::browser()))
}

/// The pipeline for scripts: `processImage(file, targets?, onProgress?)`
/// resolves to `{ blob, summary }` (summary as an object) or rejects with
/// `{ kind, message }`. The benchmarks and the browser tests drive it.
/// Exported by the page's bundle only, not by the worker and HEIC modules.
#[cfg(feature = "hydrate")]
#[wasm_bindgen(js_name = processImage)]
pub async fn process_image(
    file: Blob,
    targets: JsValue,
    on_progress: Option<js_sys::Function>,
) -> Result<JsValue, JsValue> {
    let targets: Targets = targets
        .as_string()
        .or_else(|| js_sys::JSON::stringify(&targets).ok().and_then(|s| s.as_string()))
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    let outcome = process(&file, &targets, move |f| {
        if let Some(cb) = &on_progress {
            let _ = cb.call1(&JsValue::NULL, &JsValue::from_f64(f));
        }
    })
    .await;
    let json = |s: String| js_sys::JSON::parse(&s).unwrap_or(JsValue::NULL);
    match outcome {
        Ok(p) => {
            let out = js_sys::Object::new();
            js_sys::Reflect::set(&out, &"blob".into(), &p.blob)?;
            js_sys::Reflect::set(
                &out,
                &"summary".into(),
                &json(serde_json::to_string(&p.summary).unwrap_or_default()),
            )?;
            Ok(out.into())
        }
        Err(f) => Err(json(serde_json::json!({ "kind": f.kind, "message": f.message }).to_string())),
    }
}
