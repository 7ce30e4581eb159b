//! The HEIC module: [`crate::pipeline::heif`] for the pipeline worker, built
//! on its own (`--features heif`) so only a phone or desktop that meets a HEIC
//! downloads the decoder. Its one export decodes to an `ImageData` the worker
//! draws like any bitmap.

use wasm_bindgen::prelude::*;

use crate::pipeline::heif::decode_rgba;

/// `decodeHeif(bytes)`: upright sRGB pixels as `ImageData`, or rejects with
/// the pipeline's error kind (`tooLarge`, `heifUndecodable`).
///
/// The pixels are copied out of this module's memory into an array the
/// `ImageData` owns. `new ImageData(array)` keeps the array it is given
/// rather than copying it, so a view into WASM memory would go on pointing at
/// the decoder's buffer after it is freed: the allocator writes its free-list
/// links into the first bytes, and the next decode in the same worker
/// overwrites the rest, so the top-left pixels of the output would depend on
/// what the worker did before.
#[wasm_bindgen(js_name = decodeHeif)]
pub fn decode_heif(bytes: &[u8]) -> Result<web_sys::ImageData, JsValue> {
    let image = decode_rgba(bytes).map_err(|e| JsValue::from_str(e.kind()))?;
    let owned = js_sys::Uint8ClampedArray::new_with_length(image.rgba.len() as u32);
    owned.copy_from(&image.rgba);
    drop(image.rgba);
    web_sys::ImageData::new_with_js_u8_clamped_array_and_sh(&owned, image.width, image.height)
        .map_err(|_| JsValue::from_str("tooLarge"))
}
