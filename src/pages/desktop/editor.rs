//! The photo editor: rotate, crop (with aspect presets), annotate (arrow,
//! rectangle, ellipse, text), undo/redo and reset. Saving renders the edit
//! into pixels and uploads them as the image's new version; the photo as
//! uploaded is kept until commit, so "Revert to original" works. What the GP
//! sees is exactly what is committed.
//!
//! The edit is kept as data in "oriented" coordinates (the source turned by
//! `turns` quarter turns); [`Edit::rotate`] maps crop and shapes along.

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::state::{Desk, Dialog};
use crate::api::replace_image_version;
use crate::client::upload::Outgoing;

type Point = (f64, f64);

#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    Arrow(Point, Point),
    Rect(Point, Point),
    Ellipse(Point, Point),
    Text(Point, String),
}

/// An edit, as data.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Edit {
    /// Quarter turns clockwise.
    pub turns: u8,
    /// `(x, y, w, h)` in oriented coordinates.
    pub crop: Option<(f64, f64, f64, f64)>,
    pub shapes: Vec<Shape>,
}

impl Edit {
    /// Size of the oriented image for a `w`×`h` source.
    pub fn oriented(&self, w: f64, h: f64) -> (f64, f64) {
        if self.turns % 2 == 1 {
            (h, w)
        } else {
            (w, h)
        }
    }

    /// Turns a quarter clockwise (or back), carrying crop and shapes along.
    /// `size` is the oriented size before the turn.
    pub fn rotate(&self, clockwise: bool, (w, h): (f64, f64)) -> Edit {
        let map = |(x, y): Point| if clockwise { (h - y, x) } else { (y, w - x) };
        let rect = |a: Point, b: Point| (map(a), map(b));
        Edit {
            turns: (self.turns + if clockwise { 1 } else { 3 }) % 4,
            crop: self.crop.map(|(x, y, cw, ch)| {
                let (a, b) = rect((x, y), (x + cw, y + ch));
                (a.0.min(b.0), a.1.min(b.1), (a.0 - b.0).abs(), (a.1 - b.1).abs())
            }),
            shapes: self
                .shapes
                .iter()
                .map(|s| match s {
                    Shape::Arrow(a, b) => Shape::Arrow(map(*a), map(*b)),
                    Shape::Rect(a, b) => Shape::Rect(map(*a), map(*b)),
                    Shape::Ellipse(a, b) => Shape::Ellipse(map(*a), map(*b)),
                    Shape::Text(a, t) => Shape::Text(map(*a), t.clone()),
                })
                .collect(),
        }
    }

    /// The output size: the crop, else the oriented image.
    pub fn output(&self, w: f64, h: f64) -> (f64, f64) {
        match self.crop {
            Some((_, _, cw, ch)) => (cw, ch),
            None => self.oriented(w, h),
        }
    }
}

/// A crop rectangle from a drag, held to an aspect ratio and inside the image.
pub fn crop_rect(a: Point, b: Point, aspect: Option<f64>, (w, h): (f64, f64)) -> (f64, f64, f64, f64) {
    let (mut cw, mut ch) = ((b.0 - a.0).abs(), (b.1 - a.1).abs());
    if let Some(r) = aspect {
        if cw / ch.max(1.0) > r {
            cw = ch * r;
        } else {
            ch = cw / r;
        }
    }
    let x = if b.0 < a.0 { a.0 - cw } else { a.0 };
    let y = if b.1 < a.1 { a.1 - ch } else { a.1 };
    let (x, y) = (x.clamp(0.0, w), y.clamp(0.0, h));
    (x, y, cw.min(w - x).max(1.0), ch.min(h - y).max(1.0))
}

