//! Earlier photos of this patient, beside today's: a panel of thumbnails
//! from Medtech grouped by site and side (the selected photo's first), and
//! a compare view with one zoom and pan for both photos, side by side or
//! overlaid with an opacity slider. Everything works from the keyboard.

use leptos::prelude::*;

use super::desk::{Desk, Dialog};
use crate::api::{earlier_photos, open_earlier_photo, request_retake};
use crate::model::{group_earlier, ApiError, EarlierPhoto};

/// A date as the GP reads it: "12 Mar 2026".
fn day(date: &Option<String>) -> String {
    let Some(d) = date.as_deref().and_then(|d| d.get(..10)) else { return "Date not recorded".into() };
    let mut parts = d.split('-');
    let (Some(y), Some(m), Some(dd)) = (parts.next(), parts.next(), parts.next()) else { return d.into() };
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = m.parse::<usize>().ok().and_then(|m| MONTHS.get(m.wrapping_sub(1))).copied().unwrap_or(m);
    format!("{} {month} {y}", dd.trim_start_matches('0'))
}

/// Where the panel is.
#[derive(Clone)]
enum Load {
    /// Not asked for: nothing is read from Medtech until the GP asks.
    Closed,
    Loading,
    Ready(Vec<EarlierPhoto>),
    Failed(ApiError),
}

