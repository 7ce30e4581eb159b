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

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use futures::channel::oneshot;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, MessageEvent, Worker, WorkerOptions, WorkerType};

use crate::pipeline::{Summary, Targets};

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

/// How many workers: the cores the browser reports (`hardwareConcurrency`),
/// capped at [`MAX_WORKERS`], and by `deviceMemory` (GB, where the browser
/// tells it): one worker under 4 GB, two under 8 GB.
pub fn pool_size(cores: Option<f64>, memory_gb: Option<f64>) -> usize {
    let by_cores = cores.filter(|c| c.is_finite() && *c >= 1.0).map_or(1, |c| c as usize).min(MAX_WORKERS);
    let by_memory = match memory_gb.filter(|m| m.is_finite() && *m > 0.0) {
        Some(m) if m < 4.0 => 1,
        Some(m) if m < 8.0 => 2,
        _ => MAX_WORKERS,
    };
    by_cores.min(by_memory).max(1)
}

fn browser_pool_size() -> usize {
    let Some(navigator) = web_sys::window().map(|w| w.navigator()) else { return 1 };
    let memory =
        js_sys::Reflect::get(&navigator, &JsValue::from_str("deviceMemory")).ok().and_then(|m| m.as_f64());
    pool_size(Some(navigator.hardware_concurrency()), memory)
}

type Done = oneshot::Sender<Result<Processed, PipelineFailure>>;

/// A job waiting for a worker.
struct Queued {
    id: u32,
    file: Blob,
    targets: String,
    heif: bool,
}

/// A job a worker holds.
struct Running {
    progress: Rc<dyn Fn(f64)>,
    done: Done,
    heif: bool,
    file: Blob,
    /// A HEIC grid's tiles being shared out.
    tiles: Option<Tiles>,
}

/// The tiles of a HEIC grid, handed out one at a time.
#[derive(Debug, Default, PartialEq)]
struct Tiles {
    /// The slot of the worker holding the photo.
    lead: usize,
    count: u32,
    /// Tiles below this have been handed out.
    next: u32,
    /// Tiles handed out to a worker that failed, to hand out again.
    again: Vec<u32>,
    /// Other workers that decoded a tile, released when the photo is done.
    helpers: Vec<usize>,
    /// A tile failed: the photo fails, nothing more is handed out.
    stopped: bool,
}

impl Tiles {
    fn new(lead: usize, count: u32) -> Self {
        Self { lead, count, ..Self::default() }
    }

    /// The next tile to hand out, if any is left.
    fn take(&mut self) -> Option<u32> {
        self.again.pop().or_else(|| {
            (self.next < self.count).then(|| {
                self.next += 1;
                self.next - 1
            })
        })
    }

    /// Puts back a tile a failed worker held.
    fn give_back(&mut self, tile: u32) {
        if !self.stopped && tile < self.next && !self.again.contains(&tile) {
            self.again.push(tile);
        }
    }

    /// Hands out nothing more (a tile failed to decode: the photo fails).
    fn stop(&mut self) {
        self.stopped = true;
        self.next = self.count;
        self.again.clear();
    }

    fn left(&self) -> bool {
        self.next < self.count || !self.again.is_empty()
    }
}

