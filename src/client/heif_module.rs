//! The HEIC module: [`crate::pipeline::heif`] for the pipeline worker, built
//! on its own (`--features heif`) so only a phone or desktop that meets a HEIC
//! downloads the decoder. `decodeHeif` decodes a whole picture to an
//! `ImageData` the worker draws like any bitmap; [`HeifGrid`] decodes a
//! grid's tiles one at a time (in whichever worker the page gives each to)
//! and assembles them in the worker that holds the photo.

use wasm_bindgen::prelude::*;

use crate::pipeline::heif::{decode_rgba, Assembly, Grid, Rgba};
use crate::pipeline::PipelineError;
use heifer::heifer_isobmff::HeifFile;

fn kind(e: PipelineError) -> JsValue {
    JsValue::from_str(e.kind())
}

/// The pixels as an `ImageData`, copied out of this module's memory into an
/// array the `ImageData` owns.
///
/// `new ImageData(array)` keeps the array it is given rather than copying
/// it, so a view into WASM memory would go on pointing at the decoder's
/// buffer after it is freed: the allocator writes its free-list links into
/// the first bytes, and the next decode in the same worker overwrites the
/// rest, so the top-left pixels of the output would depend on what the
/// worker did before.
fn image_data(image: Rgba) -> Result<web_sys::ImageData, JsValue> {
    let owned = js_sys::Uint8ClampedArray::new_with_length(image.rgba.len() as u32);
    owned.copy_from(&image.rgba);
    drop(image.rgba);
    web_sys::ImageData::new_with_js_u8_clamped_array_and_sh(&owned, image.width, image.height)
        .map_err(|_| JsValue::from_str("tooLarge"))
}

/// `decodeHeif(bytes)`: upright sRGB pixels as `ImageData`, or rejects with
/// the pipeline's error kind (`tooLarge`, `heifUndecodable`).
#[wasm_bindgen(js_name = decodeHeif)]
pub fn decode_heif(bytes: &[u8]) -> Result<web_sys::ImageData, JsValue> {
    image_data(decode_rgba(bytes).map_err(kind)?)
}

/// A HEIC whose picture is a grid of tiles, held to decode tiles from it and,
/// in the worker that holds the photo, to assemble them.
#[wasm_bindgen]
pub struct HeifGrid {
    bytes: Vec<u8>,
    grid: Grid,
    /// Created on the first tile placed: a worker that only decodes tiles
    /// for another never holds the whole picture.
    assembly: Option<Assembly>,
}

#[wasm_bindgen]
impl HeifGrid {
    /// `HeifGrid.open(bytes)`: the grid, or `undefined` when the picture must
    /// be decoded whole (with `decodeHeif`); rejects with the error kind.
    pub fn open(bytes: Vec<u8>) -> Result<Option<HeifGrid>, JsValue> {
        let grid = match Grid::open(&bytes).map_err(kind)? {
            Some((_, grid)) => grid,
            None => return Ok(None),
        };
        Ok(Some(HeifGrid { bytes, grid, assembly: None }))
    }

    fn file(&self) -> Result<HeifFile<'_>, JsValue> {
        HeifFile::parse(&self.bytes).map_err(|_| kind(PipelineError::HeifUndecodable))
    }

    /// How many tiles it has.
    pub fn tiles(&self) -> u32 {
        self.grid.tiles()
    }

    /// `decodeTile(index)`: tile `index`'s pixels, in an array of its own
    /// (ready to transfer to another worker).
    #[wasm_bindgen(js_name = decodeTile)]
    pub fn decode_tile(&self, index: u32) -> Result<js_sys::Uint8Array, JsValue> {
        let tile = self.grid.decode_tile(&self.file()?, index).map_err(kind)?;
        let owned = js_sys::Uint8Array::new_with_length(tile.rgba.len() as u32);
        owned.copy_from(&tile.rgba);
        Ok(owned)
    }

    /// `place(index, pixels)`: puts a decoded tile into the picture. Returns
    /// how many tiles are still missing.
    pub fn place(&mut self, index: u32, rgba: &[u8]) -> Result<u32, JsValue> {
        let assembly = self.assembly.get_or_insert_with(|| self.grid.assembly());
        assembly.place(&self.grid, index, rgba).map_err(kind)?;
        Ok(assembly.missing())
    }

    /// `finish()`: the assembled picture, upright and in sRGB, once every
    /// tile is placed.
    pub fn finish(&mut self) -> Result<web_sys::ImageData, JsValue> {
        let assembly = self.assembly.take().ok_or_else(|| kind(PipelineError::HeifUndecodable))?;
        let file = self.file()?;
        image_data(assembly.finish(&self.grid, &file).map_err(kind)?)
    }
}
