//! "Retake like last time": the earlier photo the GP chose, over the live
//! rear camera, so the new photo lines up with it. The photo taken gets the
//! earlier photo's site and side. The guide is shown from its signed URL
//! (it works for two minutes) and never kept on the phone. Where the camera
//! is refused or missing, the phone says so and offers its own camera app.

use leptos::html;
use leptos::prelude::*;

use super::flow::{add_files_with, Flow, Step};
use crate::model::{ImageMetadata, RetakeGuide};
use crate::pages::widgets::PhotoPicker;

/// What the new photo starts with: the earlier photo's site and side.
fn prefill(guide: &RetakeGuide) -> ImageMetadata {
    ImageMetadata {
        body_site: guide.body_site.clone(),
        laterality: guide.laterality,
        ..ImageMetadata::default()
    }
}

/// The capture screen's offer, when the GP asked for a retake.
#[component]
pub(super) fn RetakeOffer(flow: Flow) -> impl IntoView {
    move || {
        flow.guide.get().map(|guide| {
            let site = guide.site_text.clone().unwrap_or_else(|| "the same place".into());
            let when = guide.date.as_deref().and_then(|d| d.get(..10)).unwrap_or("an earlier visit").to_owned();
            view! {
                <div class="m-retake" role="status">
                    <p>{format!("Your GP asked for a photo like the one of {when}: {site}.")}</p>
                    <button type="button" class="m-action m-action--primary" on:click=move |_| flow.step.set(Step::Guided)>
                        "Retake like last time"
                    </button>
                </div>
            }
        })
    }
}

#[component]
pub(super) fn GuidedScreen(flow: Flow) -> impl IntoView {
    let Some(guide) = flow.guide.get_untracked() else {
        flow.step.set(Step::Capture);
        return ().into_any();
    };
    let video = NodeRef::<html::Video>::new();
    let stream = StoredValue::new_local(None::<web_sys::MediaStream>);
    let problem = RwSignal::new(None::<String>);
    let opacity = RwSignal::new(40u32);
    let busy = RwSignal::new(false);
    let stop = move || {
        if let Some(s) = stream.try_update_value(Option::take).flatten() {
            crate::client::capture::close_camera(&s);
        }
    };
    Effect::new(move |_| {
        if video.get().is_none() {
            return;
        }
        leptos::task::spawn_local(async move {
            match crate::client::capture::open_camera(None, true).await {
                Ok(s) => {
                    if let Some(v) = video.get_untracked() {
                        v.set_src_object(Some(&s));
                        let _ = v.play();
                    }
                    stream.set_value(Some(s));
                }
                Err(e) => problem.set(Some(e)),
            }
        });
    });
    on_cleanup(stop);
    let metadata = prefill(&guide);
    let take = {
        let metadata = metadata.clone();
        move |_| {
            let metadata = metadata.clone();
            busy.set(true);
            leptos::task::spawn_local(async move {
                let Some(v) = video.get_untracked() else { return };
                match crate::client::capture::snapshot(&v).await {
                    Some(file) => {
                        stop();
                        add_files_with(flow, vec![file], Some(metadata));
                    }
                    None => {
                        busy.set(false);
                        problem
                            .set(Some("The camera has no picture yet. Wait a moment and try again.".into()));
                    }
                }
            });
        }
    };
    let guide_url = guide.url.clone();
    let native = move |files: Vec<web_sys::File>| add_files_with(flow, files, Some(prefill(&guide)));
    view! {
        <section class="m-screen m-guided" aria-labelledby="guided-title">
            <h1 id="guided-title">"Line it up with last time"</h1>
            <div class="m-guided__stage">
                <video node_ref=video class="m-guided__video" autoplay=true playsinline=true muted=true aria-label="Camera"></video>
                <img
                    class="m-guided__guide"
                    src=guide_url
                    alt="The earlier photo, as a guide"
                    referrerpolicy="no-referrer"
                    style=move || format!("opacity: {}", opacity.get() as f64 / 100.0)
                />
            </div>
            {move || problem.get().map(|p| view! {
                <p class="notice notice--warn" role="alert">{p} " Use the phone's camera instead."</p>
            })}
            <label class="m-guided__opacity">
                "Guide"
                <input
                    type="range"
                    min="0"
                    max="90"
                    step="10"
                    aria-label="Guide opacity"
                    prop:value=move || opacity.get().to_string()
                    on:input=move |e| opacity.set(event_target_value(&e).parse().unwrap_or(40))
                />
            </label>
            <button
                type="button"
                class="m-action m-action--primary"
                disabled=move || busy.get() || problem.get().is_some()
                on:click=take
            >
                "Take photo"
            </button>
            <PhotoPicker label="Use the phone's camera instead" class="m-action" camera=true on_files=native />
            <button type="button" class="button button--link" on:click=move |_| flow.step.set(Step::Capture)>"Cancel"</button>
        </section>
    }
    .into_any()
}