struct Slot {
    worker: Worker,
    /// The job it holds, if any.
    job: Option<u32>,
    /// The tile it is decoding (job, tile), if any.
    tile: Option<(u32, u32)>,
    // Kept alive as long as the worker.
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

#[derive(Default)]
struct Pool {
    /// `None`: not started yet, or failed (started again when next needed).
    slots: Vec<Option<Slot>>,
    waiting: VecDeque<(Queued, Running)>,
    running: HashMap<u32, Running>,
    next_id: u32,
    /// Jobs asked for whose first bytes are still being read: nothing is
    /// handed out until they are queued, so a batch is scheduled as a whole.
    reading: u32,
    /// The worker that last held a HEIC. The next HEIC goes there when it is
    /// free: a WASM memory grows to the largest picture decoded in it and
    /// never shrinks, so one worker, not each in turn, keeps a full-size
    /// picture's worth.
    heif_slot: Option<usize>,
}

impl Pool {
    /// Sizes the pool on first use, from what the browser reports then.
    fn size(&mut self) {
        if self.slots.is_empty() {
            self.slots.resize_with(browser_pool_size(), || None);
        }
    }
}

/// Starts a worker in slot `index`; false if the browser would not start one.
fn start(pool: &Rc<RefCell<Pool>>, index: usize) -> bool {
    let slot = spawn(pool, index);
    let started = slot.is_some();
    pool.borrow_mut().slots[index] = slot;
    started
}

thread_local! {
    static POOL: Rc<RefCell<Pool>> = Rc::default();
}

fn field(value: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(value, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn message(fields: &[(&str, &JsValue)]) -> js_sys::Object {
    let message = js_sys::Object::new();
    for (k, v) in fields {
        let _ = js_sys::Reflect::set(&message, &JsValue::from_str(k), v);
    }
    message
}

/// Tells the workers that decoded tiles of photo `id` for another that they
/// may free their copy of it.
fn release(p: &Pool, id: u32, workers: impl IntoIterator<Item = usize>) {
    let release = message(&[("type", &JsValue::from_str("release")), ("id", &JsValue::from(id))]);
    for worker in workers {
        if let Some(Some(slot)) = p.slots.get(worker) {
            let _ = slot.worker.post_message(&release);
        }
    }
}

/// A worker's message about tiles: "grid" from the worker holding a HEIC
/// (how many tiles), "tile" from a worker that decoded one (with its pixels,
/// unless it holds the photo itself), "tileFailed".
fn on_tile_message(pool: &Rc<RefCell<Pool>>, from: usize, kind: &str, id: u32, data: &JsValue) {
    let mut guard = pool.borrow_mut();
    let p = &mut *guard;
    if kind != "grid" {
        if let Some(Some(slot)) = p.slots.get_mut(from) {
            slot.tile = None;
        }
    }
    let Some(job) = p.running.get_mut(&id) else {
        // A tile for a photo already finished or failed.
        if kind == "tile" {
            release(p, id, [from]);
        }
        return;
    };
    match kind {
        "grid" => {
            let count = field(data, "tiles").as_f64().unwrap_or(0.0) as u32;
            job.tiles = Some(Tiles::new(from, count));
        }
        "tile" => {
            let Some(work) = job.tiles.as_mut() else { return };
            let rgba = field(data, "rgba");
            if !rgba.is_undefined() {
                let forward = message(&[
                    ("type", &JsValue::from_str("tileData")),
                    ("id", &JsValue::from(id)),
                    ("index", &field(data, "index")),
                    ("rgba", &rgba),
                    ("from", &JsValue::from(from as u32)),
                ]);
                let transfer = js_sys::Array::of1(&field(&rgba, "buffer"));
                let lead = p.slots.get(work.lead).and_then(Option::as_ref);
                let sent =
                    lead.is_some_and(|l| l.worker.post_message_with_transfer(&forward, &transfer).is_ok());
                if let (false, Some(tile)) = (sent, field(data, "index").as_f64()) {
                    work.give_back(tile as u32);
                }
            }
        }
        _ => {
            let Some(work) = job.tiles.as_mut() else { return };
            work.stop();
            let lead = work.lead;
            let failed = message(&[
                ("type", &JsValue::from_str("tileFailed")),
                ("id", &JsValue::from(id)),
                ("kind", &field(data, "kind")),
            ]);
            if let Some(Some(slot)) = p.slots.get(lead) {
                let _ = slot.worker.post_message(&failed);
            }
        }
    }
}

fn spawn(pool: &Rc<RefCell<Pool>>, index: usize) -> Option<Slot> {
    let options = WorkerOptions::new();
    options.set_type(WorkerType::Module);
    let worker = Worker::new_with_options(WORKER_URL, &options).ok()?;

    // A worker that was replaced may still have messages or an error event
    // on their way: they must not touch the slot's new worker.
    let current = move |pool: &Rc<RefCell<Pool>>, me: &Worker| {
        pool.borrow().slots.get(index).and_then(Option::as_ref).is_some_and(|s| s.worker == *me)
    };
    let weak = Rc::downgrade(pool);
    let me = worker.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let Some(pool) = weak.upgrade() else { return };
        if !current(&pool, &me) {
            return;
        }
        let data = event.data();
        let Some(id) = field(&data, "id").as_f64().map(|id| id as u32) else { return };
        let kind = field(&data, "type").as_string();
        if let Some(tile_message @ ("grid" | "tile" | "tileFailed")) = kind.as_deref() {
            on_tile_message(&pool, index, tile_message, id, &data);
            dispatch(&pool);
            return;
        }
        let outcome = match kind.as_deref() {
            Some("progress") => {
                // Called with the pool released: it may change the page.
                let progress = pool.borrow().running.get(&id).map(|job| job.progress.clone());
                if let (Some(progress), Some(f)) = (progress, field(&data, "fraction").as_f64()) {
                    progress(f);
                }
                return;
            }
            Some("done") => {
                let summary = field(&data, "summary").as_string().and_then(|s| serde_json::from_str(&s).ok());
                match (field(&data, "blob").dyn_into::<Blob>(), summary) {
                    (Ok(blob), Some(summary)) => Ok(Processed { blob, summary }),
                    _ => Err(PipelineFailure::browser()),
                }
            }
            Some("error") => Err(field(&data, "error")
                .as_string()
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or_else(PipelineFailure::browser)),
            _ => return,
        };
        let job = {
            let mut p = pool.borrow_mut();
            if let Some(Some(slot)) = p.slots.get_mut(index) {
                slot.job = None;
            }
            let job = p.running.remove(&id);
            if let Some(tiles) = job.as_ref().and_then(|j| j.tiles.as_ref()) {
                release(&p, id, tiles.helpers.iter().copied());
            }
            job
        };
        if let Some(job) = job {
            let _ = job.done.send(outcome);
        }
        dispatch(&pool);
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));

    // The worker failed to load or crashed: fail the job it held, drop it,
    // and let the next job start a new one (not from inside this closure,
    // which belongs to the old worker: the slot is only emptied here).
    let weak = Rc::downgrade(pool);
    let me = worker.clone();
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_event: web_sys::Event| {
        let Some(pool) = weak.upgrade() else { return };
        if !current(&pool, &me) {
            return;
        }
        let (job, old) = {
            let mut p = pool.borrow_mut();
            let old = p.slots.get_mut(index).and_then(Option::take);
            let job = old.as_ref().and_then(|s| s.job).and_then(|id| p.running.remove(&id).map(|j| (id, j)));
            if let Some((id, Some(tiles))) = job.as_ref().map(|(id, j)| (*id, j.tiles.as_ref())) {
                release(&p, id, tiles.helpers.iter().copied());
            }
            let job = job.map(|(_, j)| j);
            // A tile it was decoding for another worker's photo goes to the others.
            if let Some((id, tile)) = old.as_ref().and_then(|s| s.tile) {
                if let Some(work) = p.running.get_mut(&id).and_then(|j| j.tiles.as_mut()) {
                    work.give_back(tile);
                }
            }
            (job, old)
        };
        if let Some(job) = job {
            let _ = job.done.send(Err(PipelineFailure::browser()));
        }
        if let Some(old) = old {
            old.worker.terminate();
            // Its closures may be running (this one is): dropped later.
            leptos::task::spawn_local(async move { drop(old) });
        }
        dispatch(&pool);
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));

