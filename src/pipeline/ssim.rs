//! The quality target: the lowest JPEG quality whose structural similarity
//! (SSIM, on luma) to the resized photo reaches a floor, scored on a sample.
//!
//! JPEG codes each 16×16 macroblock (8×8 luma blocks, 4:2:0 chroma) on its
//! own, so a mosaic of tiles cut from the photo on its 16-pixel grid encodes,
//! block for block, as those tiles do inside the whole photo. Scoring
//! encodes of the mosaic (4 % of a 2560×1920 photo) estimates the whole
//! photo's SSIM at each quality for a small part of one full encode; the
//! photo itself is then encoded once, at the quality found. Both pipelines
//! (the browser's worker and the native reference) run this search; each
//! cuts, encodes and decodes the mosaic with its own codec.

use super::Targets;

/// Side of one sample tile, pixels: a multiple of the 16-pixel macroblock.
pub const TILE: u32 = 64;
/// Tiles along the long edge and the short edge.
const GRID_LONG: u32 = 8;
const GRID_SHORT: u32 = 6;
/// The mosaic's score must clear the floor by this much, so the estimate's
/// error (under 0.0015 on the fixture photos, most often pessimistic) does
/// not leave the whole photo below it.
pub const SAMPLE_MARGIN: f64 = 0.0005;
/// Most encodes of the mosaic in one search.
const MAX_PROBES: u32 = 8;
/// How fast SSIM rises with quality near the top, per percent, for photos:
/// the first guess's slope, before two probes give a measured one.
const TYPICAL_SLOPE: f64 = 0.0005;

/// Where the tiles of a photo's sample come from, and where they go in the
/// mosaic. A photo smaller than four mosaics is its own sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    xs: Vec<u32>,
    ys: Vec<u32>,
    tile_w: u32,
    tile_h: u32,
}

impl Sample {
    pub fn new(width: u32, height: u32) -> Self {
        let (cols, rows) = if width >= height { (GRID_LONG, GRID_SHORT) } else { (GRID_SHORT, GRID_LONG) };
        let mosaic = u64::from(cols * TILE) * u64::from(rows * TILE);
        if u64::from(width) * u64::from(height) <= 4 * mosaic || width < cols * TILE || height < rows * TILE {
            return Self { xs: vec![0], ys: vec![0], tile_w: width.max(1), tile_h: height.max(1) };
        }
        Self { xs: spread(cols, width), ys: spread(rows, height), tile_w: TILE, tile_h: TILE }
    }

    /// The mosaic's size.
    pub fn width(&self) -> u32 {
        self.xs.len() as u32 * self.tile_w
    }

    pub fn height(&self) -> u32 {
        self.ys.len() as u32 * self.tile_h
    }

    /// One tile's size.
    pub fn tile(&self) -> (u32, u32) {
        (self.tile_w, self.tile_h)
    }

    /// Each tile as (x, y in the photo, x, y in the mosaic).
    pub fn tiles(&self) -> impl Iterator<Item = (u32, u32, u32, u32)> + '_ {
        self.ys.iter().enumerate().flat_map(move |(r, &y)| {
            self.xs
                .iter()
                .enumerate()
                .map(move |(c, &x)| (x, y, c as u32 * self.tile_w, r as u32 * self.tile_h))
        })
    }

    /// The mosaic cut from `rgba`, a `width`-wide RGBA photo.
    pub fn cut(&self, rgba: &[u8], width: u32) -> Vec<u8> {
        let (mw, row) = (self.width() as usize, self.tile_w as usize * 4);
        let mut out = vec![0u8; mw * self.height() as usize * 4];
        for (sx, sy, dx, dy) in self.tiles() {
            for line in 0..self.tile_h as usize {
                let from = ((sy as usize + line) * width as usize + sx as usize) * 4;
                let to = ((dy as usize + line) * mw + dx as usize) * 4;
                out[to..to + row].copy_from_slice(&rgba[from..from + row]);
            }
        }
        out
    }
}

/// `n` tile origins spread evenly over `len` pixels, each on the 16-pixel grid.
fn spread(n: u32, len: u32) -> Vec<u32> {
    (0..n)
        .map(|i| {
            let centre = (u64::from(2 * i + 1) * u64::from(len) / u64::from(2 * n)) as u32;
            (centre.saturating_sub(TILE / 2).min(len - TILE) / 16) * 16
        })
        .collect()
}