/// The panel. The patient's history is read from Medtech only when the GP
/// asks for it, and again on "Try again".
#[component]
pub fn EarlierPanel(desk: Desk) -> impl IntoView {
    let load = RwSignal::new(Load::Closed);
    let fetch = move || {
        load.set(Load::Loading);
        leptos::task::spawn_local(async move {
            load.set(match earlier_photos().await {
                Ok(list) => Load::Ready(list),
                Err(e) => Load::Failed(e),
            });
        });
    };
    // The selected photo's site and side decide which group comes first.
    let selected = move || {
        desk.focused.get().and_then(|id| desk.image(&id)).and_then(|i| {
            let code = i.metadata.body_site.clone()?;
            Some((code, i.metadata.laterality))
        })
    };
    view! {
        <section class="panel earlier" aria-labelledby="earlier-title">
            <h2 id="earlier-title">"Earlier photos"</h2>
            {move || match load.get() {
                Load::Closed => view! {
                    <p class="muted">"This patient's earlier photos in Medtech, to compare with today's."</p>
                    <button type="button" class="button button--secondary" on:click=move |_| fetch()>
                        "Show earlier photos"
                    </button>
                }
                    .into_any(),
                Load::Loading => {
                    view! { <p class="muted" role="status">"Looking for earlier photos in Medtech…"</p> }.into_any()
                }
                Load::Failed(e) => view! { <Unavailable error=e on_retry=fetch /> }.into_any(),
                Load::Ready(list) if list.is_empty() => {
                    view! { <p class="muted" role="status">"No earlier photos of this patient in Medtech."</p> }.into_any()
                }
                Load::Ready(list) => {
                    let groups = move || {
                        let wanted = selected();
                        group_earlier(&list, wanted.as_ref().map(|(c, l)| (c.as_str(), *l)))
                    };
                    view! {
                        <div class="earlier__groups">
                            <For each=groups key=|g| (g.label.clone(), g.matches_selected, g.photos.len()) let:group>
                                <EarlierGroupView desk group />
                            </For>
                        </div>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}

#[component]
fn Unavailable(error: ApiError, on_retry: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let detail = match error {
        ApiError::BadRequest(text) => text,
        _ => "Medtech could not be searched just now.".into(),
    };
    view! {
        <div class="notice notice--warn" role="status">
            <p>"Earlier photos are unavailable. " {detail}</p>
            <p>"Taking and filing photos still works."</p>
            <button type="button" class="button button--secondary" on:click=move |_| on_retry()>"Try again"</button>
        </div>
    }
}

#[component]
fn EarlierGroupView(desk: Desk, group: crate::model::EarlierGroup) -> impl IntoView {
    let count = group.photos.len();
    view! {
        <div class="earlier__group">
            <h3>
                {group.label.clone()}
                <span class="muted">{format!(" · {count}")}</span>
                {group.matches_selected.then(|| view! { <span class="badge">"Same site as the selected photo"</span> })}
            </h3>
            <ul class="earlier__list" role="list">
                {group.photos.into_iter().map(|photo| {
                    let label = format!("Compare with the photo of {}", day(&photo.date));
                    let when = day(&photo.date);
                    let about = photo.description.clone().unwrap_or_default();
                    let thumb = photo.thumbnail_url.clone();
                    let pictured = thumb.is_some();
                    view! {
                        <li>
                            <button
                                type="button"
                                class="earlier__item"
                                aria-label=label
                                disabled=!pictured
                                on:click=move |_| desk.dialog.set(Dialog::Compare(photo.clone()))
                            >
                                {match thumb {
                                    Some(src) => view! { <img src=src alt="" loading="lazy" /> }.into_any(),
                                    None => view! { <span class="earlier__none">"No picture"</span> }.into_any(),
                                }}
                                <span class="earlier__when">{when}</span>
                                <span class="earlier__about muted">{about}</span>
                            </button>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </div>
    }
}

/// How the two photos are shown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    SideBySide,
    Overlay,
}

/// Today's selected photo beside (or over) an earlier one, with one zoom
/// and pan for both. Keys: + and − zoom, 0 fits, the arrows pan, O
/// switches to overlay and back, Escape closes.
#[component]
pub fn CompareDialog(desk: Desk, earlier: EarlierPhoto) -> impl IntoView {
    let today = untrack(|| desk.focused.get().and_then(|id| desk.image(&id)));
    let today_number = today.as_ref().map(|i| desk.number_of(&i.image_id));
    let today_src = today.as_ref().and_then(|i| i.preview_url.clone());
    let full = crate::pages::widgets::fetched(open_earlier_photo(
        earlier.resource_type.clone(),
        earlier.resource_id.clone(),
    ));
    let zoom = RwSignal::new(1.0f64);
    let pan = RwSignal::new((0.0f64, 0.0f64));
    let layout = RwSignal::new(Layout::SideBySide);
    let opacity = RwSignal::new(50u32);
    let panel = crate::pages::widgets::modal_focus();
    let set_zoom = move |z: f64| {
        zoom.set(z.clamp(1.0, 8.0));
        if zoom.get_untracked() <= 1.0 {
            pan.set((0.0, 0.0));
        }
    };
    let nudge = move |dx: f64, dy: f64| {
        if zoom.get_untracked() > 1.0 {
            pan.update(|(x, y)| {
                *x += dx;
                *y += dy;
            });
        }
    };
    let transform = move || {
        let (x, y) = pan.get();
        format!("transform: translate({x}px, {y}px) scale({})", zoom.get())
    };
    let when = day(&earlier.date);
    let site = earlier.site_text.clone().unwrap_or_else(|| "No body site recorded".into());
    let retake_status = RwSignal::new(None::<String>);
    let retake = {
        let (kind, id) = (earlier.resource_type.clone(), earlier.resource_id.clone());
        move |_| {
            let (kind, id) = (kind.clone(), id.clone());
            leptos::task::spawn_local(async move {
                retake_status.set(Some(match request_retake(kind, id).await {
                    Ok(()) => {
                        if desk.phones.get_untracked() == 0 {
                            desk.qr_open.set(true);
                            "The phone will show this photo as a guide for 10 minutes. Scan the QR code with the phone.".into()
                        } else {
                            "The phone now shows this photo as a guide, for 10 minutes.".into()
                        }
                    }
                    Err(e) => e.to_string(),
                }));
            });
        }
    };
    let earlier_alt = format!("Earlier photo, {when}, {site}");
    let today_alt = today_number.map(|n| format!("Today's photo {n}")).unwrap_or_default();
    let today_label = today_number
        .map(|n| format!("Today: photo {n}"))
        .unwrap_or_else(|| "Today: no photo selected".into());
    let earlier_picture = move |class: &'static str, fade: bool| {
        let alt = earlier_alt.clone();
        move || {
            match full.get() {
            None => view! { <p class="muted" role="status">"Opening the earlier photo…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
            Some(Ok(src)) => view! {
                <img
                    class=class
                    src=src
                    alt=alt.clone()
                    draggable="false"
                    style=move || {
                        let fade = if fade { format!("; opacity: {}", opacity.get() as f64 / 100.0) } else { String::new() };
                        format!("{}{fade}", transform())
                    }
                />
            }
                .into_any(),
        }
        }
    };
    let today_picture = move |class: &'static str| {
        let (src, alt) = (today_src.clone(), today_alt.clone());
        move || match src.clone() {
            Some(src) => {
                view! { <img class=class src=src alt=alt.clone() draggable="false" style=transform /> }
                    .into_any()
            }
            None => view! { <p class="muted">"Select one of today's photos to compare it."</p> }.into_any(),
        }
    };

    view! {
        <div class="modal">
            <div
                node_ref=panel
                tabindex="-1"
                class="modal__panel modal__panel--wide compare"
                role="dialog"
                aria-modal="true"
                aria-labelledby="compare-title"
                on:keydown=move |e: web_sys::KeyboardEvent| {
                    let on_control = e
                        .target()
                        .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlInputElement>(t).ok())
                        .is_some();
                    if on_control || e.ctrl_key() || e.meta_key() || e.alt_key() {
                        return;
                    }
                    match e.key().as_str() {
                        "+" | "=" => set_zoom(zoom.get_untracked() * 1.25),
                        "-" | "_" => set_zoom(zoom.get_untracked() / 1.25),
                        "0" => set_zoom(1.0),
                        "ArrowLeft" => nudge(40.0, 0.0),
                        "ArrowRight" => nudge(-40.0, 0.0),
                        "ArrowUp" => nudge(0.0, 40.0),
                        "ArrowDown" => nudge(0.0, -40.0),
                        "o" | "O" => layout.update(|l| *l = if *l == Layout::Overlay { Layout::SideBySide } else { Layout::Overlay }),
                        _ => return,
                    }
                    e.prevent_default();
                }
            >
                <h2 id="compare-title">{format!("Compare with {when} · {site}")}</h2>
                <div class="compare__tools" role="toolbar" aria-label="Compare controls">
                    <button type="button" class="button button--secondary" aria-label="Zoom out" aria-keyshortcuts="-" on:click=move |_| set_zoom(zoom.get_untracked() / 1.25)>"−"</button>
                    <span class="preview__zoom" aria-live="polite">{move || format!("{:.0}%", zoom.get() * 100.0)}</span>
                    <button type="button" class="button button--secondary" aria-label="Zoom in" aria-keyshortcuts="+" on:click=move |_| set_zoom(zoom.get_untracked() * 1.25)>"+"</button>
                    <button type="button" class="button button--secondary" aria-keyshortcuts="0" on:click=move |_| set_zoom(1.0)>"Fit"</button>
                    <span class="compare__pan" role="group" aria-label="Move both photos">
                        <button type="button" class="button button--secondary" aria-label="Pan left" disabled=move || zoom.get() <= 1.0 on:click=move |_| nudge(40.0, 0.0)>"←"</button>
                        <button type="button" class="button button--secondary" aria-label="Pan up" disabled=move || zoom.get() <= 1.0 on:click=move |_| nudge(0.0, 40.0)>"↑"</button>
                        <button type="button" class="button button--secondary" aria-label="Pan down" disabled=move || zoom.get() <= 1.0 on:click=move |_| nudge(0.0, -40.0)>"↓"</button>
                        <button type="button" class="button button--secondary" aria-label="Pan right" disabled=move || zoom.get() <= 1.0 on:click=move |_| nudge(-40.0, 0.0)>"→"</button>
                    </span>
                    <button
                        type="button"
                        class="button button--secondary"
                        aria-pressed=move || (layout.get() == Layout::Overlay).to_string()
                        aria-keyshortcuts="O"
                        on:click=move |_| layout.update(|l| *l = if *l == Layout::Overlay { Layout::SideBySide } else { Layout::Overlay })
                    >
                        "Overlay"
                    </button>
                    <Show when=move || layout.get() == Layout::Overlay>
                        <label class="compare__opacity">
                            "Earlier photo opacity"
                            <input
                                type="range"
                                min="0"
                                max="100"
                                step="5"
                                prop:value=move || opacity.get().to_string()
                                on:input=move |e| opacity.set(event_target_value(&e).parse().unwrap_or(50))
                            />
                            <span aria-hidden="true">{move || format!("{}%", opacity.get())}</span>
                        </label>
                    </Show>
                </div>
                {
                    let today_side = today_picture("compare__img");
                    let today_under = today_picture("compare__img");
                    let earlier_side = earlier_picture("compare__img", false);
                    let earlier_over = earlier_picture("compare__img compare__img--over", true);
                    let (today_label, when) = (today_label.clone(), when.clone());
                    move || match layout.get() {
                        Layout::SideBySide => view! {
                            <div class="compare__pair">
                                <figure class="compare__frame">
                                    <div class="compare__window">{today_side.clone()}</div>
                                    <figcaption>{today_label.clone()}</figcaption>
                                </figure>
                                <figure class="compare__frame">
                                    <div class="compare__window">{earlier_side.clone()}</div>
                                    <figcaption>{format!("Earlier: {when}")}</figcaption>
                                </figure>
                            </div>
                        }
                            .into_any(),
                        Layout::Overlay => view! {
                            <figure class="compare__frame compare__frame--overlay">
                                <div class="compare__window">{today_under.clone()} {earlier_over.clone()}</div>
                                <figcaption>{format!("{today_label} with the earlier photo of {when} over it")}</figcaption>
                            </figure>
                        }
                            .into_any(),
                    }
                }
                <p class="muted compare__keys">"Keys: + and − zoom, 0 fits, the arrow keys move both photos, O overlays."</p>
                {move || retake_status.get().map(|s| view! { <p class="notice" role="status">{s}</p> })}
                <div class="modal__actions">
                    <button type="button" class="button button--secondary" on:click=retake>"Retake on phone"</button>
                    <button type="button" class="button" on:click=move |_| desk.dialog.set(Dialog::None)>"Close"</button>
                </div>
            </div>
        </div>
    }
}
