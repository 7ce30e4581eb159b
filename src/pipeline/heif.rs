//! HEIC/HEIF decoding in pure Rust (`heifer`), for browsers without a native
//! HEIC decoder (Chromium, Firefox) and for the native reference path.
//!
//! Chosen by measurement (BENCHMARKS.md, "HEIC decoder"): `heifer` matched
//! libheif on real iPhone, Xiaomi and Galaxy photos; `heic-rs` decoded them
//! with wrong contrast. The decoder applies the HEIF transforms (`clap`,
//! `irot`, `imir`) itself, so its pixels are upright: the EXIF orientation in
//! a HEIC is informational and must not be applied again.
//!
//! Phone HEICs are grids of independently coded tiles (512 pixels square on
//! iPhones), so a [`Grid`] can be decoded tile by tile, the tiles in several
//! workers at once, and assembled here ([`Assembly`]). The whole-image decode
//! ([`decode_rgba`]) and the assembled one give the same pixels: both end in
//! the same colour conversion ([`super::icc`]), which is why a grid is only
//! taken apart when that conversion handles its colour.

use heifer::heifer_hevc_dec::decoder::{decode_picture, DecodeOptions};
use heifer::heifer_isobmff::boxes::{ColorInfo, Property};
use heifer::heifer_isobmff::{FourCC, HeifFile, ItemId};
use heifer::Image;

use super::icc::ToSrgb;
use super::PipelineError;

/// Largest HEIF decoded in WASM, in pixels (4 bytes each). A 48 MP photo
/// fits; a 200 MP one is refused with a clear message instead of exhausting
/// a phone's memory.
pub const MAX_PIXELS: u64 = 64_000_000;

