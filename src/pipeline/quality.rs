//! Finds the highest JPEG quality that meets the byte target in a handful of
//! encodes, or says how much to shrink when even the quality floor is too big.
//!
//! A step-by-step state machine, so the caller can encode asynchronously
//! (the browser's `convertToBlob`) between steps.

use super::Targets;

/// The result of a search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Encode at this quality; it produced `bytes`.
    Fits { quality: f32, bytes: u64 },
    /// Even the floor is too big: scale both dimensions by `factor` and search again.
    Shrink { factor: f64 },
}

/// Binary search over quality, bounded in encodes.
#[derive(Debug, Clone)]
pub struct QualitySearch {
    target: u64,
    lo: f32,
    hi: f32,
    best: Option<(f32, u64)>,
    floor_size: Option<u64>,
    encodes: usize,
    max_encodes: usize,
    next: Option<f32>,
}

/// Qualities closer than this are not worth another encode.
const TOLERANCE: f32 = 0.025;

impl QualitySearch {
    /// Starts with the highest quality (often enough for small photos).
    pub fn new(t: &Targets, max_encodes: usize) -> Self {
        Self {
            target: t.max_bytes,
            lo: t.min_quality,
            hi: t.max_quality,
            best: None,
            floor_size: None,
            encodes: 0,
            max_encodes: max_encodes.max(2),
            next: Some(t.max_quality),
        }
    }

    /// The next quality to encode at, or `None` when done.
    pub fn next_quality(&self) -> Option<f32> {
        self.next
    }

    /// Records the size an encode at `quality` produced.
    pub fn record(&mut self, quality: f32, bytes: u64) {
        self.encodes += 1;
        let fits = bytes <= self.target;
        if fits && self.best.is_none_or(|(q, _)| quality > q) {
            self.best = Some((quality, bytes));
        }
        if (quality - self.lo).abs() < f32::EPSILON {
            self.floor_size = Some(bytes);
        }
        if fits {
            self.lo = self.lo.max(quality);
        } else {
            self.hi = self.hi.min(quality);
        }
        self.next = if fits && quality >= self.hi {
            None // the top quality fits
        } else if self.encodes == 1 {
            Some(self.lo) // probe the floor next
        } else if self.best.is_none() || self.encodes >= self.max_encodes || self.hi - self.lo < TOLERANCE {
            None
        } else {
            Some((self.lo + self.hi) / 2.0)
        };
    }

    /// The decision, once `next_quality` is `None`.
    pub fn outcome(&self) -> Outcome {
        match (self.best, self.floor_size) {
            (Some((quality, bytes)), _) => Outcome::Fits { quality, bytes },
            (None, Some(size)) => Outcome::Shrink {
                factor: ((self.target as f64 / size as f64).sqrt() * 0.95).clamp(0.1, 0.95),
            },
            (None, None) => Outcome::Shrink { factor: 0.75 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a search against a size model.
    fn run(t: &Targets, size: impl Fn(f32) -> u64) -> (Outcome, usize) {
        let mut s = QualitySearch::new(t, 6);
        let mut n = 0;
        while let Some(q) = s.next_quality() {
            s.record(q, size(q));
            n += 1;
        }
        (s.outcome(), n)
    }

    #[test]
    fn small_photos_take_one_encode_at_top_quality() {
        let t = Targets::default();
        let (out, n) = run(&t, |_| 400_000);
        assert_eq!((out, n), (Outcome::Fits { quality: 0.95, bytes: 400_000 }, 1));
    }

    #[test]
    fn finds_the_highest_fitting_quality_in_few_encodes() {
        let t = Targets::default();
        // Size grows steeply with quality; 1 MB is reached near q = 0.8.
        let model = |q: f32| (200_000.0 + 4_000_000.0 * (q - 0.6).max(0.0).powi(2) * 5.0) as u64;
        let (out, n) = run(&t, model);
        let Outcome::Fits { quality, bytes } = out else { panic!("{out:?}") };
        assert!(bytes <= 1_000_000);
        assert!(quality > 0.72 && quality < 0.82, "{quality}");
        assert!(n <= 6, "{n} encodes");
    }

    #[test]
    fn shrinks_when_even_the_floor_is_too_big() {
        let t = Targets::default();
        let (out, n) = run(&t, |_| 4_000_000);
        assert_eq!(n, 2, "top, then floor");
        let Outcome::Shrink { factor } = out else { panic!("{out:?}") };
        assert!((factor - 0.475).abs() < 0.01, "{factor}");
    }
}
