//! How big the output is, and how big a canvas the decode may use.

use super::orient::oriented_size;
use super::Targets;

/// Sizes for one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// Size to decode (or draw) the stored image at, before orientation.
    pub decode_width: u32,
    pub decode_height: u32,
    /// Size of the upright output.
    pub out_width: u32,
    pub out_height: u32,
    /// `decode / source`, at most 1 (never upscaled).
    pub scale: f64,
}

/// Plans a resize of a `width`×`height` stored image: the long edge capped,
/// never upscaled, and never a canvas over the browser's pixel cap, so a
/// 48 or 200 MP source cannot crash the page.
pub fn plan(width: u32, height: u32, orientation: u16, t: &Targets) -> Plan {
    let long = width.max(height).max(1) as f64;
    let pixels = (width as f64 * height as f64).max(1.0);
    let scale = (t.max_edge as f64 / long).min((t.max_canvas_pixels as f64 / pixels).sqrt()).min(1.0);
    // Round down, so neither the edge nor the canvas cap is ever exceeded.
    let dw = ((width as f64 * scale + 1e-9).floor() as u32).max(1);
    let dh = ((height as f64 * scale + 1e-9).floor() as u32).max(1);
    let (ow, oh) = oriented_size(dw, dh, orientation);
    Plan { decode_width: dw, decode_height: dh, out_width: ow, out_height: oh, scale }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_the_long_edge_and_never_upscales() {
        let t = Targets::default();
        let p = plan(4032, 3024, 1, &t);
        assert_eq!((p.out_width, p.out_height), (2560, 1920));
        let p = plan(4032, 3024, 6, &t);
        assert_eq!((p.out_width, p.out_height), (1920, 2560), "portrait after orientation");
        let p = plan(800, 600, 1, &t);
        assert_eq!((p.out_width, p.out_height, p.scale), (800, 600, 1.0));
    }

    #[test]
    fn stays_under_the_canvas_cap() {
        let t = Targets { max_edge: 100_000, ..Targets::default() };
        let p = plan(16_320, 12_240, 1, &t); // 200 MP
        assert!(p.decode_width as u64 * p.decode_height as u64 <= t.max_canvas_pixels);
    }
}
