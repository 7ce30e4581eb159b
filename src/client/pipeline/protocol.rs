//! The worker protocol, both ways, as types: what the page and
//! `public/pipeline-worker.js` say to each other. Every message is a plain
//! object with the photo's job `id`; all but a new job carry a `type`.
//! Reading and writing the objects happens here only, so the pool matches
//! on an enum rather than on strings.

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, Worker};

use super::{PipelineFailure, Processed};

/// What a worker tells the page about job `id`.
pub(super) enum FromWorker {
    /// The worker holding a HEIC grid: it has this many tiles to share out.
    Grid { tiles: u32 },
    /// A tile decoded, with its pixels if it was decoded for another
    /// worker's photo (`None`: the worker holds the photo and kept them).
    Tile { index: Option<u32>, rgba: Option<JsValue> },
    /// A tile could not be decoded; `kind` is the failure, passed on as is.
    TileFailed { kind: JsValue },
    /// How far the job is, 0 to 1.
    Progress { fraction: f64 },
    /// The job finished: the photo processed, or why not.
    Finished(Result<Processed, PipelineFailure>),
}

impl FromWorker {
    /// Reads a message event's data: its job id and what it says. `None`
    /// for anything that is not a message of the protocol.
    pub(super) fn read(data: &JsValue) -> Option<(u32, FromWorker)> {
        let id = number(data, "id")? as u32;
        let message = match field(data, "type").as_string()?.as_str() {
            "grid" => FromWorker::Grid { tiles: number(data, "tiles").unwrap_or(0.0) as u32 },
            "tile" => FromWorker::Tile {
                index: number(data, "index").map(|i| i as u32),
                rgba: Some(field(data, "rgba")).filter(|r| !r.is_undefined()),
            },
            "tileFailed" => FromWorker::TileFailed { kind: field(data, "kind") },
            "progress" => FromWorker::Progress { fraction: number(data, "fraction")? },
            "done" => {
                let summary = field(data, "summary").as_string().and_then(|s| serde_json::from_str(&s).ok());
                FromWorker::Finished(match (field(data, "blob").dyn_into::<Blob>(), summary) {
                    (Ok(blob), Some(summary)) => Ok(Processed { blob, summary }),
                    _ => Err(PipelineFailure::browser()),
                })
            }
            "error" => FromWorker::Finished(Err(field(data, "error")
                .as_string()
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or_else(PipelineFailure::browser))),
            _ => return None,
        };
        Some((id, message))
    }

    /// Whether it is about a HEIC grid's tiles.
    pub(super) fn is_tile_message(&self) -> bool {
        matches!(self, FromWorker::Grid { .. } | FromWorker::Tile { .. } | FromWorker::TileFailed { .. })
    }
}

/// What the page tells a worker.
pub(super) enum ToWorker<'a> {
    /// Process this photo (job `id`) for these targets (JSON).
    Job { id: u32, file: &'a Blob, targets: &'a str, pool_size: u32 },
    /// Decode tile `index` of photo `id`, held by another worker; this
    /// worker is slot `worker`.
    Tile { id: u32, index: u32, file: &'a Blob, worker: u32 },
    /// Pixels of tile `index` of the photo this worker holds, decoded by
    /// slot `from`. The pixels' buffer is transferred, not copied.
    TileData { id: u32, index: Option<u32>, rgba: &'a JsValue, from: u32 },
    /// Another worker failed to decode a tile of the photo this one holds.
    TileFailed { id: u32, kind: &'a JsValue },
    /// The worker may free its copy of photo `id`, which it decoded tiles of.
    Release { id: u32 },
}

impl ToWorker<'_> {
    /// Posts the message to `worker`.
    pub(super) fn post(&self, worker: &Worker) -> Result<(), JsValue> {
        let n = |v: u32| JsValue::from(v);
        let index = |i: Option<u32>| i.map_or(JsValue::UNDEFINED, JsValue::from);
        match *self {
            ToWorker::Job { id, file, targets, pool_size } => worker.post_message(&object(&[
                ("id", &n(id)),
                ("file", file),
                ("targets", &JsValue::from_str(targets)),
                ("poolSize", &n(pool_size)),
            ])),
            ToWorker::Tile { id, index: tile, file, worker: slot } => worker.post_message(&object(&[
                ("type", &JsValue::from_str("tile")),
                ("id", &n(id)),
                ("index", &n(tile)),
                ("file", file),
                ("worker", &n(slot)),
            ])),
            ToWorker::TileData { id, index: tile, rgba, from } => {
                let message = object(&[
                    ("type", &JsValue::from_str("tileData")),
                    ("id", &n(id)),
                    ("index", &index(tile)),
                    ("rgba", rgba),
                    ("from", &n(from)),
                ]);
                worker.post_message_with_transfer(&message, &js_sys::Array::of1(&field(rgba, "buffer")))
            }
            ToWorker::TileFailed { id, kind } => worker.post_message(&object(&[
                ("type", &JsValue::from_str("tileFailed")),
                ("id", &n(id)),
                ("kind", kind),
            ])),
            ToWorker::Release { id } => {
                worker.post_message(&object(&[("type", &JsValue::from_str("release")), ("id", &n(id))]))
            }
        }
    }
}

fn field(value: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(value, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn number(value: &JsValue, name: &str) -> Option<f64> {
    field(value, name).as_f64()
}

fn object(fields: &[(&str, &JsValue)]) -> js_sys::Object {
    let message = js_sys::Object::new();
    for (k, v) in fields {
        let _ = js_sys::Reflect::set(&message, &JsValue::from_str(k), v);
    }
    message
}
