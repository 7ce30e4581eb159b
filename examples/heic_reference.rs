//! Reference pictures for the batch benchmark's HEIC SSIM column:
//! `cargo run --example heic_reference -- OUT_DIR FILE.heic...`
//! writes `OUT_DIR/<name>.png` for each HEIC, decoded by heifer with its own
//! ICC transform to sRGB (the decoder's colour management, not the
//! project's), so the reference shows the colours a colour-managed viewer
//! shows. heic2any's own decode, the earlier reference, leaves Display P3
//! samples unconverted.

fn main() {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().expect("usage: heic_reference OUT_DIR FILE.heic..."));
    std::fs::create_dir_all(&out).expect("out dir");
    for path in args {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let options = heifer::Options { max_threads: 1, max_pixels: 64_000_000 };
        let image = heifer::decode_srgb_rgba8(&bytes, &options).unwrap_or_else(|e| panic!("{path}: {e}"));
        let name = std::path::Path::new(&path).file_name().and_then(|n| n.to_str()).expect("file name");
        let png = out.join(format!("{name}.png"));
        image::RgbaImage::from_raw(image.width, image.height, image.data)
            .expect("RGBA size")
            .save(&png)
            .unwrap_or_else(|e| panic!("{}: {e}", png.display()));
        println!("{}: {}×{}", png.display(), image.width, image.height);
    }
}
