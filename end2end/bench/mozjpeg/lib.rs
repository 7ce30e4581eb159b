//! `encode(rgba, width, height, quality, smallest)`: RGBA pixels to a JPEG
//! by mozjpeg-rs, with its default preset (progressive, trellis, optimised
//! Huffman tables) or, when `smallest`, its smallest one.

use mozjpeg_rs::{Encoder, Preset};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn encode(rgba: &[u8], width: u32, height: u32, quality: u8, smallest: bool) -> Result<Vec<u8>, JsValue> {
    let rgb: Vec<u8> = rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    let preset = if smallest { Preset::ProgressiveSmallest } else { Preset::ProgressiveBalanced };
    Encoder::new(preset)
        .quality(quality)
        .encode_rgb(&rgb, width, height)
        .map_err(|e| JsValue::from_str(&e.to_string()))
}
