//! The page's side of the image pipeline: one Web Worker per page, started
//! on first use, that runs [`super::worker`]. Jobs queue in the worker (one
//! image decodes at a time, which bounds memory on a phone); each reports
//! progress back here.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use futures::channel::oneshot;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, MessageEvent, Worker, WorkerOptions, WorkerType};

use crate::pipeline::{Summary, Targets};

/// Where the worker script is served (from `public/`).
pub const WORKER_URL: &str = "/pipeline-worker.js";

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

type Done = oneshot::Sender<Result<Processed, PipelineFailure>>;

struct Job {
    progress: Box<dyn Fn(f64)>,
    done: Done,
}

struct Handle {
    worker: Worker,
    jobs: Rc<RefCell<HashMap<u32, Job>>>,
    next_id: u32,
    /// Set when the worker failed; the next job starts a new one.
    broken: Rc<Cell<bool>>,
    // Kept alive as long as the worker.
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

thread_local! {
    static HANDLE: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

fn field(value: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(value, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn spawn() -> Result<Handle, PipelineFailure> {
    let options = WorkerOptions::new();
    options.set_type(WorkerType::Module);
    let worker = Worker::new_with_options(WORKER_URL, &options).map_err(|_| PipelineFailure::browser())?;
    let jobs: Rc<RefCell<HashMap<u32, Job>>> = Rc::default();

    let table = jobs.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let data = event.data();
        let Some(id) = field(&data, "id").as_f64().map(|id| id as u32) else { return };
        match field(&data, "type").as_string().as_deref() {
            Some("progress") => {
                if let (Some(job), Some(f)) = (table.borrow().get(&id), field(&data, "fraction").as_f64()) {
                    (job.progress)(f);
                }
            }
            Some("done") => {
                let Some(job) = table.borrow_mut().remove(&id) else { return };
                let summary = field(&data, "summary").as_string().and_then(|s| serde_json::from_str(&s).ok());
                let outcome = match (field(&data, "blob").dyn_into::<Blob>(), summary) {
                    (Ok(blob), Some(summary)) => Ok(Processed { blob, summary }),
                    _ => Err(PipelineFailure::browser()),
                };
                let _ = job.done.send(outcome);
            }
            Some("error") => {
                let Some(job) = table.borrow_mut().remove(&id) else { return };
                let failure = field(&data, "error")
                    .as_string()
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or_else(PipelineFailure::browser);
                let _ = job.done.send(Err(failure));
            }
            _ => {}
        }
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));

    // The worker failed to load or crashed: fail what it held, and let the
    // next job start a new worker (not here: this closure belongs to the old one).
    let table = jobs.clone();
    let broken: Rc<Cell<bool>> = Rc::default();
    let flag = broken.clone();
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_event: web_sys::Event| {
        flag.set(true);
        for (_, job) in table.borrow_mut().drain() {
            let _ = job.done.send(Err(PipelineFailure::browser()));
        }
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));

    Ok(Handle { worker, jobs, next_id: 1, broken, _on_message: on_message, _on_error: on_error })
}

/// Starts the worker (and so the download of its module) ahead of the first
/// photo, so that photo does not wait for it.
pub fn warm_up() {
    HANDLE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = spawn().ok();
        }
    });
}

/// Runs one file through the pipeline in the worker. `on_progress` receives
/// fractions in `0..=1` while it works.
pub async fn process(
    file: &Blob,
    targets: &Targets,
    on_progress: impl Fn(f64) + 'static,
) -> Result<Processed, PipelineFailure> {
    let (done, outcome) = oneshot::channel();
    HANDLE.with(|cell| -> Result<(), PipelineFailure> {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|h| h.broken.get()) {
            if let Some(old) = slot.take() {
                old.worker.terminate();
            }
            *slot = Some(spawn()?);
        }
        let handle = slot.as_mut().ok_or_else(PipelineFailure::browser)?;
        let id = handle.next_id;
        handle.next_id = handle.next_id.wrapping_add(1);
        handle.jobs.borrow_mut().insert(id, Job { progress: Box::new(on_progress), done });
        let message = js_sys::Object::new();
        let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&message, &JsValue::from_str(k), v);
        let targets = serde_json::to_string(targets).unwrap_or_default();
        let sent = set("id", &JsValue::from(id))
            .and_then(|_| set("file", file))
            .and_then(|_| set("targets", &JsValue::from_str(&targets)))
            .and_then(|_| handle.worker.post_message(&message));
        if sent.is_err() {
            handle.jobs.borrow_mut().remove(&id);
            return Err(PipelineFailure::browser());
        }
        Ok(())
    })?;
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
