//! The HEIC module: [`crate::pipeline::heif`] for the pipeline worker, built
//! on its own (`--features heif`) so only a phone or desktop that meets a HEIC
//! downloads the decoder. Its one export decodes to an `ImageData` the worker
//! draws like any bitmap.

use wasm_bindgen::prelude::*;

use crate::pipeline::heif::decode_rgba;

/// `decodeHeif(bytes)`: upright sRGB pixels as `ImageData`, or rejects with
/// the pipeline's error kind (`tooLarge`, `heifUndecodable`).
#[wasm_bindgen(js_name = decodeHeif)]
pub fn decode_heif(bytes: &[u8]) -> Result<web_sys::ImageData, JsValue> {
    let image = decode_rgba(bytes).map_err(|e| JsValue::from_str(e.kind()))?;
    web_sys::ImageData::new_with_u8_clamped_array_and_sh(
        wasm_bindgen::Clamped(&image.rgba),
        image.width,
        image.height,
    )
    .map_err(|_| JsValue::from_str("tooLarge"))
}
