//! Applies an EXIF orientation to decoded RGBA pixels, so the output is
//! upright everywhere (and the orientation tag can be dropped).

/// Width and height after applying `orientation`.
pub fn oriented_size(width: u32, height: u32, orientation: u16) -> (u32, u32) {
    if (5..=8).contains(&orientation) {
        (height, width)
    } else {
        (width, height)
    }
}

/// Returns the upright RGBA pixels and their size. Unknown values are treated as 1.
pub fn orient(rgba: &[u8], width: u32, height: u32, orientation: u16) -> (Vec<u8>, u32, u32) {
    let (w, h) = (width as usize, height as usize);
    let (ow, oh) = oriented_size(width, height, orientation);
    let mut out = vec![0u8; rgba.len()];
    for y2 in 0..oh as usize {
        for x2 in 0..ow as usize {
            // Where the displayed pixel (x2, y2) comes from in the stored image.
            let (x, y) = match orientation {
                2 => (w - 1 - x2, y2),
                3 => (w - 1 - x2, h - 1 - y2),
                4 => (x2, h - 1 - y2),
                5 => (y2, x2),
                6 => (y2, h - 1 - x2),
                7 => (w - 1 - y2, h - 1 - x2),
                8 => (w - 1 - y2, x2),
                _ => (x2, y2),
            };
            let src = (y * w + x) * 4;
            let dst = (y2 * ow as usize + x2) * 4;
            out[dst..dst + 4].copy_from_slice(&rgba[src..src + 4]);
        }
    }
    (out, ow, oh)
}

/// The 2D canvas transform `[a, b, c, d, e, f]` (as `setTransform` takes it)
/// that draws a `width`×`height` stored image upright onto a canvas of
/// [`oriented_size`]. It is the same mapping as [`orient`], done by the
/// browser's compositor instead of a pixel loop.
pub fn canvas_transform(width: u32, height: u32, orientation: u16) -> [f64; 6] {
    let (w, h) = (width as f64, height as f64);
    // Displayed x = a·x + c·y + e, displayed y = b·x + d·y + f.
    match orientation {
        2 => [-1.0, 0.0, 0.0, 1.0, w, 0.0],
        3 => [-1.0, 0.0, 0.0, -1.0, w, h],
        4 => [1.0, 0.0, 0.0, -1.0, 0.0, h],
        5 => [0.0, 1.0, 1.0, 0.0, 0.0, 0.0],
        6 => [0.0, 1.0, -1.0, 0.0, h, 0.0],
        7 => [0.0, -1.0, -1.0, 0.0, h, w],
        8 => [0.0, -1.0, 1.0, 0.0, 0.0, w],
        _ => [1.0, 0.0, 0.0, 1.0, 0.0, 0.0],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RED: [u8; 4] = [255, 0, 0, 255];
    const GREEN: [u8; 4] = [0, 255, 0, 255];
    const BLUE: [u8; 4] = [0, 0, 255, 255];
    const WHITE: [u8; 4] = [255, 255, 255, 255];

    /// Upright 3×2 fixture: red top-left, green top-right, blue bottom-left, white bottom-right.
    fn upright() -> Vec<u8> {
        let grey = [128, 128, 128, 255];
        [RED, grey, GREEN, BLUE, grey, WHITE].concat()
    }

    fn inverse(o: u16) -> u16 {
        match o {
            6 => 8,
            8 => 6,
            other => other,
        }
    }

    #[test]
    fn every_orientation_comes_out_upright() {
        for o in 1..=8u16 {
            // What a camera would store for this orientation...
            let (stored, sw, sh) = orient(&upright(), 3, 2, inverse(o));
            // ...displays upright once the orientation is applied.
            let (shown, w, h) = orient(&stored, sw, sh, o);
            assert_eq!((w, h), (3, 2), "orientation {o}");
            assert_eq!(shown, upright(), "orientation {o}");
        }
    }

    #[test]
    fn orientation_6_turns_clockwise() {
        // Stored 2×1 row [red, blue] with orientation 6 displays as a column, red on top.
        let stored = [RED, BLUE].concat();
        let (shown, w, h) = orient(&stored, 2, 1, 6);
        assert_eq!((w, h), (1, 2));
        assert_eq!(shown, [RED, BLUE].concat());
        let (shown8, _, _) = orient(&stored, 2, 1, 8);
        assert_eq!(shown8, [BLUE, RED].concat(), "orientation 8 turns the other way");
    }

    #[test]
    fn the_canvas_transform_matches_the_pixel_mapping() {
        // Tag every stored pixel with its index, orient by pixel loop, and check
        // that the canvas transform sends each stored pixel centre to the same place.
        let (w, h) = (3u32, 2u32);
        let stored: Vec<u8> = (0..w * h).flat_map(|i| [i as u8, 0, 0, 255]).collect();
        for o in 1..=8u16 {
            let (shown, ow, oh) = orient(&stored, w, h, o);
            let [a, b, c, d, e, f] = canvas_transform(w, h, o);
            for y in 0..h {
                for x in 0..w {
                    let (cx, cy) = (x as f64 + 0.5, y as f64 + 0.5);
                    let (dx, dy) = (a * cx + c * cy + e, b * cx + d * cy + f);
                    assert!(dx > 0.0 && dy > 0.0 && dx < ow as f64 && dy < oh as f64, "o={o} lands inside");
                    let at = ((dy.floor() as u32 * ow + dx.floor() as u32) * 4) as usize;
                    assert_eq!(shown[at], (y * w + x) as u8, "orientation {o}, pixel ({x}, {y})");
                }
            }
        }
    }
}
