//! Capture (camera or gallery) and review (remove, add more).

use leptos::prelude::*;

use super::flow::{add_files, discard_batch, remove_photo, Flow, Photo, Stage, Step};
use super::guided::RetakeOffer;
use crate::pages::widgets::PhotoPicker;

#[component]
pub(super) fn CaptureScreen(flow: Flow) -> impl IntoView {
    let pending = move || flow.photos.with(|v| v.len());
    // The GP may ask for a retake at any time: look now, then every few seconds.
    let look = move || {
        leptos::task::spawn_local(async move {
            if let Ok(guide) = crate::api::retake_guide().await {
                flow.guide.set(guide);
            }
        });
    };
    Effect::new(move |_| look());
    let every = set_interval_with_handle(look, std::time::Duration::from_secs(4)).ok();
    on_cleanup(move || {
        if let Some(handle) = every {
            handle.clear();
        }
    });
    view! {
        <section class="m-screen m-capture" aria-labelledby="capture-title">
            <h1 id="capture-title">"Add photos"</h1>
            <RetakeOffer flow />
            <PhotoPicker
                label="Take photo"
                class="m-action m-action--primary"
                icon="◉"
                camera=true
                on_files=move |files| add_files(flow, files)
            />
            <PhotoPicker
                label="Choose from gallery"
                class="m-action"
                icon="▦"
                on_files=move |files| add_files(flow, files)
            />
            <p class="m-count" aria-live="polite">
                {move || match flow.sent_total.get() {
                    0 => "No photos sent yet.".to_owned(),
                    1 => "1 photo sent to the desktop.".to_owned(),
                    n => format!("{n} photos sent to the desktop."),
                }}
            </p>
            <Show when=move || { pending() > 0 }>
                <button class="button button--block" on:click=move |_| flow.step.set(Step::Review)>
                    {move || format!("Review {} new", pending())}
                </button>
            </Show>
        </section>
    }
}

#[component]
pub(super) fn Thumb(flow: Flow, photo: Photo) -> impl IntoView {
    let number = move || flow.number_of(photo.id);
    view! {
        <div class="m-thumb">
            {move || match photo.thumb.get() {
                Some(url) => view! { <img src=url alt=move || format!("Photo {}", number()) /> }.into_any(),
                None => view! { <div class="m-thumb__placeholder" aria-hidden="true"></div> }.into_any(),
            }}
            {move || match photo.stage.get() {
                Stage::Preparing(f) => {
                    view! {
                        <progress
                            class="m-thumb__progress"
                            max="1"
                            value=f
                            aria-label=move || format!("Preparing photo {}", number())
                        ></progress>
                    }
                        .into_any()
                }
                Stage::Rejected(message) => view! { <p class="m-thumb__error" role="alert">{message}</p> }.into_any(),
                _ => ().into_any(),
            }}
        </div>
    }
}

#[component]
pub(super) fn ReviewScreen(flow: Flow) -> impl IntoView {
    let usable = move || flow.usable().len();
    let confirming = RwSignal::new(false);
    view! {
        <section class="m-screen" aria-labelledby="review-title">
            <h1 id="review-title">"Review"</h1>
            <Show when=move || { flow.restored.get() > 0 }>
                <p class="notice" role="status">
                    {move || match flow.restored.get() {
                        1 => "1 photo from before was not sent yet. Send it, or discard it.".to_owned(),
                        n => format!("{n} photos from before were not sent yet. Send them, or discard them."),
                    }}
                </p>
            </Show>
            <p class="muted">
                {move || match usable() {
                    1 => "1 photo ready to send.".to_owned(),
                    n => format!("{n} photos ready to send."),
                }}
            </p>
            // When the bytes leave the phone, in the GP's own words.
            <p class="muted">
                "Photos upload as soon as they are ready, so sending is quick. The desktop gets them only \
                 when you tap Send. A photo you remove, or discard, is deleted from the server too."
            </p>
            <ul class="m-grid">
                <For each=move || flow.photos.get() key=|p| p.id let:photo>
                    <li class="m-grid__item">
                        <Thumb flow photo />
                        <button
                            class="m-remove"
                            aria-label=move || format!("Remove photo {}", flow.number_of(photo.id))
                            on:click=move |_| remove_photo(flow, photo.id)
                        >
                            "✕"
                        </button>
                    </li>
                </For>
            </ul>
            <div class="m-bar">
                <PhotoPicker
                    label="Add more"
                    class="button button--secondary"
                    on_files=move |files| add_files(flow, files)
                />
                <button
                    class="button"
                    disabled=move || usable() == 0
                    on:click=move |_| {
                        flow.current.set(0);
                        flow.step.set(Step::Details);
                    }
                >
                    "Continue"
                </button>
            </div>
            {move || {
                if confirming.get() {
                    view! {
                        <div class="notice notice--warn m-discard" role="alertdialog" aria-labelledby="discard-q">
                            <p id="discard-q">
                                {match flow.photos.with(Vec::len) {
                                    1 => "Discard this photo? It has not been sent.".to_owned(),
                                    n => format!("Discard these {n} photos? They have not been sent."),
                                }}
                            </p>
                            <div class="m-bar">
                                <button class="button button--secondary" on:click=move |_| confirming.set(false)>
                                    "Keep"
                                </button>
                                <button
                                    class="button button--danger"
                                    on:click=move |_| {
                                        confirming.set(false);
                                        discard_batch(flow);
                                    }
                                >
                                    "Discard"
                                </button>
                            </div>
                        </div>
                    }
                        .into_any()
                } else {
                    view! {
                        <button class="button button--link" on:click=move |_| confirming.set(true)>
                            "Discard all"
                        </button>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}
