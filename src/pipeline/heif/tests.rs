//! The HEIF decoder's tests: damaged input, grids, colour and apertures.

use super::*;

#[test]
fn damaged_and_foreign_input_is_refused_without_panicking() {
    assert!(matches!(decode_rgba(b""), Err(PipelineError::HeifUndecodable)));
    let mut fake = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
    fake.extend_from_slice(&[0xAB; 512]);
    assert!(matches!(decode_rgba(&fake), Err(PipelineError::HeifUndecodable)));
    assert!(Grid::open(&fake).is_err());
}

/// A grid of `rows × columns` tiles of `tile` pixels, cropped to
/// `width × height`, marked sRGB (`nclx`) if `srgb`, whose tiles hold no
/// real picture.
fn grid_file(rows: u16, columns: u16, tile: u32, (width, height): (u32, u32), srgb: bool) -> Vec<u8> {
    use heifer::heifer_isobmff::boxes::HevcConfig;
    use heifer::heifer_isobmff::writer::{HeifWriter, ImageSpec};
    let config = HevcConfig {
        profile_idc: 3,
        level_idc: 90,
        chroma_format: 1,
        bit_depth_luma: 8,
        bit_depth_chroma: 8,
        nal_length_size: 4,
        nal_units: vec![],
    };
    let slices = vec![vec![0x26, 0x01, 0xAF, 0x00]];
    let mut writer = HeifWriter::new();
    let tiles: Vec<_> = (0..rows * columns)
        .map(|_| {
            let mut spec = ImageSpec::new(tile, tile, config.clone(), &slices);
            spec.hidden = true;
            writer.add_image(&spec)
        })
        .collect();
    let nclx = ColorInfo::Nclx { primaries: 1, transfer: 13, matrix: 6, full_range: true };
    let grid = writer.add_grid(rows, columns, width, height, &tiles, srgb.then_some(&nclx), None);
    writer.set_primary(grid);
    writer.finish()
}

#[test]
fn a_grid_over_the_pixel_limit_is_refused_before_any_tile_is_decoded() {
    // 16384 × 8192 = 134 MP, over the 64 MP a phone's browser is allowed.
    let huge = grid_file(1, 2, 8192, (16384, 8192), true);
    assert!(matches!(Grid::open(&huge), Err(PipelineError::TooLarge)));
    assert!(matches!(decode_rgba(&huge), Err(PipelineError::TooLarge)));
}

#[test]
fn odd_layouts_and_grids_without_colour_are_left_to_the_whole_decode() {
    // An sRGB grid whose tiles cover it, the last column cut: taken apart.
    let (_, grid) = Grid::open(&grid_file(2, 3, 512, (1500, 1000), true)).expect("parses").expect("a grid");
    assert_eq!(grid.tiles(), 6);
    assert_eq!(grid.place(5), (1024, 512, 476, 488));
    // Two 512-pixel tiles cannot cover 2000 pixels; a third column of 512
    // would start outside 1024; a second row outside 512. And a grid with
    // no ICC profile and no `nclx`, where the decoder's own colour
    // handling decides. Each is decoded whole, by the decoder, which fails
    // here only because these tiles hold no real picture.
    for file in [
        grid_file(1, 2, 512, (2000, 512), true),
        grid_file(1, 3, 512, (1024, 512), true),
        grid_file(2, 1, 512, (512, 512), true),
        grid_file(1, 2, 512, (1024, 512), false),
    ] {
        assert!(matches!(Grid::open(&file), Ok(None)));
        assert!(matches!(decode_rgba(&file), Err(PipelineError::HeifUndecodable)));
    }
}