/// Luma (BT.601 weights) of RGBA pixels.
pub fn luma(rgba: &[u8]) -> Vec<f32> {
    rgba.chunks_exact(4)
        .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
        .collect()
}

/// Mean SSIM of two `width`-wide luma planes over 8×8 windows on the JPEG
/// block grid, with the standard constants (K1 0.01, K2 0.03, range 255).
/// The benchmarks score whole photos the same way (`end2end/bench/page.ts`).
pub fn ssim(a: &[f32], b: &[f32], width: usize) -> f64 {
    const N: usize = 8;
    let c1 = (0.01f64 * 255.0).powi(2);
    let c2 = (0.03f64 * 255.0).powi(2);
    let n = (N * N) as f64;
    let height = a.len().min(b.len()) / width.max(1);
    let (mut total, mut count) = (0.0f64, 0u64);
    for by in (0..height.saturating_sub(N - 1)).step_by(N) {
        for bx in (0..width.saturating_sub(N - 1)).step_by(N) {
            // One pass: sums, sums of squares and of products.
            let [mut sa, mut sb, mut saa, mut sbb, mut sab] = [0.0f64; 5];
            for y in by..by + N {
                let row = y * width + bx;
                for (&pa, &pb) in a[row..row + N].iter().zip(&b[row..row + N]) {
                    let (pa, pb) = (f64::from(pa), f64::from(pb));
                    sa += pa;
                    sb += pb;
                    saa += pa * pa;
                    sbb += pb * pb;
                    sab += pa * pb;
                }
            }
            let (ma, mb) = (sa / n, sb / n);
            let va = (saa - sa * ma) / (n - 1.0);
            let vb = (sbb - sb * mb) / (n - 1.0);
            let cov = (sab - sa * mb) / (n - 1.0);
            total += ((2.0 * ma * mb + c1) * (2.0 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
            count += 1;
        }
    }
    if count == 0 {
        1.0
    } else {
        total / count as f64
    }
}

/// Finds the lowest whole-percent quality, between the targets' floor and
/// top, whose sample SSIM reaches `ssim_floor` (plus [`SAMPLE_MARGIN`]); the
/// top when none does. SSIM rises with quality, so each probe narrows a
/// bracket, guessing by interpolation and never leaving the bracket.
#[derive(Debug, Clone)]
pub struct SsimSearch {
    goal: f64,
    /// Highest percent known to fall short, with its score (`min - 1` and
    /// no score before one is probed).
    lo: (u32, Option<f64>),
    /// Lowest percent known to reach the goal, with its score; the top
    /// until one is probed.
    hi: (u32, Option<f64>),
    max: u32,
    /// The score at the top quality, once probed.
    top: Option<f64>,
    probes: u32,
    next: Option<u32>,
}

impl SsimSearch {
    /// Starts at the top quality: a photo that cannot reach the floor even
    /// there needs no further probe.
    pub fn new(t: &Targets) -> Self {
        let min = percent(t.min_quality);
        let max = percent(t.max_quality).max(min);
        Self {
            goal: f64::from(t.ssim_floor) + SAMPLE_MARGIN,
            lo: (min - 1, None),
            hi: (max, None),
            max,
            top: None,
            probes: 0,
            next: Some(max),
        }
    }

    /// The next quality to score the mosaic at, or `None` when done.
    pub fn next_quality(&self) -> Option<f32> {
        self.next.map(|p| p as f32 / 100.0)
    }

    /// Records the mosaic's SSIM after an encode at `quality`.
    pub fn record(&mut self, quality: f32, ssim: f64) {
        let p = percent(quality);
        self.probes += 1;
        if p == self.max {
            self.top = Some(ssim);
        }
        if ssim >= self.goal {
            if p <= self.hi.0 {
                self.hi = (p, Some(ssim));
            }
        } else if p >= self.lo.0 {
            self.lo = (p, Some(ssim));
        }
        let top_short = p == self.max && ssim < self.goal;
        let done = top_short || self.hi.0 <= self.lo.0 + 1 || self.probes >= MAX_PROBES;
        self.next = if done { None } else { Some(self.guess()) };
    }

    /// Where the goal lies, interpolated from the bracket's scores, kept
    /// strictly inside it.
    fn guess(&self) -> u32 {
        let (lo, hi) = (self.lo.0, self.hi.0);
        let p = match (self.lo.1, self.hi.1) {
            (Some(ls), Some(hs)) if hs > ls => lo as f64 + (self.goal - ls) / (hs - ls) * f64::from(hi - lo),
            (None, Some(hs)) => hi as f64 - (hs - self.goal) / TYPICAL_SLOPE,
            _ => f64::from(lo + hi) / 2.0,
        };
        // Round up: a guess just short of the goal costs a probe that
        // narrows the bracket by one.
        (p.ceil().max(0.0) as u32).clamp(lo + 1, hi - 1)
    }

    /// The quality to encode the photo at, once `next_quality` is `None`.
    pub fn chosen(&self) -> f32 {
        self.hi.0 as f32 / 100.0
    }

    /// The mosaic's score at the chosen quality, once probed: below the
    /// goal only when even the top quality fell short.
    pub fn score(&self) -> Option<f64> {
        self.hi.1.or(self.top.filter(|_| self.hi.0 == self.max))
    }

    /// Encodes of the mosaic so far.
    pub fn probes(&self) -> u32 {
        self.probes
    }
}

fn percent(quality: f32) -> u32 {
    (quality * 100.0).round().clamp(1.0, 100.0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(floor: f32) -> Targets {
        Targets { ssim_floor: floor, ..Targets::default() }
    }

    /// Runs a search against a model of SSIM by quality percent.
    fn run(t: &Targets, model: impl Fn(u32) -> f64) -> (f32, u32) {
        let mut s = SsimSearch::new(t);
        while let Some(q) = s.next_quality() {
            s.record(q, model(percent(q)));
        }
        (s.chosen(), s.probes())
    }

    #[test]
    fn finds_the_lowest_quality_that_reaches_the_floor() {
        // Shaped like the fixture photos: 0.974 at 50 %, steeper near the top.
        let model = |p: u32| 0.974 + 0.0004 * (p as f64 - 50.0) + 0.000004 * (p as f64 - 50.0).powi(2);
        for floor in [0.980f32, 0.985, 0.99, 0.991] {
            let (q, probes) = run(&targets(floor), model);
            let goal = floor as f64 + SAMPLE_MARGIN;
            let p = percent(q);
            assert!(model(p) >= goal, "{floor}: {p} scores {}", model(p));
            assert!(model(p - 1) < goal, "{floor}: {} also reaches it", p - 1);
            assert!(probes <= 6, "{floor}: {probes} probes");
        }
    }

    #[test]
    fn a_photo_that_cannot_reach_the_floor_takes_the_top_quality_in_one_probe() {
        assert_eq!(run(&targets(0.999), |_| 0.99), (0.95, 1));
        // Its score is the top's, short of the floor.
        let mut s = SsimSearch::new(&targets(0.999));
        s.record(0.95, 0.99);
        assert_eq!((s.next_quality(), s.score()), (None, Some(0.99)));
    }

    #[test]
    fn a_photo_that_reaches_it_at_the_bottom_takes_the_bottom_quality() {
        let (q, probes) = run(&targets(0.95), |_| 0.99);
        assert_eq!(q, 0.6);
        assert!(probes <= 4, "{probes}");
    }

    #[test]
    fn a_noisy_score_still_ends_inside_the_bounds() {
        // Not monotonic: the search still stops, within its probe budget,
        // on a quality it saw reach the goal.
        let model = |p: u32| if p % 3 == 2 { 0.995 } else { 0.98 };
        let mut s = SsimSearch::new(&targets(0.99));
        while let Some(q) = s.next_quality() {
            s.record(q, model(percent(q)));
        }
        assert!(s.probes() <= MAX_PROBES);
        assert!(model(percent(s.chosen())) >= 0.99);
        assert!((0.6..=0.95).contains(&s.chosen()));
    }

    #[test]
    fn tiles_sit_on_the_macroblock_grid_inside_the_photo() {
        for (w, h) in [(2560, 1920), (1920, 2560), (2560, 1440), (1366, 901), (4000, 700)] {
            let s = Sample::new(w, h);
            let (tw, th) = s.tile();
            let tiles: Vec<_> = s.tiles().collect();
            assert!(!tiles.is_empty());
            for (x, y, dx, dy) in tiles {
                assert!(x + tw <= w && y + th <= h, "{w}x{h}: tile at {x},{y}");
                if (tw, th) == (TILE, TILE) {
                    assert_eq!((x % 16, y % 16), (0, 0), "{w}x{h}: tile at {x},{y}");
                }
                assert!(dx + tw <= s.width() && dy + th <= s.height());
            }
        }
        // A 5 MP photo's mosaic is 8 by 6 tiles: 4 % of it.
        let s = Sample::new(2560, 1920);
        assert_eq!((s.width(), s.height()), (512, 384));
        // A small photo is its own sample.
        let s = Sample::new(800, 600);
        assert_eq!((s.width(), s.height(), s.tiles().count()), (800, 600, 1));
    }

    #[test]
    fn the_mosaic_holds_the_photos_pixels_tile_by_tile() {
        let (w, h) = (2560u32, 1920u32);
        let rgba: Vec<u8> =
            (0..w * h).flat_map(|i| [(i % w) as u8, (i / w) as u8, ((i % w) / 256) as u8, 255]).collect();
        let s = Sample::new(w, h);
        let mosaic = s.cut(&rgba, w);
        let mw = s.width();
        for (sx, sy, dx, dy) in s.tiles() {
            for (ox, oy) in [(0, 0), (TILE - 1, 0), (5, TILE - 1)] {
                let from = (((sy + oy) * w + sx + ox) * 4) as usize;
                let to = (((dy + oy) * mw + dx + ox) * 4) as usize;
                assert_eq!(mosaic[to..to + 4], rgba[from..from + 4]);
            }
        }
    }

    #[test]
    fn ssim_is_one_for_equal_planes_and_falls_with_distortion() {
        let w = 64;
        let a: Vec<f32> = (0..w * w).map(|i| ((i * 37) % 251) as f32).collect();
        assert!((ssim(&a, &a, w) - 1.0).abs() < 1e-12);
        let slight: Vec<f32> =
            a.iter().enumerate().map(|(i, v)| v + if i % 2 == 0 { 2.0 } else { -2.0 }).collect();
        let heavy: Vec<f32> =
            a.iter().enumerate().map(|(i, v)| v + if i % 2 == 0 { 30.0 } else { -30.0 }).collect();
        let (s1, s2) = (ssim(&a, &slight, w), ssim(&a, &heavy, w));
        assert!(s1 < 1.0 && s2 < s1, "{s1} {s2}");
        // The one-pass sums agree with the textbook two-pass definition.
        let two_pass = |a: &[f32], b: &[f32]| {
            let (mut total, mut count) = (0.0, 0.0);
            for by in (0..w).step_by(8) {
                for bx in (0..w).step_by(8) {
                    let at = |p: &[f32], x, y| f64::from(p[(by + y) * w + bx + x]);
                    let cells: Vec<(usize, usize)> =
                        (0..8).flat_map(|y| (0..8).map(move |x| (x, y))).collect();
                    let ma = cells.iter().map(|&(x, y)| at(a, x, y)).sum::<f64>() / 64.0;
                    let mb = cells.iter().map(|&(x, y)| at(b, x, y)).sum::<f64>() / 64.0;
                    let va = cells.iter().map(|&(x, y)| (at(a, x, y) - ma).powi(2)).sum::<f64>() / 63.0;
                    let vb = cells.iter().map(|&(x, y)| (at(b, x, y) - mb).powi(2)).sum::<f64>() / 63.0;
                    let cov =
                        cells.iter().map(|&(x, y)| (at(a, x, y) - ma) * (at(b, x, y) - mb)).sum::<f64>()
                            / 63.0;
                    let (c1, c2) = (6.5025, 58.5225);
                    total += ((2.0 * ma * mb + c1) * (2.0 * cov + c2))
                        / ((ma * ma + mb * mb + c1) * (va + vb + c2));
                    count += 1.0;
                }
            }
            total / count
        };
        assert!((ssim(&a, &heavy, w) - two_pass(&a, &heavy)).abs() < 1e-9);
        assert!((ssim(&a, &slight, w) - two_pass(&a, &slight)).abs() < 1e-9);
        // Luma weights: pure green is brightest.
        assert!(luma(&[0, 255, 0, 255])[0] > luma(&[255, 0, 0, 255])[0]);
    }
}
