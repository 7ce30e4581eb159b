//! The strip: every photo of the session with its status badge (live over
//! SSE), and the uploads still in progress.

use leptos::ev;
use leptos::prelude::*;

use super::desk::{Desk, Pending};
use crate::client::upload::Waiting;
use crate::model::{ImageInfo, ImageStatus};

/// A status badge's text and modifier.
fn badge(desk: Desk, info: &ImageInfo) -> (&'static str, String) {
    match &info.status {
        ImageStatus::Committed { .. } => ("ok", "Committed".into()),
        ImageStatus::Committing => ("busy", "Committing…".into()),
        ImageStatus::Failed { .. } => ("error", "Failed".into()),
        ImageStatus::Uploaded if desk.needs_consent(info) => ("warn", "Needs consent".into()),
        ImageStatus::Uploaded if desk.needs_details(info) => ("warn", "Needs details".into()),
        ImageStatus::Uploaded => ("ready", "Ready".into()),
    }
}

#[component]
pub fn Strip(desk: Desk) -> impl IntoView {
    let empty = move || desk.images.with(Vec::is_empty) && desk.pending.with(Vec::is_empty);
    view! {
        <section class="strip" aria-label="Photos in this session">
            // A listbox only with options in it (an empty one is an error to
            // assistive technology); the note below says why it is empty.
            <ul
                class="strip__list"
                role=move || (!empty()).then_some("listbox")
                aria-label="Photos"
                aria-multiselectable=move || (!empty()).then_some("true")
            >
                <For each=move || desk.images.get() key=|i| (i.image_id.clone(), i.status.clone(), i.metadata.clone()) let:info>
                    {
                        let id = info.image_id.clone();
                        let id_sel = id.clone();
                        let id_focus = id.clone();
                        let (kind, text) = badge(desk, &info);
                        // Live: a photo picked earlier can arrive later and go before it.
                        let number = {
                            let id = id.clone();
                            move || desk.number_of(&id)
                        };
                        view! {
                            <li
                                class="strip__item"
                                role="option"
                                tabindex="0"
                                aria-selected=move || desk.selected.with(|s| s.contains(&id_sel)).to_string()
                                class:strip__item--focused=move || desk.focused.get().as_deref() == Some(id_focus.as_str())
                                on:click=move |e: ev::MouseEvent| desk.select(&id, e.ctrl_key() || e.meta_key() || e.shift_key())
                                on:keydown={
                                    let id = info.image_id.clone();
                                    move |e: ev::KeyboardEvent| {
                                        if e.key() == " " || e.key() == "Enter" {
                                            e.prevent_default();
                                            desk.select(&id, e.ctrl_key() || e.shift_key());
                                        }
                                    }
                                }
                            >
                                {match info.preview_url.clone() {
                                    Some(src) => view! { <img src=src alt=move || format!("Photo {}", number()) /> }.into_any(),
                                    // Filed: the bytes are in the patient's record, not here.
                                    None => view! { <span class="strip__filed">{move || format!("Photo {}", number())}</span> }.into_any(),
                                }}
                                <span class=format!("tag tag--{kind}")>{text}</span>
                            </li>
                        }
                    }
                </For>
                <For each=move || desk.pending.get() key=|p| p.key let:pending>
                    <PendingItem desk pending />
                </For>
            </ul>
            <Show when=empty>
                <p class="strip__empty">"No photos in this session yet. Add photos, use the webcam, or scan the QR code with a phone."</p>
            </Show>
        </section>
    }
}

#[component]
fn PendingItem(desk: Desk, pending: Pending) -> impl IntoView {
    let name = pending.name.get_value();
    view! {
        <li class="strip__item strip__item--pending" aria-label=format!("Uploading {name}")>
            {move || pending.thumb.get().map(|src| view! { <img src=src alt="" /> })}
            {move || match pending.error.get() {
                None => {
                    view! {
                        <progress max="1" value=move || pending.progress.get() aria-label="Upload progress"></progress>
                        <span class="tag tag--busy" role="status">
                            {move || match pending.waiting.get() {
                                // A live region: announced at quarters, not
                                // every tick (the bar shows the rest).
                                None => format!("Uploading {:.0}%", (pending.progress.get() * 4.0).floor() * 25.0),
                                Some(Waiting::Retry { seconds }) => {
                                    format!("Connection problem. Trying again in {seconds} s")
                                }
                                Some(Waiting::Offline) => "Paused: offline".to_owned(),
                            }}
                        </span>
                    }
                        .into_any()
                }
                Some(message) => {
                    view! {
                        <span class="tag tag--error" title=message.clone()>"Failed"</span>
                        <p class="strip__error" role="alert">{message}</p>
                        <button class="button button--link" on:click=move |_| desk.dismiss_pending(pending.key)>
                            "Dismiss"
                        </button>
                    }
                        .into_any()
                }
            }}
        </li>
    }
}