/// Upright 8-bit sRGB pixels.
pub struct Rgba {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

fn options() -> heifer::Options {
    heifer::Options { max_threads: 1, max_pixels: MAX_PIXELS }
}

fn undecodable<E>(_: E) -> PipelineError {
    PipelineError::HeifUndecodable
}

/// Decodes the primary image, converting Display P3 (iPhone) to sRGB, since
/// the output JPEG carries no colour profile.
pub fn decode_rgba(bytes: &[u8]) -> Result<Rgba, PipelineError> {
    let file = HeifFile::parse(bytes).map_err(undecodable)?;
    let converted = match Grid::of(&file)? {
        // A grid that could be taken apart: the same conversion the
        // assembled tiles get, on the decoder's own whole image.
        Some(grid) => heifer::decode_rgba8(bytes, &options()).map(|mut image| {
            grid.colour.apply(&mut image.data);
            image
        }),
        None => heifer::decode_srgb_rgba8(bytes, &options()),
    };
    match converted {
        Ok(image) => Ok(Rgba { width: image.width, height: image.height, rgba: image.data }),
        Err(heifer::Error::Invalid(why)) if why.contains("too large") => Err(PipelineError::TooLarge),
        Err(_) => Err(PipelineError::HeifUndecodable),
    }
}

/// What to do with the assembled pixels' colour.
enum Colour {
    /// Already sRGB (its `nclx` says BT.709 primaries and the sRGB curve).
    Untouched,
    /// Through its ICC profile.
    Profile(Box<ToSrgb>),
}

impl Colour {
    fn apply(&self, rgba: &mut [u8]) {
        if let Self::Profile(to_srgb) = self {
            to_srgb.apply(rgba);
        }
    }
}

/// A primary image that is a grid of plain 8-bit HEVC tiles, in a colour the
/// project converts itself: what can be decoded tile by tile.
pub struct Grid {
    id: ItemId,
    tiles: Vec<ItemId>,
    columns: u32,
    tile_width: u32,
    tile_height: u32,
    /// The assembled size, before the grid's own transforms.
    width: u32,
    height: u32,
    colour: Colour,
}

/// One decoded tile: its place in the grid and its pixels (RGBA, before the
/// colour conversion, cut to the part inside the picture).
pub struct Tile {
    pub index: u32,
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl Grid {
    /// The grid of a HEIF's bytes, or `None` when it must be decoded whole
    /// (not a grid, tiles with their own transforms or alpha, more than 8
    /// bits, a colour profile converted only by the decoder).
    pub fn open(bytes: &[u8]) -> Result<Option<(HeifFile<'_>, Grid)>, PipelineError> {
        let file = HeifFile::parse(bytes).map_err(undecodable)?;
        Ok(Grid::of(&file)?.map(|grid| (file, grid)))
    }

    fn of(file: &HeifFile<'_>) -> Result<Option<Self>, PipelineError> {
        let id = file.primary_id;
        if file.item(id).map_err(undecodable)?.item_type != FourCC(*b"grid") {
            return Ok(None);
        }
        let layout = file.grid(id).map_err(undecodable)?;
        let tiles = file.referenced_items(id, b"dimg").to_vec();
        let columns = u32::from(layout.columns);
        if tiles.len() < 2 || tiles.len() != usize::from(layout.rows) * usize::from(layout.columns) {
            return Ok(None);
        }
        let (width, height) = (layout.output_width, layout.output_height);
        if width == 0 || height == 0 {
            return Err(PipelineError::HeifUndecodable);
        }
        if u64::from(width) * u64::from(height) > MAX_PIXELS {
            return Err(PipelineError::TooLarge);
        }
        // Every tile the same plain 8-bit picture, sized by its `ispe`, with
        // no auxiliary image at all: only then does the decoder convert each
        // tile straight into the picture, cut to the part inside it, as
        // `decode_tile` does (otherwise it converts whole tiles and copies,
        // and the chroma at a cut edge is interpolated differently).
        let mut size = None;
        for &tile in &tiles {
            let plain = file.item(tile).map_err(undecodable)?.item_type == FourCC(*b"hvc1")
                && file.referencing_items(tile, b"auxl").is_empty()
                && !file.item_properties(tile).map_err(undecodable)?.any(|p| {
                    matches!(p, Property::CleanAperture { .. } | Property::Rotation(_) | Property::Mirror(_))
                });
            let eight_bit = file
                .hevc_config(tile)
                .map_err(undecodable)?
                .is_some_and(|c| c.bit_depth_luma == 8 && c.bit_depth_chroma == 8);
            let tile_size = file.image_size(tile).map_err(undecodable)?;
            if !plain || !eight_bit || tile_size.is_none() || (size.is_some() && size != tile_size) {
                return Ok(None);
            }
            size = tile_size;
        }
        let Some((tile_width, tile_height)) = size else { return Ok(None) };
        // The tiles cover the picture and each starts inside it; any other
        // layout is left to the decoder's own handling.
        let (w, h, rows) = (u64::from(width), u64::from(height), u64::from(layout.rows));
        let (tw, th, columns64) = (u64::from(tile_width), u64::from(tile_height), u64::from(columns));
        let fits = tw > 0
            && th > 0
            && tw * th <= MAX_PIXELS
            && tw * columns64 >= w
            && th * rows >= h
            && tw * (columns64 - 1) < w
            && th * (rows - 1) < h;
        if !fits {
            return Ok(None);
        }
        // An alpha plane of the whole grid is decoded only by the decoder
        // (other auxiliary images, such as an iPhone's depth or HDR gain
        // map, are not part of the picture).
        if has_alpha(file, id)? {
            return Ok(None);
        }
        let colour = match file.icc_profile(id).map_err(undecodable)? {
            Some(icc) => match ToSrgb::from_icc(icc) {
                Some(to_srgb) => Colour::Profile(Box::new(to_srgb)),
                None => return Ok(None),
            },
            None => match nclx(file, id).or_else(|| tiles.first().and_then(|&t| nclx(file, t))) {
                Some((1, 13)) => Colour::Untouched,
                _ => return Ok(None),
            },
        };
        Ok(Some(Self { id, tiles, columns, tile_width, tile_height, width, height, colour }))
    }

    /// How many tiles it has.
    pub fn tiles(&self) -> u32 {
        self.tiles.len() as u32
    }

    /// Where tile `index` goes: left, top, and the width and height of the
    /// part of it inside the picture (tiles on the right and bottom edges
    /// overhang it).
    fn place(&self, index: u32) -> (u32, u32, u32, u32) {
        let (x, y) = ((index % self.columns) * self.tile_width, (index / self.columns) * self.tile_height);
        (x, y, self.tile_width.min(self.width - x), self.tile_height.min(self.height - y))
    }

    /// Decodes tile `index` on its own.
    pub fn decode_tile(&self, file: &HeifFile<'_>, index: u32) -> Result<Tile, PipelineError> {
        let &item = self.tiles.get(index as usize).ok_or(PipelineError::HeifUndecodable)?;
        let (_, _, width, height) = self.place(index);
        let stream = file.hevc_bitstream(item).map_err(undecodable)?;
        let frame = decode_picture(&stream, DecodeOptions { max_pixels: MAX_PIXELS, ..Default::default() })
            .map_err(undecodable)?;
        drop(stream);
        // As the decoder requires: the coded picture at least the tile's size.
        if frame.widths[0] < self.tile_width || frame.heights[0] < self.tile_height {
            return Err(PipelineError::HeifUndecodable);
        }
        let params = file
            .item_properties(item)
            .map_err(undecodable)?
            .find_map(|p| match p {
                Property::Color(ColorInfo::Nclx { matrix, full_range, .. }) => {
                    Some(heifer::color::ColorParams { matrix: *matrix, full_range: *full_range })
                }
                _ => None,
            })
            .unwrap_or_else(|| heifer::color::ColorParams::from_frame(&frame));
        let mut rgba = vec![0u8; width as usize * height as usize * 4];
        let mut rows: Vec<&mut [u8]> = rgba.chunks_exact_mut(width as usize * 4).collect();
        heifer::color::frame_to_rgba_into(&frame, params, &mut rows, width as usize, height as usize);
        Ok(Tile { index, width, height, rgba })
    }

    /// Starts assembling the picture.
    pub fn assembly(&self) -> Assembly {
        let canvas = vec![0u8; self.width as usize * self.height as usize * 4];
        Assembly { canvas, placed: vec![false; self.tiles.len()] }
    }
}

/// Whether an item has an auxiliary alpha plane.
fn has_alpha(file: &HeifFile<'_>, id: ItemId) -> Result<bool, PipelineError> {
    for aux in file.referencing_items(id, b"auxl") {
        let alpha = file.item_properties(aux).map_err(undecodable)?.any(|p| {
            matches!(p, Property::AuxiliaryType(t)
                if t == "urn:mpeg:hevc:2015:auxid:1" || t == "urn:mpeg:mpegB:cicp:systems:auxiliary:alpha")
        });
        if alpha {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The `nclx` primaries and transfer of an item, if it has them.
fn nclx(file: &HeifFile<'_>, id: ItemId) -> Option<(u16, u16)> {
    file.item_properties(id).ok()?.find_map(|p| match p {
        Property::Color(ColorInfo::Nclx { primaries, transfer, .. }) => Some((*primaries, *transfer)),
        _ => None,
    })
}

/// A grid's picture being put together from its tiles, in any order.
pub struct Assembly {
    canvas: Vec<u8>,
    placed: Vec<bool>,
}

impl Assembly {
    /// Copies a decoded tile into place. A tile of the wrong size, or placed
    /// twice, is refused.
    pub fn place(&mut self, grid: &Grid, index: u32, rgba: &[u8]) -> Result<(), PipelineError> {
        if self.placed.get(index as usize) != Some(&false) {
            return Err(PipelineError::HeifUndecodable);
        }
        let (x, y, w, h) = grid.place(index);
        let row = w as usize * 4;
        if rgba.len() != row * h as usize {
            return Err(PipelineError::HeifUndecodable);
        }
        let stride = grid.width as usize * 4;
        for (r, src) in rgba.chunks_exact(row).enumerate() {
            let at = (y as usize + r) * stride + x as usize * 4;
            self.canvas[at..at + row].copy_from_slice(src);
        }
        self.placed[index as usize] = true;
        Ok(())
    }

    /// Tiles not placed yet.
    pub fn missing(&self) -> u32 {
        self.placed.iter().filter(|p| !**p).count() as u32
    }

    /// The finished picture: the grid's crop, rotation and mirror applied in
    /// the order the file lists them, then converted to sRGB.
    pub fn finish(self, grid: &Grid, file: &HeifFile<'_>) -> Result<Rgba, PipelineError> {
        if self.missing() > 0 {
            return Err(PipelineError::HeifUndecodable);
        }
        let canvas = self.canvas;
        let mut image =
            Image { width: grid.width, height: grid.height, bit_depth: 8, has_alpha: false, data: canvas };
        for property in file.item_properties(grid.id).map_err(undecodable)? {
            image = match *property {
                Property::CleanAperture { width, height, horiz_offset, vert_offset } => {
                    clean_aperture(&image, width, height, horiz_offset, vert_offset)?
                }
                Property::Rotation(0) => image,
                Property::Rotation(quarters) => image.rotate_ccw(quarters),
                Property::Mirror(top_bottom) => image.mirror(top_bottom),
                _ => image,
            };
        }
        grid.colour.apply(&mut image.data);
        Ok(Rgba { width: image.width, height: image.height, rgba: image.data })
    }
}

/// The `clap` crop (ISO/IEC 14496-12): a centred window given as fractions,
/// its centre offset from the picture's centre.
fn clean_aperture(
    image: &Image<u8>,
    (width_n, width_d): (u32, u32),
    (height_n, height_d): (u32, u32),
    (x_n, x_d): (i32, u32),
    (y_n, y_d): (i32, u32),
) -> Result<Image<u8>, PipelineError> {
    if width_d == 0 || height_d == 0 || x_d == 0 || y_d == 0 {
        return Err(PipelineError::HeifUndecodable);
    }
    let (w, h) = (f64::from(width_n) / f64::from(width_d), f64::from(height_n) / f64::from(height_d));
    let centre_x = f64::from(x_n) / f64::from(x_d) + (f64::from(image.width) - 1.0) / 2.0;
    let centre_y = f64::from(y_n) / f64::from(y_d) + (f64::from(image.height) - 1.0) / 2.0;
    let left = (centre_x - (w - 1.0) / 2.0).round().max(0.0) as u32;
    let top = (centre_y - (h - 1.0) / 2.0).round().max(0.0) as u32;
    Ok(image.crop(left, top, w.round() as u32, h.round() as u32))
}

#[cfg(test)]
mod tests;
