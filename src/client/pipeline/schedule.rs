//! The pool's decisions, pure so they are tested natively: how many
//! workers, which waiting job next, which worker decodes the next tile, and
//! the tiles of a HEIC grid being handed out.

use super::MAX_WORKERS;

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

/// The tiles of a HEIC grid, handed out one at a time.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Tiles {
    /// The slot of the worker holding the photo.
    pub(super) lead: usize,
    count: u32,
    /// Tiles below this have been handed out.
    next: u32,
    /// Tiles handed out to a worker that failed, to hand out again.
    again: Vec<u32>,
    /// Other workers that decoded a tile, released when the photo is done.
    pub(super) helpers: Vec<usize>,
    /// A tile failed: the photo fails, nothing more is handed out.
    stopped: bool,
}

impl Tiles {
    pub(super) fn new(lead: usize, count: u32) -> Self {
        Self { lead, count, ..Self::default() }
    }

    /// The next tile to hand out, if any is left.
    pub(super) fn take(&mut self) -> Option<u32> {
        self.again.pop().or_else(|| {
            (self.next < self.count).then(|| {
                self.next += 1;
                self.next - 1
            })
        })
    }

    /// Puts back a tile a failed worker held.
    pub(super) fn give_back(&mut self, tile: u32) {
        if !self.stopped && tile < self.next && !self.again.contains(&tile) {
            self.again.push(tile);
        }
    }

    /// Hands out nothing more (a tile failed to decode: the photo fails).
    pub(super) fn stop(&mut self) {
        self.stopped = true;
        self.next = self.count;
        self.again.clear();
    }

    pub(super) fn left(&self) -> bool {
        self.next < self.count || !self.again.is_empty()
    }
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
