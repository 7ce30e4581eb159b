//! `/medtech-images/mobile?t=…`: the phone's seven screens after scanning
//! the QR code: connecting, capture, review, details, uploading, done, and
//! expired or invalid link.
//!
//! The server renders "Connecting". Once hydrated, the page moves the token
//! out of the URL into sessionStorage (so it is in neither history nor a
//! Referer), validates it with a bearer header, and runs the flow. Every
//! photo starts through the image pipeline (a pool of Web Workers) the
//! moment it is picked, so the work overlaps with review and details; sending
//! takes each photo as its pipeline finishes, two uploads at a time (so one
//! photo's round trips overlap another's bytes), retries network failures
//! with backoff, pauses while the phone is offline, and never lets one
//! failure stop the others.

//!
//! - `flow.rs`: the flow's state (steps, photos and their stages) and its
//!   actions: adding photos, removing them, sending the batch;
//! - `capture.rs`: the capture and review screens;
//! - `details.rs`: side, body site and description per photo;
//! - `guided.rs`: "Retake like last time", the earlier photo over the camera;
//! - `sending.rs`: uploading, done, and the dead-link screen.

mod capture;
mod details;
mod flow;
mod guided;
mod sending;

use leptos::prelude::*;
use leptos_meta::Title;

use self::capture::{CaptureScreen, ReviewScreen};
use self::details::DetailsScreen;
use self::flow::{Flow, Step};
use self::guided::GuidedScreen;
use self::sending::{DoneScreen, InvalidLink, UploadingScreen};
use super::widgets::{ErrorNotice, Spinner};
use crate::api::{list_images, validate_mobile_token};
use crate::model::{ApiError, MobileLink, TokenProblem};

#[derive(Clone)]
pub(super) enum Screen {
    Connecting,
    Flow(MobileLink),
    Invalid(TokenProblem),
    Failed(ApiError),
}

/// The mobile page.
#[component]
pub fn MobilePage() -> impl IntoView {
    let screen = RwSignal::new(Screen::Connecting);
    let sent_total = RwSignal::new(0usize);

    // The link's key in the phone's queue of unsent photos, and the images
    // the session already has (to recognise a photo sent just before a reload).
    let link_key = StoredValue::new(String::new());
    let sent_ids = StoredValue::new(Vec::<String>::new());
    Effect::new(move |_| {
        let Some(token) = crate::client::adopt_mobile_token() else {
            screen.set(Screen::Invalid(TokenProblem::Missing));
            return;
        };
        link_key.set_value(crate::client::queue::link_key(&token));
        leptos::task::spawn_local(async move {
            screen.set(match validate_mobile_token(crate::client::phone_id()).await {
                Ok(link) => {
                    crate::client::remember_phone_id(&link.phone_id);
                    // The running count survives a reload: ask what this phone sent already.
                    if let Ok(images) = list_images().await {
                        sent_total.set(images.len());
                        sent_ids.set_value(images.into_iter().map(|i| i.image_id).collect());
                    }
                    Screen::Flow(link)
                }
                Err(ApiError::Token(problem)) => Screen::Invalid(problem),
                Err(e) => Screen::Failed(e),
            });
        });
    });
    // A dead link's kept photos can never be sent, whichever call found it
    // dead (validating, or a send): delete them.
    Effect::new(move |_| {
        if matches!(screen.get(), Screen::Invalid(_)) {
            let link = link_key.get_value();
            if !link.is_empty() {
                leptos::task::spawn_local(async move {
                    let _ = crate::client::queue::forget_link(&link).await;
                });
            }
        }
    });

    view! {
        <Title text="Clinical Images · phone" />
        <main class="page page--mobile">
            {move || match screen.get() {
                Screen::Connecting => view! { <Spinner label="Connecting to your desktop…" /> }.into_any(),
                Screen::Flow(link) => {
                    let key = link_key.get_value();
                    let sent = sent_ids.get_value();
                    view! { <FlowScreens link link_key=key sent screen sent_total /> }.into_any()
                }
                Screen::Invalid(problem) => view! { <InvalidLink problem /> }.into_any(),
                Screen::Failed(error) => {
                    view! {
                        <section class="mobile-card">
                            <h1>"Could not connect"</h1>
                            <ErrorNotice error />
                            <button class="button button--block" on:click=move |_| crate::client::reload()>
                                "Try again"
                            </button>
                        </section>
                    }
                        .into_any()
                }
            }}
        </main>
    }
}

#[component]
fn FlowScreens(
    link: MobileLink,
    link_key: String,
    sent: Vec<String>,
    screen: RwSignal<Screen>,
    sent_total: RwSignal<usize>,
) -> impl IntoView {
    let flow = Flow {
        screen,
        step: RwSignal::new(Step::Capture),
        photos: RwSignal::new(Vec::new()),
        sent_total,
        current: RwSignal::new(0),
        online: RwSignal::new(crate::client::upload::online()),
        sending: RwSignal::new(false),
        prepared: RwSignal::new(0),
        next_id: StoredValue::new(1),
        settings: StoredValue::new(link.settings.clone()),
        link: StoredValue::new(link_key),
        link_expires_at: StoredValue::new(link.expires_at.clone()),
        restored: RwSignal::new(0),
        guide: RwSignal::new(None),
        owner: StoredValue::new(Owner::current().unwrap_or_default()),
        early_lanes: StoredValue::new(0),
    };
    Effect::new(move |_| crate::client::pipeline::warm_up());
    let sent = StoredValue::new(sent);
    Effect::new(move |_| leptos::task::spawn_local(self::flow::resume(flow, sent.get_value())));
    let _online = window_event_listener(leptos::ev::online, move |_| flow.online.set(true));
    let _offline = window_event_listener(leptos::ev::offline, move |_| flow.online.set(false));
    let banner = link.patient_banner.clone();
    // Each new screen (and each photo's details) starts at its heading.
    Effect::new(move |first: Option<()>| {
        flow.step.track();
        flow.current.track();
        if first.is_some() {
            crate::pages::widgets::focus_heading(".m-screen h1");
        }
    });

    view! {
        <section class="banner banner--mobile" aria-label="Patient">"Photos for " {banner}</section>
        {move || match flow.step.get() {
            Step::Capture => view! { <CaptureScreen flow /> }.into_any(),
            Step::Guided => view! { <GuidedScreen flow /> }.into_any(),
            Step::Review => view! { <ReviewScreen flow /> }.into_any(),
            Step::Details => view! { <DetailsScreen flow /> }.into_any(),
            Step::Uploading => view! { <UploadingScreen flow /> }.into_any(),
            Step::Done => view! { <DoneScreen flow /> }.into_any(),
        }}
    }
}