/// If `p` is within `reach` of a corner of `crop`, the opposite corner: the
/// anchor a resize drags from.
pub fn crop_handle((x, y, w, h): (f64, f64, f64, f64), p: Point, reach: f64) -> Option<Point> {
    let corners = [
        ((x, y), (x + w, y + h)),
        ((x + w, y), (x, y + h)),
        ((x, y + h), (x + w, y)),
        ((x + w, y + h), (x, y)),
    ];
    corners
        .into_iter()
        .find(|((cx, cy), _)| (p.0 - cx).abs() <= reach && (p.1 - cy).abs() <= reach)
        .map(|(_, opposite)| opposite)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tool {
    Crop,
    Arrow,
    Rect,
    Ellipse,
    Text,
}

const INK: &str = "#ff2d2d";

/// Draws the source turned, with shapes; `offset` shifts by the crop origin.
fn paint(
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
async fn render(img: &web_sys::HtmlImageElement, edit: &Edit) -> Option<web_sys::File> {
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

fn line_width(w: f64, h: f64) -> f64 {
    (w.max(h) / 300.0).max(2.0)
}

/// Saves an edit of `image_id` as its new version: render, pipeline, upload, swap.
pub async fn save_edit(
    desk: Desk,
    image_id: String,
    img: web_sys::HtmlImageElement,
    edit: Edit,
) -> Result<(), String> {
    let file = render(&img, &edit).await.ok_or("The edit could not be drawn.")?;
    let targets = desk.settings.with_value(|s| s.pipeline);
    let processed = crate::client::pipeline::process(&file, &targets, |_| {}).await.map_err(|f| f.message)?;
    let mut outgoing = Outgoing::new(processed.blob, processed.summary.content_type.clone(), None, None);
    let info = outgoing.attempt(&|_| {}).await.map_err(|f| f.message)?;
    replace_image_version(image_id, info.image_id).await.map_err(|e| e.to_string())?;
    desk.refresh();
    Ok(())
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

#[component]
pub fn EditorDialog(desk: Desk, image_id: String) -> impl IntoView {
    let info = desk.image(&image_id);
    let number = desk.number_of(&image_id);
    let canvas = NodeRef::<html::Canvas>::new();
    let image = RwSignal::new_local(None::<web_sys::HtmlImageElement>);
    let history = RwSignal::new(vec![Edit::default()]);
    let at = RwSignal::new(0usize);
    let tool = RwSignal::new(Tool::Crop);
    let aspect = RwSignal::new(None::<f64>);
    let label = RwSignal::new("Lesion".to_owned());
    let drag = RwSignal::new(None::<(Point, Point)>);
    let status = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);
    let current = move || history.with(|h| h[at.get()].clone());
    let push = move |edit: Edit| {
        let i = at.get_untracked();
        history.update(|h| {
            h.truncate(i + 1);
            h.push(edit);
        });
        at.set(i + 1);
    };

    let source_size =
        move || image.with(|i| i.as_ref().map(|i| (i.natural_width() as f64, i.natural_height() as f64)));
    let view_scale = move || {
        let (w, h) = source_size().unwrap_or((1.0, 1.0));
        let (ow, oh) = current().oriented(w, h);
        (900.0 / ow).min(560.0 / oh).min(1.0)
    };

    // Redraw on any change.
    Effect::new(move |_| {
        let edit = current();
        let preview = drag.get();
        let tool_now = tool.get();
        let aspect_now = aspect.get();
        let label_now = label.get();
        let (Some(el), Some((w, h))) = (canvas.get(), source_size()) else { return };
        let Some(img) = image.get() else { return };
        let scale = view_scale();
        let (ow, oh) = edit.oriented(w, h);
        el.set_width((ow * scale).round() as u32);
        el.set_height((oh * scale).round() as u32);
        let Some(ctx) = el
            .get_context("2d")
            .ok()
            .flatten()
            .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok())
        else {
            return;
        };
        let line = line_width(w, h);
        let mut shown = edit.clone();
        let mut crop = edit.crop;
        if let Some((a, b)) = preview {
            match tool_now {
                Tool::Crop => crop = Some(crop_rect(a, b, aspect_now, (ow, oh))),
                Tool::Arrow => shown.shapes.push(Shape::Arrow(a, b)),
                Tool::Rect => shown.shapes.push(Shape::Rect(a, b)),
                Tool::Ellipse => shown.shapes.push(Shape::Ellipse(a, b)),
                Tool::Text => shown.shapes.push(Shape::Text(b, label_now)),
            }
        }
        paint(&ctx, &img, &shown, scale, (0.0, 0.0), line);
        if let Some((x, y, cw, ch)) = crop {
            // Dim what the crop leaves out.
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
            // Corner handles.
            ctx.set_fill_style_str("#ffffff");
            for (hx, hy) in [(x, y), (x + cw, y), (x, y + ch), (x + cw, y + ch)] {
                ctx.fill_rect(hx - 5.0, hy - 5.0, 10.0, 10.0);
            }
        }
    });

    // Load the photo once the canvas exists.
    let src = info.as_ref().and_then(|i| i.preview_url.clone());
    Effect::new(move |_| {
        if canvas.get().is_none() {
            return;
        }
        let Some(src) = src.clone() else { return };
        leptos::task::spawn_local(async move {
            match load_image(&src).await {
                Some(img) => image.set(Some(img)),
                None => status.set(Some("The photo could not be loaded for editing.".into())),
            }
        });
    });

    let to_image = move |e: &web_sys::PointerEvent| -> Point {
        let scale = view_scale();
        (e.offset_x() as f64 / scale, e.offset_y() as f64 / scale)
    };
    let finish = move |end: Point| {
        let Some((a, _)) = drag.get_untracked() else { return };
        drag.set(None);
        let Some((w, h)) = source_size() else { return };
        let mut edit = current();
        let size = edit.oriented(w, h);
        let tiny = (end.0 - a.0).abs() < 4.0 && (end.1 - a.1).abs() < 4.0;
        match tool.get_untracked() {
            Tool::Crop if !tiny => edit.crop = Some(crop_rect(a, end, aspect.get_untracked(), size)),
            Tool::Arrow if !tiny => edit.shapes.push(Shape::Arrow(a, end)),
            Tool::Rect if !tiny => edit.shapes.push(Shape::Rect(a, end)),
            Tool::Ellipse if !tiny => edit.shapes.push(Shape::Ellipse(a, end)),
            Tool::Text if !label.get_untracked().trim().is_empty() => {
                edit.shapes.push(Shape::Text(end, label.get_untracked()))
            }
            _ => return,
        }
        push(edit);
    };
    let rotate = move |clockwise: bool| {
        let Some((w, h)) = source_size() else { return };
        let edit = current();
        push(edit.rotate(clockwise, edit.oriented(w, h)));
    };
    let id = StoredValue::new(image_id.clone());
    let save = move |_| {
        let Some(img) = image.get_untracked() else { return };
        saving.set(true);
        status.set(Some("Saving the edited photo…".into()));
        let edit = current();
        leptos::task::spawn_local(async move {
            match save_edit(desk, id.get_value(), img, edit).await {
                Ok(()) => {
                    desk.notify("Edit saved. The original is kept until commit.");
                    desk.dialog.set(Dialog::None);
                }
                Err(message) => {
                    status.set(Some(message));
                    saving.set(false);
                }
            }
        });
    };
    let tool_button = move |t: Tool, name: &'static str| {
        view! {
            <button type="button" class="button button--secondary" aria-pressed=move || (tool.get() == t).to_string() on:click=move |_| tool.set(t)>
                {name}
            </button>
        }
    };

    view! {
        <div class="modal">
            <div class="modal__panel modal__panel--wide" role="dialog" aria-modal="true" aria-labelledby="editor-title">
                <h2 id="editor-title">{format!("Edit photo {number}")}</h2>
                <div class="editor__tools" role="toolbar" aria-label="Editing tools">
                    <button type="button" class="button button--secondary" on:click=move |_| rotate(false)>"Rotate left"</button>
                    <button type="button" class="button button--secondary" on:click=move |_| rotate(true)>"Rotate right"</button>
                    {tool_button(Tool::Crop, "Crop")}
                    <label class="editor__aspect">
                        "Aspect"
                        <select on:change=move |e| aspect.set(match event_target_value(&e).as_str() {
                            "1" => Some(1.0),
                            "4:3" => Some(4.0 / 3.0),
                            "3:4" => Some(3.0 / 4.0),
                            _ => None,
                        })>
                            <option value="free">"Free"</option>
                            <option value="1">"1:1"</option>
                            <option value="4:3">"4:3"</option>
                            <option value="3:4">"3:4"</option>
                        </select>
                    </label>
                    {tool_button(Tool::Arrow, "Arrow")}
                    {tool_button(Tool::Rect, "Rectangle")}
                    {tool_button(Tool::Ellipse, "Ellipse")}
                    {tool_button(Tool::Text, "Text")}
                    <label class="editor__label">
                        <span class="visually-hidden">"Text label"</span>
                        <input type="text" maxlength="40" prop:value=move || label.get() on:input=move |e| label.set(event_target_value(&e)) />
                    </label>
                    <span class="desk__spacer"></span>
                    <button type="button" class="button button--secondary" aria-keyshortcuts="Control+Z" disabled=move || at.get() == 0 on:click=move |_| at.update(|i| *i -= 1)>"Undo"</button>
                    <button type="button" class="button button--secondary" aria-keyshortcuts="Control+Y" disabled=move || { at.get() + 1 >= history.with(Vec::len) } on:click=move |_| at.update(|i| *i += 1)>"Redo"</button>
                    <button type="button" class="button button--secondary" on:click=move |_| push(Edit::default())>"Reset"</button>
                </div>
                <div class="editor__stage">
                    <canvas
                        node_ref=canvas
                        aria-label="Photo being edited"
                        on:pointerdown=move |e| {
                            let p = to_image(&e);
                            // Grabbing a handle of the crop resizes it from the opposite corner.
                            let anchor = match (tool.get_untracked(), current().crop) {
                                (Tool::Crop, Some(crop)) => crop_handle(crop, p, 14.0 / view_scale()),
                                _ => None,
                            };
                            drag.set(Some((anchor.unwrap_or(p), p)));
                        }
                        on:pointermove=move |e| {
                            if let Some((a, _)) = drag.get_untracked() {
                                drag.set(Some((a, to_image(&e))));
                            }
                        }
                        on:pointerup=move |e| finish(to_image(&e))
                    ></canvas>
                </div>
                <p class="muted editor__size">
                    {move || source_size().map(|(w, h)| {
                        let (ow, oh) = current().output(w, h);
                        format!("Result: {:.0} × {:.0} px", ow, oh)
                    })}
                </p>
                {move || status.get().map(|s| view! { <p class="notice" role="status">{s}</p> })}
                <div class="modal__actions">
                    <button class="button button--secondary" on:click=move |_| desk.dialog.set(Dialog::None)>"Cancel"</button>
                    <button class="button" disabled=move || { saving.get() || history.with(|h| h[at.get()] == Edit::default()) } on:click=save>
                        "Save edit"
                    </button>
                </div>
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotating_carries_crop_and_shapes_along() {
        let edit = Edit {
            turns: 0,
            crop: Some((10.0, 20.0, 30.0, 40.0)),
            shapes: vec![Shape::Arrow((0.0, 0.0), (100.0, 50.0))],
        };
        // A 200×100 image turned clockwise is 100×200: (x, y) → (100 − y, x).
        let turned = edit.rotate(true, (200.0, 100.0));
        assert_eq!(turned.turns, 1);
        assert_eq!(turned.crop, Some((40.0, 10.0, 40.0, 30.0)));
        assert_eq!(turned.shapes, vec![Shape::Arrow((100.0, 0.0), (50.0, 100.0))]);
        assert_eq!(turned.output(200.0, 100.0), (40.0, 30.0));
        // And back again.
        assert_eq!(turned.rotate(false, (100.0, 200.0)), edit);
    }

    #[test]
    fn a_crop_handle_resizes_from_the_opposite_corner() {
        let crop = (10.0, 20.0, 100.0, 50.0);
        assert_eq!(crop_handle(crop, (112.0, 68.0), 5.0), Some((10.0, 20.0)), "bottom-right grabs");
        assert_eq!(crop_handle(crop, (9.0, 21.0), 5.0), Some((110.0, 70.0)), "top-left grabs");
        assert_eq!(crop_handle(crop, (60.0, 45.0), 5.0), None, "the middle starts a new crop");
        // Dragging the bottom-right handle inward shrinks the crop.
        assert_eq!(crop_rect((10.0, 20.0), (60.0, 45.0), None, (200.0, 100.0)), (10.0, 20.0, 50.0, 25.0));
    }

    #[test]
    fn crops_keep_their_aspect_and_stay_inside() {
        assert_eq!(
            crop_rect((10.0, 10.0), (110.0, 30.0), Some(1.0), (200.0, 100.0)),
            (10.0, 10.0, 20.0, 20.0)
        );
        assert_eq!(crop_rect((150.0, 80.0), (250.0, 130.0), None, (200.0, 100.0)), (150.0, 80.0, 50.0, 20.0));
        let (_, _, w, h) = crop_rect((0.0, 0.0), (90.0, 90.0), Some(4.0 / 3.0), (200.0, 100.0));
        assert!((w / h - 4.0 / 3.0).abs() < 1e-9);
    }
}
