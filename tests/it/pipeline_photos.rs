//! The native reference pipeline on real photos: 8–20 MP camera JPEGs from
//! Debian's wallpaper packages and real phone HEICs from pillow-heif's source
//! package, fetched into the cache by `scripts/test.sh` (never committed).

use std::path::PathBuf;

use clinical_images::pipeline::exif::{jpeg_exif, parse};
use clinical_images::pipeline::format::detect;
use clinical_images::pipeline::native::{compress, encode_jpeg, prepare, process, sample_quality};
use clinical_images::pipeline::ssim::{luma, ssim};
use clinical_images::pipeline::strip::{dimensions, has_metadata};
use clinical_images::pipeline::{PipelineError, Targets};

fn fixture(var: &str, name: &str) -> Vec<u8> {
    let dir = std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run the tests through scripts/test.sh, which fetches the photos")
    });
    let path = PathBuf::from(dir).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Puts an EXIF block with orientation 6 and GPS into a JPEG (after SOI).
fn with_camera_exif(jpeg: &[u8]) -> Vec<u8> {
    // Little-endian TIFF: IFD0 {Orientation=6, GPS IFD pointer}, GPS IFD {LatitudeRef="S"}.
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0]);
    tiff.extend_from_slice(&[0x25, 0x88, 4, 0, 1, 0, 0, 0, 38, 0, 0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&[0x01, 0x00, 2, 0, 2, 0, 0, 0, b'S', 0, 0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes());
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((tiff.len() + 8) as u16).to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(&tiff);
    [&jpeg[..2], &app1, &jpeg[2..]].concat()
}

/// kamadak-exif, which shares no code with ours, finds no EXIF (so no GPS),
/// and the bytes end at the end-of-image marker (no trailer).
fn assert_no_exif_by_an_independent_reader(jpeg: &[u8], name: &str) {
    let found = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(jpeg));
    assert!(matches!(found, Err(exif::Error::NotFound(_))), "{name}: {:?}", found.err());
    assert!(jpeg.ends_with(&[0xFF, 0xD9]), "{name}: bytes after the image");
}

#[test]
fn the_independent_reader_sees_the_exif_we_plant() {
    // Otherwise the check above could pass for a reader that sees nothing.
    let source = with_camera_exif(&fixture("FIXTURE_PHOTO_DIR", "picosdeeuropa_by_Aitzol_Berasategi.jpg"));
    let found = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(&source)).expect("EXIF");
    assert!(found.get_field(exif::Tag::Orientation, exif::In::PRIMARY).is_some());
    assert!(found.get_field(exif::Tag::GPSLatitudeRef, exif::In::PRIMARY).is_some(), "GPS seen");
}

#[test]
fn real_8_to_20_mp_photos_meet_the_target_and_cap_with_no_metadata() {
    let t = Targets::default();
    for (name, (w, h)) in [
        ("Kleiber_by_Lukas_Baubkus.jpg", (6028, 3391)), // 20.4 MP, 4.4 MB
        ("seeding_by_Clements_Engelhardt.jpg", (5312, 2988)), // 15.9 MP
        ("sunset_by_Aitzol_Berasategi.jpg", (4272, 2848)), // 12.2 MP
        ("picosdeeuropa_by_Aitzol_Berasategi.jpg", (3264, 2448)), // 8.0 MP
    ] {
        let source = with_camera_exif(&fixture("FIXTURE_PHOTO_DIR", name));
        assert_eq!(dimensions(&source), Some((w, h)), "{name}");
        assert!(parse(jpeg_exif(&source).unwrap()).has_gps);
        let out = process(&source, &t).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(out.bytes.len() as u64 <= t.max_bytes, "{name}: {} bytes", out.bytes.len());
        // Orientation 6: the stored landscape comes out as an upright portrait, long edge capped.
        assert_eq!(out.height, t.max_edge, "{name}");
        assert_eq!(dimensions(&out.bytes), Some((out.width, out.height)), "{name}");
        assert!(out.width < out.height, "{name}");
        assert!(!has_metadata(&out.bytes), "{name}: metadata left");
        assert!(jpeg_exif(&out.bytes).is_none(), "{name}: EXIF (and so GPS) left");
        assert_no_exif_by_an_independent_reader(&out.bytes, name);
        assert!(out.quality.is_some_and(|q| q >= t.min_quality), "{name}: {:?}", out.quality);
    }
}

/// The whole photo's SSIM (the benchmarks' measure) of a JPEG against the
/// resized, upright pixels it was encoded from.
fn whole_ssim((reference, width): (&[f32], u32), jpeg: &[u8]) -> f64 {
    let decoded = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg).unwrap();
    assert_eq!(decoded.width(), width);
    ssim(reference, &luma(decoded.to_rgba8().as_raw()), width as usize)
}

