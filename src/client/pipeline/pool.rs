//! The pool of workers: starting them, handing out jobs and a HEIC's
//! tiles, and routing each worker's messages back to the job it holds.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use futures::channel::oneshot;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, MessageEvent, Worker, WorkerOptions, WorkerType};

use super::protocol::{FromWorker, ToWorker};
use super::schedule::{next_job, pool_size, tile_worker, Tiles};
use super::{PipelineFailure, Processed, WORKER_URL};

fn browser_pool_size() -> usize {
    let Some(navigator) = web_sys::window().map(|w| w.navigator()) else { return 1 };
    let memory =
        js_sys::Reflect::get(&navigator, &JsValue::from_str("deviceMemory")).ok().and_then(|m| m.as_f64());
    pool_size(Some(navigator.hardware_concurrency()), memory)
}

pub(super) type Done = oneshot::Sender<Result<Processed, PipelineFailure>>;

/// A job waiting for a worker.
pub(super) struct Queued {
    pub(super) id: u32,
    pub(super) file: Blob,
    pub(super) targets: String,
    pub(super) heif: bool,
}

/// A job a worker holds.
pub(super) struct Running {
    pub(super) progress: Rc<dyn Fn(f64)>,
    pub(super) done: Done,
    pub(super) heif: bool,
    pub(super) file: Blob,
    /// A HEIC grid's tiles being shared out.
    pub(super) tiles: Option<Tiles>,
}

pub(super) struct Slot {
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
pub(super) struct Pool {
    /// `None`: not started yet, or failed (started again when next needed).
    pub(super) slots: Vec<Option<Slot>>,
    pub(super) waiting: VecDeque<(Queued, Running)>,
    running: HashMap<u32, Running>,
    pub(super) next_id: u32,
    /// Jobs asked for whose first bytes are still being read: nothing is
    /// handed out until they are queued, so a batch is scheduled as a whole.
    pub(super) reading: u32,
    /// The worker that last held a HEIC. The next HEIC goes there when it is
    /// free: a WASM memory grows to the largest picture decoded in it and
    /// never shrinks, so one worker, not each in turn, keeps a full-size
    /// picture's worth.
    heif_slot: Option<usize>,
}

impl Pool {
    /// Sizes the pool on first use, from what the browser reports then.
    pub(super) fn size(&mut self) {
        if self.slots.is_empty() {
            self.slots.resize_with(browser_pool_size(), || None);
        }
    }
}

/// Starts a worker in slot `index`; false if the browser would not start one.
pub(super) fn start(pool: &Rc<RefCell<Pool>>, index: usize) -> bool {
    let slot = spawn(pool, index);
    let started = slot.is_some();
    pool.borrow_mut().slots[index] = slot;
    started
}

thread_local! {
    pub(super) static POOL: Rc<RefCell<Pool>> = Rc::default();
}

/// Tells the workers that decoded tiles of photo `id` for another that they
/// may free their copy of it.
fn release(p: &Pool, id: u32, workers: impl IntoIterator<Item = usize>) {
    for worker in workers {
        if let Some(Some(slot)) = p.slots.get(worker) {
            let _ = ToWorker::Release { id }.post(&slot.worker);
        }
    }
}

/// A worker's message about tiles: the grid from the worker holding a HEIC,
/// a tile from a worker that decoded one, or a tile's failure.
fn on_tile_message(pool: &Rc<RefCell<Pool>>, from: usize, id: u32, message: &FromWorker) {
    let mut guard = pool.borrow_mut();
    let p = &mut *guard;
    if !matches!(message, FromWorker::Grid { .. }) {
        if let Some(Some(slot)) = p.slots.get_mut(from) {
            slot.tile = None;
        }
    }
    let Some(job) = p.running.get_mut(&id) else {
        // A tile for a photo already finished or failed.
        if matches!(message, FromWorker::Tile { .. }) {
            release(p, id, [from]);
        }
        return;
    };
    match message {
        FromWorker::Grid { tiles } => job.tiles = Some(Tiles::new(from, *tiles)),
        FromWorker::Tile { index, rgba: Some(rgba) } => {
            let Some(work) = job.tiles.as_mut() else { return };
            let forward = ToWorker::TileData { id, index: *index, rgba, from: from as u32 };
            let lead = p.slots.get(work.lead).and_then(Option::as_ref);
            let sent = lead.is_some_and(|l| forward.post(&l.worker).is_ok());
            if let (false, Some(tile)) = (sent, index) {
                work.give_back(*tile);
            }
        }
        FromWorker::TileFailed { kind } => {
            let Some(work) = job.tiles.as_mut() else { return };
            work.stop();
            if let Some(Some(slot)) = p.slots.get(work.lead) {
                let _ = ToWorker::TileFailed { id, kind }.post(&slot.worker);
            }
        }
        // A tile the photo's own worker decoded and kept; and no other kind
        // reaches here.
        _ => {}
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
        let Some((id, message)) = FromWorker::read(&event.data()) else { return };
        if message.is_tile_message() {
            on_tile_message(&pool, index, id, &message);
            dispatch(&pool);
            return;
        }
        let outcome = match message {
            FromWorker::Progress { fraction } => {
                // Called with the pool released: it may change the page.
                let progress = pool.borrow().running.get(&id).map(|job| job.progress.clone());
                if let Some(progress) = progress {
                    progress(fraction);
                }
                return;
            }
            FromWorker::Finished(outcome) => outcome,
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
        let task = ToWorker::Tile { id, index: tile, file: &file, worker: index as u32 };
        let Some(slot) = p.slots[index].as_mut() else { return };
        if task.post(&slot.worker).is_err() {
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
pub(super) fn dispatch(pool: &Rc<RefCell<Pool>>) {
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
        let pool_size = p.slots.len() as u32;
        let Some(slot) = p.slots[index].as_mut() else { return };
        let job_message =
            ToWorker::Job { id: queued.id, file: &queued.file, targets: &queued.targets, pool_size };
        if job_message.post(&slot.worker).is_err() {
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