    Some(Slot { worker, job: None, tile: None, _on_message: on_message, _on_error: on_error })
}

/// Which waiting job (given whether each is a HEIC) starts next, if any.
/// HEICs are the longest jobs and run one at a time, so the first waiting
/// HEIC starts as soon as no other HEIC runs, and the shorter JPEGs fill the
/// other workers around it; otherwise the first waiting JPEG. Starting the
/// long chain first makes the batch finish sooner; each job's own output does
/// not depend on the order.
pub fn next_job(waiting: impl Iterator<Item = bool> + Clone, heif_running: bool) -> Option<usize> {
    let first_heif = if heif_running { None } else { waiting.clone().position(|heif| heif) };
    first_heif.or_else(|| waiting.clone().position(|heif| !heif))
}

/// Which slot decodes the next tile of a photo held in slot `lead`: the
/// holder while it has no tile, else an idle worker, else a slot with no
/// worker yet (to be started). `slots` gives, per slot, `None` for no worker,
/// else whether it holds a job and whether it has a tile.
pub fn tile_worker(slots: &[Option<(bool, bool)>], lead: usize) -> Option<usize> {
    if slots.get(lead).copied().flatten().is_some_and(|(_, tile)| !tile) {
        return Some(lead);
    }
    slots.iter().position(|s| *s == Some((false, false))).or_else(|| slots.iter().position(Option::is_none))
}

