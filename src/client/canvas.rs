//! Drawing an [`Edit`] on a canvas: the editor's live view and the
//! full-resolution render that is saved as the image's new version.

use wasm_bindgen::JsCast;

use crate::model::edit::{Edit, Point, Shape};

const INK: &str = "#ff2d2d";

/// Draws the source turned, with shapes; `offset` shifts by the crop origin.
pub fn paint(
    ctx: &web_sys::CanvasRenderingContext2d,
    img: &web_sys::HtmlImageElement,
    edit: &Edit,
    scale: f64,
    offset: Point,
    line: f64,
) {
    let (w, h) = (img.natural_width() as f64, img.natural_height() as f64);
    let (ow, oh) = edit.oriented(w, h);
    ctx.save();
    let _ = ctx.scale(scale, scale);
    let _ = ctx.translate(-offset.0, -offset.1);
    ctx.save();
    let _ = match edit.turns {
        1 => ctx.transform(0.0, 1.0, -1.0, 0.0, ow, 0.0),
        2 => ctx.transform(-1.0, 0.0, 0.0, -1.0, ow, oh),
        3 => ctx.transform(0.0, -1.0, 1.0, 0.0, 0.0, oh),
        _ => Ok(()),
    };
    let _ = ctx.draw_image_with_html_image_element(img, 0.0, 0.0);
    ctx.restore();
    ctx.set_stroke_style_str(INK);
    ctx.set_fill_style_str(INK);
    ctx.set_line_width(line);
    for shape in &edit.shapes {
        draw_shape(ctx, shape, line);
    }
    ctx.restore();
}

/// Dims what a crop (`(x, y, w, h)`, oriented coordinates) leaves out of an
/// `ow`×`oh` picture drawn at `scale`, and outlines it with corner handles.
pub fn crop_overlay(
    ctx: &web_sys::CanvasRenderingContext2d,
    (x, y, cw, ch): (f64, f64, f64, f64),
    scale: f64,
    (ow, oh): (f64, f64),
) {
    ctx.set_fill_style_str("rgba(0, 0, 0, 0.55)");
    let (x, y, cw, ch) = (x * scale, y * scale, cw * scale, ch * scale);
    let (vw, vh) = (ow * scale, oh * scale);
    ctx.fill_rect(0.0, 0.0, vw, y);
    ctx.fill_rect(0.0, y + ch, vw, vh - y - ch);
    ctx.fill_rect(0.0, y, x, ch);
    ctx.fill_rect(x + cw, y, vw - x - cw, ch);
    ctx.set_stroke_style_str("#ffffff");
    ctx.set_line_width(2.0);
    ctx.stroke_rect(x, y, cw, ch);
    ctx.set_fill_style_str("#ffffff");
    for (hx, hy) in [(x, y), (x + cw, y), (x, y + ch), (x + cw, y + ch)] {
        ctx.fill_rect(hx - 5.0, hy - 5.0, 10.0, 10.0);
    }
}

/// Outlines the mark the arrow keys and move buttons act on (dashed, in
/// two colours so it shows on any skin), in oriented coordinates at `scale`.
pub fn mark_outline(ctx: &web_sys::CanvasRenderingContext2d, shape: &Shape, scale: f64, line: f64) {
    let pad = line * 2.0;
    let (x0, y0, x1, y1) = match shape {
        Shape::Arrow(a, b) | Shape::Rect(a, b) | Shape::Ellipse(a, b) => {
            (a.0.min(b.0), a.1.min(b.1), a.0.max(b.0), a.1.max(b.1))
        }
        Shape::Text(at, text) => {
            // About the label's extent: a bold character is some 0.6 of the
            // font's size (`draw_shape` draws at eight line widths).
            let width = text.chars().count() as f64 * line * 8.0 * 0.6;
            (at.0, at.1 - line * 8.0, at.0 + width, at.1)
        }
    };
    let (x, y, w, h) = (
        (x0 - pad) * scale,
        (y0 - pad) * scale,
        (x1 - x0 + 2.0 * pad) * scale,
        (y1 - y0 + 2.0 * pad) * scale,
    );
    ctx.save();
    ctx.set_line_width(2.0);
    for (colour, dash) in [("#ffffff", 0.0), ("#000000", 6.0)] {
        ctx.set_stroke_style_str(colour);
        let _ = ctx.set_line_dash(&js_sys::Array::of2(&6.0.into(), &6.0.into()));
        ctx.set_line_dash_offset(dash);
        ctx.stroke_rect(x, y, w, h);
    }
    ctx.restore();
}