/// The quality search, scored on a sample mosaic, meets its SSIM floor on
/// the whole of every fixture photo: at the quality it picks, the photo
/// scores at least the floor, one percent lower it would not (so the floor,
/// not the byte cap or the top quality, chose it), unless the floor is out
/// of reach below the top quality or the byte cap forced a lower one.
#[test]
fn the_quality_search_meets_its_ssim_floor_on_every_fixture_photo() {
    let photos = [
        ("FIXTURE_PHOTO_DIR", "Dragonfly_by_Bolly.jpg"),
        ("FIXTURE_PHOTO_DIR", "Kleiber_by_Lukas_Baubkus.jpg"),
        ("FIXTURE_PHOTO_DIR", "seeding_by_Clements_Engelhardt.jpg"),
        ("FIXTURE_PHOTO_DIR", "sunset_by_Aitzol_Berasategi.jpg"),
        ("FIXTURE_PHOTO_DIR", "picosdeeuropa_by_Aitzol_Berasategi.jpg"),
        ("FIXTURE_PHOTO_DIR", "Bridge_by_Sander_Klootwijk.jpg"),
        ("FIXTURE_PHOTO_DIR", "umang_by_Abhishek_Mudgal.jpg"),
        ("FIXTURE_HEIC_DIR", "pug.heic"),
        ("FIXTURE_HEIC_DIR", "arrow.heic"),
        ("FIXTURE_HEIC_DIR", "xiaomi.heic"),
    ];
    let mut decided_by_the_floor = 0;
    for (dir, name) in photos {
        let bytes = fixture(dir, name);
        let source = detect(&bytes).unwrap();
        let prepared = prepare(&bytes, &Targets::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let reference = luma(prepared.to_rgba8().as_raw());
        let reference = (reference.as_slice(), prepared.width());
        for floor in [0.985f32, Targets::default().ssim_floor] {
            let t = Targets { ssim_floor: floor, ..Targets::default() };
            // `process` is `prepare`, then `compress`: the pixels are prepared once.
            let out = compress(prepared.clone(), source, &t).unwrap_or_else(|e| panic!("{name}: {e}"));
            let quality = out.quality.unwrap_or_else(|| panic!("{name}: not re-encoded"));
            let chosen = sample_quality(&prepared, &t);
            let score = whole_ssim(reference, &out.bytes);
            let floor = f64::from(floor);
            if quality < chosen {
                // The byte cap, not the floor: the chosen quality is too big.
                assert!(
                    encode_jpeg(&prepared, chosen).len() as u64 > t.max_bytes,
                    "{name}: {quality} < {chosen}"
                );
                continue;
            }
            assert_eq!(quality, chosen, "{name}");
            if quality >= t.max_quality {
                continue;
            }
            assert!(score >= floor, "{name}: SSIM {score:.4} below the floor {floor} at {quality}");
            if quality > t.min_quality {
                let below = whole_ssim(reference, &encode_jpeg(&prepared, quality - 0.01));
                // One percent lower falls short (allowing the sample's
                // margin and its estimate's error).
                assert!(below < floor + 0.002, "{name}: {below:.4} at {} also meets {floor}", quality - 0.01);
            }
            decided_by_the_floor += 1;
        }
    }
    // Most photos, at both floors, had their quality set by the floor.
    assert!(decided_by_the_floor >= 12, "only {decided_by_the_floor} of 20 set by the floor");
}

#[test]
fn real_phone_heics_come_out_upright_as_clean_jpegs() {
    let t = Targets::default();
    // pug: iPhone 13 Pro, 4032×3024 grid. arrow: iPhone 8 Plus stored 4032×3024
    // with a 270° `irot`, so upright it is a 3024×4032 portrait. xiaomi: 2592×1944.
    for (name, upright) in
        [("pug.heic", (2560, 1920)), ("arrow.heic", (1920, 2560)), ("xiaomi.heic", (2560, 1920))]
    {
        let out = process(&fixture("FIXTURE_HEIC_DIR", name), &t).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((out.width, out.height), upright, "{name}");
        assert_eq!(out.content_type, "image/jpeg");
        assert!(out.bytes.len() as u64 <= t.max_bytes, "{name}: {} bytes", out.bytes.len());
        assert!(!has_metadata(&out.bytes), "{name}");
        assert_no_exif_by_an_independent_reader(&out.bytes, name);
    }
    assert_eq!(
        process(&fixture("FIXTURE_HEIC_DIR", "corrupted.heic"), &t).map(|o| o.width),
        Err(PipelineError::HeifUndecodable)
    );
}

#[test]
fn a_heic_decodes_to_the_same_pixels_whatever_was_decoded_before() {
    use clinical_images::pipeline::heif::decode_rgba;
    let arrow = fixture("FIXTURE_HEIC_DIR", "arrow.heic");
    let fresh = decode_rgba(&arrow).expect("arrow").rgba;
    decode_rgba(&fixture("FIXTURE_HEIC_DIR", "pug.heic")).expect("pug");
    let again = decode_rgba(&arrow).expect("arrow again").rgba;
    assert_eq!(fresh.len(), again.len());
    let differing = fresh.iter().zip(&again).filter(|(a, b)| a != b).count();
    assert_eq!(differing, 0, "{differing} bytes differ");
}

/// A phone HEIC's grid decoded tile by tile, the tiles shared out across
/// three threads in an order unlike the file's (as the page shares them out
/// across its workers), assembles to exactly the whole-image decode.
#[test]
fn a_heic_grid_decoded_tile_by_tile_across_threads_matches_the_whole_decode_exactly() {
    use clinical_images::pipeline::heif::{decode_rgba, Grid};
    // pug: a plain grid; arrow: a grid with a 270° `irot`, so the assembled
    // picture is also rotated. Both carry Display P3.
    for name in ["pug.heic", "arrow.heic"] {
        let bytes = fixture("FIXTURE_HEIC_DIR", name);
        let whole = decode_rgba(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (file, grid) =
            Grid::open(&bytes).expect(name).unwrap_or_else(|| panic!("{name} is not a tiled grid"));
        let count = grid.tiles();
        assert!(count >= 24, "{name}: {count} tiles");
        let (sender, tiles) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            for worker in 0..3u32 {
                let (sender, grid, file) = (sender.clone(), &grid, &file);
                s.spawn(move || {
                    // Each worker takes every third tile, from the last one down.
                    for index in (0..count).rev().filter(|i| i % 3 == worker) {
                        sender.send(grid.decode_tile(file, index).expect("tile")).expect("send");
                    }
                });
            }
        });
        drop(sender);
        let mut assembly = grid.assembly();
        for tile in tiles {
            assembly.place(&grid, tile.index, &tile.rgba).expect("place");
        }
        assert_eq!(assembly.missing(), 0, "{name}");
        let assembled = assembly.finish(&grid, &file).expect(name);
        assert_eq!((assembled.width, assembled.height), (whole.width, whole.height), "{name}");
        let differing = assembled.rgba.iter().zip(&whole.rgba).filter(|(a, b)| a != b).count();
        assert_eq!(differing, 0, "{name}: {differing} bytes differ from the whole decode");
    }
}

