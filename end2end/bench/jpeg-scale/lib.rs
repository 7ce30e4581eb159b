//! `decodeScaled(bytes, longEdge)`: a JPEG decoded with its IDCT scaled
//! (1/1, 1/2, 1/4 or 1/8) to the smallest size whose long edge is still at
//! least `longEdge`, as `[width, height, RGBA]`, for the browser to resize
//! the rest of the way.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(js_name = decodeScaled)]
pub fn decode_scaled(bytes: &[u8], long_edge: u16) -> Result<js_sys::Array, JsValue> {
    let fail = |e: jpeg_decoder::Error| JsValue::from_str(&e.to_string());
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.read_info().map_err(fail)?;
    let info = decoder.info().ok_or_else(|| JsValue::from_str("no header"))?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let edge = u32::from(long_edge);
    let (tw, th) = if w >= h { (edge, edge * h / w) } else { (edge * w / h, edge) };
    let (sw, sh) = decoder.scale(tw as u16, th as u16).map_err(fail)?;
    let rgb = decoder.decode().map_err(fail)?;
    let rgba = js_sys::Uint8ClampedArray::new_with_length(u32::from(sw) * u32::from(sh) * 4);
    let mut row = vec![255u8; usize::from(sw) * 4];
    for (y, line) in rgb.chunks_exact(usize::from(sw) * 3).enumerate() {
        for (out, px) in row.chunks_exact_mut(4).zip(line.chunks_exact(3)) {
            out[..3].copy_from_slice(px);
        }
        rgba.subarray((y * row.len()) as u32, ((y + 1) * row.len()) as u32).copy_from(&row);
    }
    Ok(js_sys::Array::of3(&JsValue::from(sw), &JsValue::from(sh), &rgba))
}
