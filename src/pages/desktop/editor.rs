//! The photo editor: rotate, crop (with aspect presets), annotate (arrow,
//! rectangle, ellipse, text), undo/redo and reset. Saving renders the edit
//! into pixels and uploads them as the image's new version; the photo as
//! uploaded is kept until commit, so "Revert to original" works. What the GP
//! sees is exactly what is committed.
//!
//! The edit is data (`model::edit`); drawing it is `client::canvas`; saving
//! it is [`Desk::save_edit`]. Every edit can be made without a drag, by
//! keyboard or single clicks (`editor_steps`).

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::desk::{Desk, Dialog};
use super::editor_steps::{on_stage_key, Ed, StepControls};
use crate::client::canvas::{crop_overlay, line_width, load_image, mark_outline, paint};
use crate::model::edit::{crop_handle, crop_rect, Edit, EditHistory, Point};
use crate::model::marks::Tool;

#[component]
pub fn EditorDialog(desk: Desk, image_id: String) -> impl IntoView {
    // Read once, when the dialog opens.
    let (info, number) = untrack(|| (desk.image(&image_id), desk.number_of(&image_id)));
    let canvas = NodeRef::<html::Canvas>::new();
    let panel = crate::pages::widgets::modal_focus();
    let image = RwSignal::new_local(None::<web_sys::HtmlImageElement>);
    let ed = Ed::default();
    let Ed { history, tool, aspect, label, .. } = ed;
    let drag = RwSignal::new(None::<(Point, Point)>);
    let status = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);
    let current = move || history.with(|h| h.current().clone());
    // Escape asks before discarding what is not saved (`Workspace`).
    Effect::new(move |_| desk.unsaved.set(!history.with(EditHistory::is_unchanged)));
    on_cleanup(move || desk.unsaved.set(false));
    let push = move |edit: Edit| history.update(|h| h.push(edit));
    let undo = move || history.update(|h| _ = h.undo());
    let redo = move || history.update(|h| _ = h.redo());

    let source_size = move || ed.source.get();
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
        let chosen = (tool_now != Tool::Crop).then(|| ed.chosen_mark()).flatten();
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
            match tool_now.drawn(a, b, &label_now) {
                Some(shape) => shown.shapes.push(shape),
                None if tool_now == Tool::Crop => crop = Some(crop_rect(a, b, aspect_now, (ow, oh))),
                None => {}
            }
        }
        paint(&ctx, &img, &shown, scale, (0.0, 0.0), line);
        if let Some(shape) = chosen.and_then(|i| edit.shapes.get(i)).filter(|_| preview.is_none()) {
            mark_outline(&ctx, shape, scale, line);
        }
        if let Some(crop) = crop {
            crop_overlay(&ctx, crop, scale, (ow, oh));
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
                Some(img) => {
                    ed.source.set(Some((img.natural_width() as f64, img.natural_height() as f64)));
                    image.set(Some(img));
                }
                None => status.set(Some("The photo could not be loaded for editing.".into())),
            }
        });
    });

    // The canvas may be shown smaller than it is drawn (a narrow window):
    // a pointer's position is read against its displayed size.
    let to_image = move |e: &web_sys::PointerEvent| -> Point {
        let shown = canvas.get_untracked().map(|el| {
            let (shown_w, shown_h) = (el.client_width().max(1) as f64, el.client_height().max(1) as f64);
            (el.width() as f64 / shown_w, el.height() as f64 / shown_h)
        });
        let (sx, sy) = shown.unwrap_or((1.0, 1.0));
        let scale = view_scale();
        (e.offset_x() as f64 * sx / scale, e.offset_y() as f64 * sy / scale)
    };
    let finish = move |end: Point| {
        let Some((a, _)) = drag.get_untracked() else { return };
        drag.set(None);
        let Some((w, h)) = source_size() else { return };
        let mut edit = current();
        let size = edit.oriented(w, h);
        // A click, not a drag, places a mark of a standard size there.
        let tiny = (end.0 - a.0).abs() < 4.0 && (end.1 - a.1).abs() < 4.0;
        let tool_now = tool.get_untracked();
        match tool_now {
            Tool::Crop if !tiny => edit.crop = Some(crop_rect(a, end, aspect.get_untracked(), size)),
            Tool::Crop => return,
            _ if tiny || tool_now == Tool::Text => return ed.place_at(end),
            _ => match tool_now.drawn(a, end, &label.get_untracked()) {
                Some(shape) => edit.shapes.push(shape),
                None => return,
            },
        }
        ed.chosen.set((tool_now != Tool::Crop).then(|| edit.shapes.len().saturating_sub(1)));
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
            match desk.save_edit(id.get_value(), img, edit).await {
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
            <div
                node_ref=panel
                tabindex="-1"
                class="modal__panel modal__panel--wide"
                role="dialog"
                aria-modal="true"
                aria-labelledby="editor-title"
                on:keydown=move |e: web_sys::KeyboardEvent| {
                    // The shortcuts the Undo and Redo buttons advertise; not
                    // while typing a label, where they undo the typing.
                    let typing = e.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()).is_some();
                    if !(e.ctrl_key() || e.meta_key()) || typing {
                        return;
                    }
                    match e.key().to_lowercase().as_str() {
                        "z" if e.shift_key() => redo(),
                        "z" => undo(),
                        "y" => redo(),
                        _ => return,
                    }
                    e.prevent_default();
                }
            >
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
                    <button type="button" class="button button--secondary" aria-keyshortcuts="Control+Z" disabled=move || !history.with(EditHistory::can_undo) on:click=move |_| undo()>"Undo"</button>
                    <button type="button" class="button button--secondary" aria-keyshortcuts="Control+Y" disabled=move || !history.with(EditHistory::can_redo) on:click=move |_| redo()>"Redo"</button>
                    <button type="button" class="button button--secondary" on:click=move |_| push(Edit::default())>"Reset"</button>
                </div>
                <div class="editor__stage">
                    <canvas
                        node_ref=canvas
                        tabindex="0"
                        aria-label="Photo being edited"
                        aria-describedby="editor-keys"
                        on:keydown=move |e| {
                            if on_stage_key(ed, &e) {
                                e.prevent_default();
                            }
                        }
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
                <p id="editor-keys" class="muted editor__keys">
                    "On the photo: arrow keys step the crop or the chosen mark, Shift with an arrow key resizes it, and Enter places a mark. A click places one too."
                </p>
                <StepControls ed />
                <p class="muted editor__size">
                    {move || source_size().map(|(w, h)| {
                        let (ow, oh) = current().output(w, h);
                        format!("Result: {:.0} × {:.0} px", ow, oh)
                    })}
                </p>
                {move || status.get().map(|s| view! { <p class="notice" role="status">{s}</p> })}
                <div class="modal__actions">
                    <button class="button button--secondary" on:click=move |_| desk.dialog.set(Dialog::None)>"Cancel"</button>
                    <button class="button" disabled=move || { saving.get() || history.with(EditHistory::is_unchanged) } on:click=save>
                        "Save edit"
                    </button>
                </div>
            </div>
        </div>
    }
}