/// Hands out the tiles of the HEIC being decoded, one per worker at a time.
fn dispatch_tiles(pool: &Rc<RefCell<Pool>>) {
    loop {
        let mut p = pool.borrow_mut();
        let Some((&id, lead)) =
            p.running.iter().find_map(|(id, j)| j.tiles.as_ref().filter(|t| t.left()).map(|t| (id, t.lead)))
        else {
            return;
        };
        let busy: Vec<_> =
            p.slots.iter().map(|s| s.as_ref().map(|s| (s.job.is_some(), s.tile.is_some()))).collect();
        let Some(index) = tile_worker(&busy, lead) else { return };
        if p.slots[index].is_none() {
            drop(p);
            if !start(pool, index) {
                return;
            }
            continue;
        }
        let Some(job) = p.running.get_mut(&id) else { return };
        let file = job.file.clone();
        let Some(work) = job.tiles.as_mut() else { return };
        let Some(tile) = work.take() else { return };
        if index != lead && !work.helpers.contains(&index) {
            work.helpers.push(index);
        }
        let task = message(&[
            ("type", &JsValue::from_str("tile")),
            ("id", &JsValue::from(id)),
            ("index", &JsValue::from(tile)),
            ("file", &file),
            ("worker", &JsValue::from(index as u32)),
        ]);
        let Some(slot) = p.slots[index].as_mut() else { return };
        if slot.worker.post_message(&task).is_err() {
            if let Some(work) = p.running.get_mut(&id).and_then(|j| j.tiles.as_mut()) {
                work.give_back(tile);
            }
            return;
        }
        slot.tile = Some((id, tile));
    }
}

