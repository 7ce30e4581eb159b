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
#[cfg(any(feature = "ssr", feature = "heif"))]
pub mod heif;
#[cfg(any(feature = "ssr", feature = "heif"))]
pub mod icc;
#[cfg(feature = "ssr")]
pub mod native;
pub mod orient;
pub mod plan;
pub mod quality;
pub mod ssim;
pub mod strip;

/// What the pipeline aims for. The server's configuration supplies it to
/// the pages (`PIPELINE_*` variables); the defaults are the product's.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
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
    /// The SSIM (luma, 8×8 windows) each photo's encode must reach against
    /// its resized pixels: the quality is the lowest that reaches it
    /// ([`ssim::SsimSearch`]), at most `max_quality`, and lower only when
    /// `max_bytes` demands. 0 turns the search off: the highest quality
    /// that fits `max_bytes`.
    pub ssim_floor: f32,
}

impl Default for Targets {
    fn default() -> Self {
        Self {
            max_edge: 2560,
            max_bytes: 1_000_000,
            min_quality: 0.6,
            max_quality: 0.95,
            max_canvas_pixels: 16_777_216,
            ssim_floor: 0.991,
        }
    }
}

/// Why the pipeline could not produce an image, in words for the person who
/// chose the file. Never panics or hangs: every failure ends up here.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Format(#[from] format::FormatError),
    #[error("This photo could not be read. It may be damaged.")]
    Undecodable,
    #[error("This HEIC photo could not be converted. Export it as JPEG on the phone and try again.")]
    HeifUndecodable,
    #[error("This photo is too large for this browser to open.")]
    TooLarge,
    #[error("The browser could not process this photo. Try again, or use another browser.")]
    Browser,
}

impl PipelineError {
    /// A stable machine-readable kind, for the page and the tests.
    pub fn kind(&self) -> &'static str {
        match self {
            PipelineError::Format(format::FormatError::Pdf) => "pdf",
            PipelineError::Format(format::FormatError::Empty) => "empty",
            PipelineError::Format(format::FormatError::Unsupported) => "unsupported",
            PipelineError::Format(format::FormatError::Truncated) => "truncated",
            PipelineError::Undecodable => "undecodable",
            PipelineError::HeifUndecodable => "heifUndecodable",
            PipelineError::TooLarge => "tooLarge",
            PipelineError::Browser => "browser",
        }
    }
}

/// A finished image's description (its bytes travel separately).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub content_type: String,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    /// JPEG quality used; `None` when the file passed through or stayed PNG.
    pub quality: Option<f32>,
    /// EXIF `DateTimeOriginal`, for the app's own image record only.
    pub captured: Option<String>,
    /// `jpeg`, `png`, `webp` or `heif`.
    pub source: String,
    /// Wall time from start to finished bytes, milliseconds.
    pub elapsed_ms: f64,
    /// Full-size encodes the quality search needed.
    pub encodes: u32,
    /// Encodes of the sample mosaic the SSIM search scored (0 when off).
    #[serde(default)]
    pub sample_encodes: u32,
    /// The sample's SSIM at the quality the search chose (below the floor
    /// only when even the top quality fell short); the byte cap may then
    /// have lowered the quality used.
    #[serde(default)]
    pub sample_ssim: Option<f32>,
    /// True when the original file was sent untouched.
    pub passed_through: bool,
    /// Whose codec decoded the source: the browser's, or the HEIC module's.
    #[serde(default)]
    pub decoder: Decoder,
    /// How many workers decoded the source: 1, or more when a HEIC's tiles
    /// were shared across the pool; 0 when the browser's codec decoded it.
    #[serde(default)]
    pub decode_workers: u32,
}

/// Which decoder turned the source into pixels. Safari decodes HEIC itself;
/// Chromium and Firefox cannot, so their HEICs go to the WASM module.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Decoder {
    /// `createImageBitmap`: every JPEG, PNG and WebP, and HEIC where supported.
    #[default]
    Browser,
    /// The project's HEIC module (`heif` feature).
    Wasm,
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
