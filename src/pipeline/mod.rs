//! The client image pipeline's decisions, as pure functions.
//!
//! Everything here compiles natively and to WASM with no image codec: format
//! detection, EXIF reading (orientation, capture time, GPS presence),
//! orientation of decoded pixels, output-size planning, the JPEG quality
//! search, metadata stripping on JPEG bytes, and the pass-through rule. The
//! browser glue (decode and encode with the browser's codecs, in a worker)
//! calls these; `cargo test` covers them natively. [`native`] (server build
//! only) runs the whole pipeline with the `image` crate: the deterministic
//! reference the browser path is compared with.

pub mod exif;
pub mod format;
#[cfg(feature = "ssr")]
pub mod native;
pub mod orient;
pub mod plan;
pub mod quality;
pub mod strip;

/// What the pipeline aims for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Targets {
    /// Longest edge of the output, pixels (never upscaled).
    pub max_edge: u32,
    /// Output size target, bytes.
    pub max_bytes: u64,
    /// Lowest JPEG quality before dimensions shrink instead.
    pub min_quality: f32,
    /// Highest JPEG quality tried.
    pub max_quality: f32,
    /// Largest canvas the browser can be asked for (iOS caps near 16 MP).
    pub max_canvas_pixels: u64,
}

impl Default for Targets {
    fn default() -> Self {
        Self {
            max_edge: 2560,
            max_bytes: 1_000_000,
            min_quality: 0.6,
            max_quality: 0.95,
            max_canvas_pixels: 16_777_216,
        }
    }
}

/// Whether a file can be uploaded exactly as it is: a JPEG with no metadata
/// (so nothing to strip and no orientation to apply), within the byte target
/// and the size cap.
pub fn passes_through(bytes: &[u8], t: &Targets) -> bool {
    format::detect(bytes) == Ok(format::SourceFormat::Jpeg)
        && bytes.len() as u64 <= t.max_bytes
        && !strip::has_metadata(bytes)
        && strip::dimensions(bytes).is_some_and(|(w, h)| w.max(h) <= t.max_edge)
}
