//! The preview: the focused photo, large, with its actions (edit, rotate,
//! revert, delete) and zoom. A zoomed photo pans by drag, by the step pad
//! or by arrow keys, so no drag is needed (WCAG 2.5.7).

use leptos::ev;
use leptos::prelude::*;

use super::desk::{Desk, Dialog};
use super::nudge::{arrow_step, NudgePad};
use crate::model::ImageStatus;

/// How far one pan step moves the photo, in CSS pixels.
const PAN_STEP: f64 = 80.0;

/// The focused image, zoomable (wheel, buttons) and pannable (drag, the
/// step pad, or arrow keys on the photo).
#[component]
pub fn Preview(desk: Desk) -> impl IntoView {
    let zoom = RwSignal::new(1.0f64);
    let pan = RwSignal::new((0.0f64, 0.0f64));
    let drag = StoredValue::new(None::<(f64, f64)>);
    let photo = NodeRef::<leptos::html::Img>::new();
    // Panning stops where the photo's edge meets the frame's: a scaled
    // photo overhangs by (zoom − 1) / 2 of its size on each side.
    let pan_by = move |(dx, dy): (f64, f64)| {
        let (w, h) = photo
            .get_untracked()
            .map(|img| (img.offset_width() as f64, img.offset_height() as f64))
            .unwrap_or_default();
        let reach = (zoom.get_untracked() - 1.0).max(0.0) / 2.0;
        pan.update(|(x, y)| {
            *x = (*x + dx).clamp(-w * reach, w * reach);
            *y = (*y + dy).clamp(-h * reach, h * reach);
        });
    };
    // A step shows more of that side: the photo moves the other way.
    let step = move |(ux, uy): (f64, f64)| pan_by((-ux * PAN_STEP, -uy * PAN_STEP));
    Effect::new(move |_| {
        desk.focused.track();
        zoom.set(1.0);
        pan.set((0.0, 0.0));
    });
    let set_zoom = move |z: f64| {
        zoom.set(z.clamp(1.0, 8.0));
        if zoom.get_untracked() <= 1.0 {
            pan.set((0.0, 0.0));
        }
    };
    let focused = move || desk.focused.get().and_then(|id| desk.image(&id));

    view! {
        <section class="preview" aria-label="Preview">
            {move || match focused() {
                None => view! { <p class="preview__empty muted">"Select a photo to see it here."</p> }.into_any(),
                Some(info) => {
                    let number = desk.number_of(&info.image_id);
                    let failed = match &info.status {
                        ImageStatus::Failed { message, .. } => Some(message.clone()),
                        _ => None,
                    };
                    let committed = match &info.status {
                        ImageStatus::Committed { resource_id } => Some(resource_id.clone()),
                        _ => None,
                    };
                    let committed_flag = committed.is_none();
                    let delete_id = info.image_id.clone();
                    let edit_id = info.image_id.clone();
                    let revert_id = info.image_id.clone();
                    let edited = info.edited;
                    view! {
                        <div class="preview__tools">
                            <button class="button button--secondary" aria-label="Zoom out" on:click=move |_| set_zoom(zoom.get_untracked() / 1.25)>"−"</button>
                            <span class="preview__zoom" aria-live="polite">{move || format!("{:.0}%", zoom.get() * 100.0)}</span>
                            <button class="button button--secondary" aria-label="Zoom in" on:click=move |_| set_zoom(zoom.get_untracked() * 1.25)>"+"</button>
                            <button class="button button--secondary" on:click=move |_| set_zoom(1.0)>"Fit"</button>
                            <Show when=move || { zoom.get() > 1.0 }>
                                <NudgePad label="Pan the zoomed photo" verb="Pan" on_step=step />
                            </Show>
                            <span class="desk__spacer"></span>
                            <span class="muted">{format!("Photo {number}")} {info.width.zip(info.height).map(|(w, h)| format!(" · {w}×{h}"))}</span>
                            <button
                                class="button button--secondary"
                                disabled=committed.is_some()
                                aria-keyshortcuts="E"
                                on:click=move |_| desk.dialog.set(Dialog::Editor(edit_id.clone()))
                            >
                                "Edit"
                            </button>
                            <button
                                class="button button--secondary"
                                disabled=committed.is_some()
                                aria-keyshortcuts="R"
                                on:click=move |_| desk.quick_rotate()
                            >
                                "Rotate"
                            </button>
                            <Show when=move || edited && committed_flag>
                                <button class="button button--link" on:click={
                                    let id = revert_id.clone();
                                    move |_| desk.revert(id.clone())
                                }>
                                    "Revert to original"
                                </button>
                            </Show>
                            <button
                                class="button button--danger"
                                disabled=committed.is_some()
                                aria-keyshortcuts="Delete"
                                on:click=move |_| desk.dialog.set(Dialog::ConfirmDelete(vec![delete_id.clone()]))
                            >
                                "Delete"
                            </button>
                        </div>
                        {failed.map(|m| view! { <p class="notice notice--error" role="alert">"Commit failed: " {m}</p> })}
                        {committed.map(|r| view! { <p class="notice notice--ok">"Committed to the patient's record (" {r} "). Locked."</p> })}
                        <div
                            class="preview__frame"
                            tabindex=move || (zoom.get() > 1.0).then_some("0")
                            role=move || (zoom.get() > 1.0).then_some("group")
                            aria-label=move || (zoom.get() > 1.0).then_some("Zoomed photo: arrow keys pan")
                            on:keydown=move |e: ev::KeyboardEvent| {
                                // Arrow keys here pan; elsewhere they step between photos.
                                if let Some(unit) = arrow_step(&e.key()).filter(|_| zoom.get_untracked() > 1.0) {
                                    e.prevent_default();
                                    e.stop_propagation();
                                    step(unit);
                                }
                            }
                            on:wheel=move |e: ev::WheelEvent| {
                                e.prevent_default();
                                set_zoom(zoom.get_untracked() * if e.delta_y() < 0.0 { 1.15 } else { 1.0 / 1.15 });
                            }
                            on:pointerdown=move |e: ev::PointerEvent| {
                                drag.set_value(Some((e.client_x() as f64, e.client_y() as f64)));
                            }
                            on:pointermove=move |e: ev::PointerEvent| {
                                if let Some((x, y)) = drag.get_value() {
                                    if zoom.get_untracked() > 1.0 {
                                        let (nx, ny) = (e.client_x() as f64, e.client_y() as f64);
                                        pan_by((nx - x, ny - y));
                                        drag.set_value(Some((nx, ny)));
                                    }
                                }
                            }
                            on:pointerup=move |_| drag.set_value(None)
                            on:pointerleave=move |_| drag.set_value(None)
                        >
                            {info.preview_url.clone().map(|src| view! {
                                <img
                                    node_ref=photo
                                    src=src
                                    alt=format!("Photo {number}, large")
                                    draggable="false"
                                    style=move || {
                                        let (x, y) = pan.get();
                                        format!("transform: translate({x}px, {y}px) scale({})", zoom.get())
                                    }
                                />
                            })}
                            {info.preview_url.is_none().then(|| view! {
                                <p class="preview__filed">"Filed in the patient's record. No copy is kept here."</p>
                            })}
                        </div>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}