/// Hands out tiles first, then waiting jobs to idle workers, starting
/// workers as needed, in the order [`next_job`] gives.
fn dispatch(pool: &Rc<RefCell<Pool>>) {
    dispatch_tiles(pool);
    loop {
        let mut p = pool.borrow_mut();
        if p.waiting.is_empty() {
            return;
        }
        if p.reading > 0 {
            return;
        }
        p.size();
        let Some(index) =
            p.slots.iter().position(|s| s.as_ref().is_none_or(|s| s.job.is_none() && s.tile.is_none()))
        else {
            return;
        };
        let Some(at) = next_job(p.waiting.iter().map(|(q, _)| q.heif), p.running.values().any(|j| j.heif))
        else {
            return;
        };
        let heif = p.waiting.get(at).is_some_and(|(q, _)| q.heif);
        let free = |s: &Option<Slot>| s.as_ref().is_some_and(|s| s.job.is_none() && s.tile.is_none());
        let index = match p.heif_slot {
            Some(last) if heif && p.slots.get(last).is_some_and(free) => last,
            _ => index,
        };
        if p.slots[index].is_none() {
            drop(p);
            if !start(pool, index) {
                // No worker can start: every waiting job fails.
                let failed: Vec<_> = pool.borrow_mut().waiting.drain(..).collect();
                for (_, job) in failed {
                    let _ = job.done.send(Err(PipelineFailure::browser()));
                }
                return;
            }
            continue;
        }
        let Some((queued, job)) = p.waiting.remove(at) else { return };
        let pool_size = JsValue::from(p.slots.len() as u32);
        let Some(slot) = p.slots[index].as_mut() else { return };
        let job_message = message(&[
            ("id", &JsValue::from(queued.id)),
            ("file", &queued.file),
            ("targets", &JsValue::from_str(&queued.targets)),
            ("poolSize", &pool_size),
        ]);
        if slot.worker.post_message(&job_message).is_err() {
            drop(p);
            let _ = job.done.send(Err(PipelineFailure::browser()));
            continue;
        }
        slot.job = Some(queued.id);
        if heif {
            p.heif_slot = Some(index);
        }
        p.running.insert(queued.id, job);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heics_start_first_one_at_a_time_and_jpegs_fill_in() {
        let order = |waiting: &[bool], running: bool| next_job(waiting.iter().copied(), running);
        // JPEG, JPEG, HEIC, HEIC: the first HEIC goes first.
        assert_eq!(order(&[false, false, true, true], false), Some(2));
        // With a HEIC running, the first JPEG; never the other HEIC.
        assert_eq!(order(&[false, false, true], true), Some(0));
        assert_eq!(order(&[true, true], true), None);
        assert_eq!(order(&[false, true], false), Some(1));
        assert_eq!(order(&[false, false], false), Some(0));
        assert_eq!(order(&[], false), None);
    }

    #[test]
    fn tiles_go_to_the_holder_then_idle_workers_then_new_ones() {
        // Per slot: None (no worker), or (holds a job, has a tile).
        let idle = Some((false, false));
        let holder = |tile| Some((true, tile));
        assert_eq!(tile_worker(&[holder(false), idle, None], 0), Some(0));
        assert_eq!(tile_worker(&[holder(true), Some((true, false)), idle], 0), Some(2));
        // A worker busy with its own job or with a tile is passed over.
        assert_eq!(tile_worker(&[holder(true), Some((true, false)), Some((false, true)), None], 0), Some(3));
        assert_eq!(tile_worker(&[holder(true), Some((true, false))], 0), None);
        // The holder need not be the first slot.
        assert_eq!(tile_worker(&[idle, holder(false)], 1), Some(1));
    }

    #[test]
    fn every_tile_is_handed_out_once_and_a_failed_workers_tile_again() {
        let mut tiles = Tiles::new(0, 4);
        assert_eq!((tiles.take(), tiles.take()), (Some(0), Some(1)));
        // The worker holding tile 1 fails: tile 1 is handed out again, once.
        tiles.give_back(1);
        tiles.give_back(1);
        // A tile not handed out yet cannot be given back.
        tiles.give_back(3);
        let rest: Vec<_> = std::iter::from_fn(|| tiles.take()).collect();
        assert_eq!(rest, vec![1, 2, 3]);
        assert!(!tiles.left());
        let mut stopped = Tiles::new(0, 4);
        stopped.take();
        stopped.give_back(0);
        stopped.stop();
        assert_eq!(stopped.take(), None);
        // A tile given back after the photo failed is not handed out again.
        stopped.give_back(1);
        assert_eq!(stopped.take(), None);
    }

    #[test]
    fn pool_follows_cores_and_memory() {
        assert_eq!(pool_size(Some(8.0), None), MAX_WORKERS);
        assert_eq!(pool_size(Some(8.0), Some(8.0)), MAX_WORKERS);
        assert_eq!(pool_size(Some(2.0), None), 2);
        assert_eq!(pool_size(Some(1.0), None), 1);
        assert_eq!(pool_size(Some(8.0), Some(4.0)), 2);
        assert_eq!(pool_size(Some(8.0), Some(2.0)), 1);
        assert_eq!(pool_size(Some(8.0), Some(0.5)), 1);
        // A browser that reports nothing useful gets one worker.
        assert_eq!(pool_size(None, None), 1);
        assert_eq!(pool_size(Some(f64::NAN), Some(f64::NAN)), 1);
        assert_eq!(pool_size(Some(0.0), None), 1);
    }
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