fn draw_shape(ctx: &web_sys::CanvasRenderingContext2d, shape: &Shape, line: f64) {
    ctx.begin_path();
    match shape {
        Shape::Rect(a, b) => {
            ctx.stroke_rect(a.0.min(b.0), a.1.min(b.1), (b.0 - a.0).abs(), (b.1 - a.1).abs())
        }
        Shape::Ellipse(a, b) => {
            let (cx, cy) = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
            let _ = ctx.ellipse(
                cx,
                cy,
                ((b.0 - a.0) / 2.0).abs(),
                ((b.1 - a.1) / 2.0).abs(),
                0.0,
                0.0,
                std::f64::consts::TAU,
            );
            ctx.stroke();
        }
        Shape::Arrow(a, b) => {
            ctx.move_to(a.0, a.1);
            ctx.line_to(b.0, b.1);
            let angle = (b.1 - a.1).atan2(b.0 - a.0);
            let head = line * 5.0;
            for side in [-0.45f64, 0.45] {
                ctx.move_to(b.0, b.1);
                ctx.line_to(b.0 - head * (angle + side).cos(), b.1 - head * (angle + side).sin());
            }
            ctx.stroke();
        }
        Shape::Text(at, text) => {
            ctx.set_font(&format!("bold {}px system-ui, sans-serif", (line * 8.0).round()));
            let _ = ctx.fill_text(text, at.0, at.1);
        }
    }
}

/// Renders the edit at full resolution into a JPEG file.
pub async fn render(img: &web_sys::HtmlImageElement, edit: &Edit) -> Option<web_sys::File> {
    let (w, h) = (img.natural_width() as f64, img.natural_height() as f64);
    let (out_w, out_h) = edit.output(w, h);
    let document = web_sys::window()?.document()?;
    let canvas: web_sys::HtmlCanvasElement = document.create_element("canvas").ok()?.dyn_into().ok()?;
    canvas.set_width(out_w.round() as u32);
    canvas.set_height(out_h.round() as u32);
    let ctx: web_sys::CanvasRenderingContext2d = canvas.get_context("2d").ok()??.dyn_into().ok()?;
    let offset = edit.crop.map(|(x, y, _, _)| (x, y)).unwrap_or((0.0, 0.0));
    paint(&ctx, img, edit, 1.0, offset, line_width(w, h));
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = canvas.to_blob_with_type_and_encoder_options(&resolve, "image/jpeg", &0.95.into());
    });
    let blob = wasm_bindgen_futures::JsFuture::from(promise).await.ok().filter(|b| !b.is_null())?;
    let options = web_sys::FilePropertyBag::new();
    options.set_type("image/jpeg");
    web_sys::File::new_with_blob_sequence_and_options(&js_sys::Array::of1(&blob), "edited.jpg", &options).ok()
}

pub fn line_width(w: f64, h: f64) -> f64 {
    (w.max(h) / 300.0).max(2.0)
}

/// Loads an image for the canvas (CORS-enabled, so the canvas stays exportable).
pub async fn load_image(src: &str) -> Option<web_sys::HtmlImageElement> {
    let img = web_sys::HtmlImageElement::new().ok()?;
    img.set_cross_origin(Some("anonymous"));
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        img.set_onload(Some(&resolve));
        img.set_onerror(Some(&reject));
    });
    img.set_src(src);
    wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    Some(img)
}