/// A picture is only finished once every tile is in, and a tile cannot be
/// placed twice or at the wrong size.
#[test]
fn a_heic_grid_refuses_missing_doubled_or_misshapen_tiles() {
    use clinical_images::pipeline::heif::Grid;
    let bytes = fixture("FIXTURE_HEIC_DIR", "pug.heic");
    let (file, grid) = Grid::open(&bytes).expect("pug").expect("a grid");
    let tile = grid.decode_tile(&file, 0).expect("tile 0");
    let mut assembly = grid.assembly();
    assembly.place(&grid, 0, &tile.rgba).expect("first");
    assert_eq!(assembly.place(&grid, 0, &tile.rgba), Err(PipelineError::HeifUndecodable));
    assert_eq!(assembly.place(&grid, 1, &tile.rgba[4..]), Err(PipelineError::HeifUndecodable));
    assert_eq!(assembly.place(&grid, grid.tiles(), &tile.rgba), Err(PipelineError::HeifUndecodable));
    assert!(grid.decode_tile(&file, grid.tiles()).is_err());
    assert_eq!(assembly.missing(), grid.tiles() - 1);
    assert!(matches!(assembly.finish(&grid, &file), Err(PipelineError::HeifUndecodable)));
}

/// The project's Display P3 → sRGB conversion (which tiles need, since the
/// decoder's own runs only inside its whole decode) agrees with the
/// decoder's own, an independent implementation, on real photos.
#[test]
fn the_heic_colour_conversion_agrees_with_the_decoders_own() {
    use clinical_images::pipeline::heif::decode_rgba;
    for name in ["pug.heic", "arrow.heic"] {
        let bytes = fixture("FIXTURE_HEIC_DIR", name);
        let ours = decode_rgba(&bytes).expect(name).rgba;
        let options = heifer::Options { max_threads: 1, max_pixels: 64_000_000 };
        let theirs = heifer::decode_srgb_rgba8(&bytes, &options).expect(name).data;
        let coded = heifer::decode_rgba8(&bytes, &options).expect(name).data;
        assert_eq!(ours.len(), theirs.len());
        let worst = ours.iter().zip(&theirs).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
        let off = ours.iter().zip(&theirs).filter(|(a, b)| a != b).count();
        // The conversion does something on these photos...
        let converted = coded.iter().zip(&theirs).filter(|(a, b)| a != b).count();
        assert!(converted > theirs.len() / 10, "{name}: only {converted} samples converted");
        // ...and the same thing, to rounding: a few samples in a hundred are
        // one code apart.
        assert!(worst <= 1, "{name}: a sample differs by {worst}");
        assert!(off < theirs.len() / 20, "{name}: {off} of {} samples differ", theirs.len());
    }
}
