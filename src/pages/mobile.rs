//! `/medtech-images/mobile?t=…`: the phone's seven screens after scanning
//! the QR code: connecting, capture, review, details, uploading, done, and
//! expired or invalid link.
//!
//! The server renders "Connecting". Once hydrated, the page moves the token
//! out of the URL into sessionStorage (so it is in neither history nor a
//! Referer), validates it with a bearer header, and runs the flow. Every
//! photo starts through the image pipeline (in its Web Worker) the moment it
//! is picked, so the work overlaps with review; sending keeps going one photo
//! at a time, retries network failures with backoff, pauses while the phone
//! is offline, and never lets one failure stop the others.

use leptos::prelude::*;
use leptos_meta::Title;

use super::widgets::{ErrorNotice, PhotoPicker, SiteSearchBox, Spinner};
use crate::api::{list_images, validate_mobile_token};
use crate::client::pipeline::Processed;
use crate::client::upload::Outgoing;
use crate::model::{
    body_site, search_body_sites, site_label, ApiError, CaptureSettings, ImageMetadata, Laterality,
    MobileLink, TokenProblem, DESCRIPTION_MAX_CHARS,
};

#[derive(Clone)]
enum Screen {
    Connecting,
    Flow(MobileLink),
    Invalid(TokenProblem),
    Failed(ApiError),
}

/// Where the flow is, between connecting and a dead link.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Step {
    Capture,
    Review,
    Details,
    Uploading,
    Done,
}

/// One photo's progress.
#[derive(Clone, Debug, PartialEq)]
enum Stage {
    /// In the pipeline, with its progress.
    Preparing(f64),
    Ready,
    /// The pipeline refused it (not an image, damaged): it is not sent.
    Rejected(String),
    /// Waiting its turn to send.
    Queued,
    /// Paused until the phone is back online.
    Offline,
    Sending(f64),
    /// Waiting to try again after a network failure, seconds.
    Retrying(u32),
    Sent,
    /// Retries exhausted; the GP can try again.
    Failed(String),
}

impl Stage {
    fn settled(&self) -> bool {
        matches!(self, Stage::Rejected(_) | Stage::Sent | Stage::Failed(_))
    }
}

/// One photo in the current batch. Every field is a handle, so it is `Copy`.
#[derive(Clone, Copy)]
struct Photo {
    id: u32,
    stage: RwSignal<Stage>,
    thumb: RwSignal<Option<String>>,
    metadata: RwSignal<ImageMetadata>,
    processed: StoredValue<Option<Processed>, LocalStorage>,
    outgoing: StoredValue<Option<Outgoing>, LocalStorage>,
}

/// The flow's state, shared by the screens.
#[derive(Clone, Copy)]
struct Flow {
    screen: RwSignal<Screen>,
    step: RwSignal<Step>,
    photos: RwSignal<Vec<Photo>>,
    /// Photos this phone has sent in this session, over all batches.
    sent_total: RwSignal<usize>,
    /// The photo the details screen shows (index among the usable ones).
    current: RwSignal<usize>,
    online: RwSignal<bool>,
    sending: RwSignal<bool>,
    next_id: StoredValue<u32>,
    settings: StoredValue<CaptureSettings>,
    /// The flow's reactive owner: photos' signals belong to it, not to the
    /// screen that picked them (which goes away when the step changes).
    owner: StoredValue<Owner>,
}

impl Flow {
    /// Photos that can be sent (the pipeline did not refuse them).
    fn usable(&self) -> Vec<Photo> {
        self.photos.get().into_iter().filter(|p| !matches!(p.stage.get(), Stage::Rejected(_))).collect()
    }

    fn number_of(&self, id: u32) -> usize {
        self.photos.with(|v| v.iter().position(|p| p.id == id).map(|i| i + 1).unwrap_or(0))
    }
}

/// The mobile page.
#[component]
pub fn MobilePage() -> impl IntoView {
    let screen = RwSignal::new(Screen::Connecting);
    let sent_total = RwSignal::new(0usize);

    Effect::new(move |_| {
        if crate::client::adopt_mobile_token().is_none() {
            screen.set(Screen::Invalid(TokenProblem::Missing));
            return;
        }
        leptos::task::spawn_local(async move {
            screen.set(match validate_mobile_token(crate::client::phone_id()).await {
                Ok(link) => {
                    // The running count survives a reload: ask what this phone sent already.
                    if let Ok(images) = list_images().await {
                        sent_total.set(images.len());
                    }
                    Screen::Flow(link)
                }
                Err(ApiError::Token(problem)) => Screen::Invalid(problem),
                Err(e) => Screen::Failed(e),
            });
        });
    });

    view! {
        <Title text="Clinical Images · phone" />
        <main class="page page--mobile">
            {move || match screen.get() {
                Screen::Connecting => view! { <Spinner label="Connecting to your desktop…" /> }.into_any(),
                Screen::Flow(link) => view! { <FlowScreens link screen sent_total /> }.into_any(),
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
fn FlowScreens(link: MobileLink, screen: RwSignal<Screen>, sent_total: RwSignal<usize>) -> impl IntoView {
    let flow = Flow {
        screen,
        step: RwSignal::new(Step::Capture),
        photos: RwSignal::new(Vec::new()),
        sent_total,
        current: RwSignal::new(0),
        online: RwSignal::new(crate::client::upload::online()),
        sending: RwSignal::new(false),
        next_id: StoredValue::new(1),
        settings: StoredValue::new(link.settings.clone()),
        owner: StoredValue::new(Owner::current().unwrap_or_default()),
    };
    Effect::new(move |_| crate::client::pipeline::warm_up());
    let _online = window_event_listener(leptos::ev::online, move |_| flow.online.set(true));
    let _offline = window_event_listener(leptos::ev::offline, move |_| flow.online.set(false));
    let banner = link.patient_banner.clone();

    view! {
        <p class="banner banner--mobile" aria-label="Patient">"Photos for " {banner}</p>
        {move || match flow.step.get() {
            Step::Capture => view! { <CaptureScreen flow /> }.into_any(),
            Step::Review => view! { <ReviewScreen flow /> }.into_any(),
            Step::Details => view! { <DetailsScreen flow /> }.into_any(),
            Step::Uploading => view! { <UploadingScreen flow /> }.into_any(),
            Step::Done => view! { <DoneScreen flow /> }.into_any(),
        }}
    }
}

/// Adds picked files to the batch and starts each through the pipeline.
fn add_files(flow: Flow, files: Vec<web_sys::File>) {
    if files.is_empty() {
        return;
    }
    let targets = flow.settings.with_value(|s| s.pipeline);
    for file in files {
        let id = flow.next_id.get_value();
        flow.next_id.set_value(id + 1);
        let photo = flow.owner.with_value(|owner| {
            owner.with(|| Photo {
                id,
                stage: RwSignal::new(Stage::Preparing(0.0)),
                thumb: RwSignal::new(None),
                metadata: RwSignal::new(ImageMetadata::default()),
                processed: StoredValue::new_local(None),
                outgoing: StoredValue::new_local(None),
            })
        });
        flow.photos.update(|v| v.push(photo));
        leptos::task::spawn_local(async move {
            let stage = photo.stage;
            let done = crate::client::pipeline::process(&file, &targets, move |f| {
                if matches!(stage.get_untracked(), Stage::Preparing(_)) {
                    stage.set(Stage::Preparing(f));
                }
            })
            .await;
            match done {
                Ok(processed) => {
                    photo.thumb.set(crate::client::object_url(&processed.blob));
                    photo.processed.set_value(Some(processed));
                    photo.stage.set(Stage::Ready);
                }
                Err(failure) => photo.stage.set(Stage::Rejected(failure.message)),
            }
        });
    }
    flow.step.set(Step::Review);
}

fn remove_photo(flow: Flow, id: u32) {
    flow.photos.update(|v| {
        if let Some(p) = v.iter().find(|p| p.id == id) {
            if let Some(url) = p.thumb.get_untracked() {
                crate::client::revoke_object_url(&url);
            }
        }
        v.retain(|p| p.id != id);
    });
}

#[component]
fn CaptureScreen(flow: Flow) -> impl IntoView {
    let pending = move || flow.photos.with(|v| v.len());
    view! {
        <section class="m-screen m-capture" aria-labelledby="capture-title">
            <h1 id="capture-title">"Add photos"</h1>
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
fn Thumb(flow: Flow, photo: Photo) -> impl IntoView {
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
fn ReviewScreen(flow: Flow) -> impl IntoView {
    let usable = move || flow.usable().len();
    view! {
        <section class="m-screen" aria-labelledby="review-title">
            <h1 id="review-title">"Review"</h1>
            <p class="muted">
                {move || match usable() {
                    1 => "1 photo ready to send.".to_owned(),
                    n => format!("{n} photos ready to send."),
                }}
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
        </section>
    }
}

const LATERALITY: [(Laterality, &str); 4] = [
    (Laterality::Left, "Left"),
    (Laterality::Right, "Right"),
    (Laterality::Bilateral, "Both"),
    (Laterality::NotApplicable, "N/A"),
];

#[component]
fn DetailsScreen(flow: Flow) -> impl IntoView {
    let photos = Memo::new(move |_| flow.usable().into_iter().map(|p| p.id).collect::<Vec<_>>());
    let count = move || photos.with(|p| p.len());
    let index = move || flow.current.get().min(count().saturating_sub(1));
    let photo = move || {
        let id = photos.with(|p| p.get(index()).copied());
        flow.photos.with(|v| id.and_then(|id| v.iter().find(|p| p.id == id).copied()))
    };
    let query = RwSignal::new(String::new());
    let templates = flow.settings.with_value(|s| s.body_site_templates.clone());

    let set = move |f: &dyn Fn(&mut ImageMetadata)| {
        if let Some(p) = photo() {
            p.metadata.update(|m| f(m));
        }
    };
    let metadata = move || photo().map(|p| p.metadata.get()).unwrap_or_default();
    let same_as_previous = move |_| {
        let ids = photos.get();
        let i = index();
        if i == 0 {
            return;
        }
        let previous = flow.photos.with(|v| v.iter().find(|p| p.id == ids[i - 1]).map(|p| p.metadata.get()));
        if let (Some(m), Some(p)) = (previous, photo()) {
            p.metadata.set(m);
        }
    };

    view! {
        <section class="m-screen" aria-labelledby="details-title">
            <h1 id="details-title">
                "Details " <span class="muted">{move || format!("Photo {} of {}", index() + 1, count())}</span>
            </h1>
            <p class="muted">"Optional. The GP can add these on the desktop too."</p>
            {move || photo().map(|p| view! { <Thumb flow photo=p /> })}
            <Show when=move || { index() > 0 }>
                <button class="button button--secondary button--block" on:click=same_as_previous>
                    "Same as previous"
                </button>
            </Show>
            <fieldset class="m-field">
                <legend>"Side"</legend>
                <div class="m-segments">
                    {LATERALITY
                        .into_iter()
                        .map(|(value, label)| {
                            view! {
                                <button
                                    type="button"
                                    class="m-chip"
                                    aria-pressed=move || (metadata().laterality == Some(value)).to_string()
                                    on:click=move |_| {
                                        set(&|m| {
                                            m.laterality = if m.laterality == Some(value) { None } else { Some(value) };
                                        })
                                    }
                                >
                                    {label}
                                </button>
                            }
                        })
                        .collect_view()}
                </div>
            </fieldset>
            <fieldset class="m-field">
                <legend>"Body site"</legend>
                <div class="m-chips">
                    {templates
                        .into_iter()
                        .filter_map(|code| body_site(&code))
                        .map(|site| {
                            let code = site.code.clone();
                            let pressed = code.clone();
                            view! {
                                <button
                                    type="button"
                                    class="m-chip"
                                    aria-pressed=move || {
                                        (metadata().body_site.as_deref() == Some(pressed.as_str())).to_string()
                                    }
                                    on:click=move |_| {
                                        let code = code.clone();
                                        set(&move |m| {
                                            m.body_site = if m.body_site.as_deref() == Some(code.as_str()) {
                                                None
                                            } else {
                                                Some(code.clone())
                                            };
                                        })
                                    }
                                >
                                    {site_label(&site.term)}
                                </button>
                            }
                        })
                        .collect_view()}
                </div>
                <SiteSearchBox query class="m-search" label="Search all body sites" />
                <ul class="m-results">
                    {move || {
                        search_body_sites(&query.get(), 6)
                            .into_iter()
                            .map(|site| {
                                let code = site.code.clone();
                                view! {
                                    <li>
                                        <button
                                            type="button"
                                            class="m-result"
                                            on:click=move |_| {
                                                let code = code.clone();
                                                set(&move |m| m.body_site = Some(code.clone()));
                                                query.set(String::new());
                                            }
                                        >
                                            {site_label(&site.term)}
                                        </button>
                                    </li>
                                }
                            })
                            .collect::<Vec<_>>()
                    }}
                </ul>
                <p class="m-chosen" aria-live="polite">
                    {move || {
                        metadata()
                            .body_site
                            .and_then(|c| body_site(&c))
                            .map(|s| format!("Chosen: {}", site_label(&s.term)))
                            .unwrap_or_default()
                    }}
                </p>
            </fieldset>
            <label class="m-field m-description">
                "Description"
                <textarea
                    rows="3"
                    maxlength=DESCRIPTION_MAX_CHARS
                    prop:value=move || metadata().description.unwrap_or_default()
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        set(&move |m| m.description = Some(text.clone()).filter(|t| !t.trim().is_empty()));
                    }
                ></textarea>
                <span class="muted m-counter">
                    {move || {
                        format!(
                            "{} / {DESCRIPTION_MAX_CHARS}",
                            metadata().description.map(|d| d.chars().count()).unwrap_or(0),
                        )
                    }}
                </span>
            </label>
            <div class="m-bar">
                <button
                    class="button button--secondary"
                    disabled=move || index() == 0
                    on:click=move |_| flow.current.set(index().saturating_sub(1))
                >
                    "Previous"
                </button>
                <Show
                    when=move || { index() + 1 < count() }
                    fallback=move || {
                        view! {
                            <button class="button" on:click=move |_| start_sending(flow)>
                                "Send all"
                            </button>
                        }
                    }
                >
                    <button class="button" on:click=move |_| flow.current.set(index() + 1)>
                        "Next"
                    </button>
                </Show>
            </div>
            <button class="button button--link" on:click=move |_| start_sending(flow)>
                "Skip details and send"
            </button>
        </section>
    }
}

/// Goes to the uploading screen and sends whatever is not sent yet.
fn start_sending(flow: Flow) {
    flow.step.set(Step::Uploading);
    if flow.sending.get_untracked() {
        return;
    }
    flow.sending.set(true);
    leptos::task::spawn_local(async move {
        // Photos added while sending are picked up by the next pass.
        loop {
            let next = flow.photos.get_untracked().into_iter().find(|p| {
                matches!(p.stage.get_untracked(), Stage::Preparing(_) | Stage::Ready | Stage::Queued)
            });
            let Some(photo) = next else { break };
            if !send_one(flow, photo).await {
                break; // the link stopped working
            }
        }
        flow.sending.set(false);
        if flow
            .photos
            .get_untracked()
            .iter()
            .all(|p| matches!(p.stage.get_untracked(), Stage::Sent | Stage::Rejected(_)))
        {
            flow.step.set(Step::Done);
        }
    });
}

/// Sends one photo, with automatic retries. Returns false if the link died.
async fn send_one(flow: Flow, photo: Photo) -> bool {
    use crate::client::upload::{sleep, Waiting};
    // Wait for the pipeline.
    while matches!(photo.stage.get_untracked(), Stage::Preparing(_)) {
        sleep(150).await;
    }
    if matches!(photo.stage.get_untracked(), Stage::Rejected(_)) {
        return true;
    }
    if photo.outgoing.with_value(Option::is_none) {
        let Some(p) = photo.processed.get_value() else {
            photo
                .stage
                .set(Stage::Failed("This photo could not be prepared. Remove it and add it again.".into()));
            return true;
        };
        let metadata = photo.metadata.get_untracked();
        let metadata = (metadata != ImageMetadata::default()).then_some(metadata);
        photo.outgoing.set_value(Some(Outgoing::new(
            p.blob,
            p.summary.content_type.clone(),
            p.summary.captured.clone(),
            metadata,
        )));
    }
    let Some(mut outgoing) = photo.outgoing.try_update_value(Option::take).flatten() else { return true };
    let stage = photo.stage;
    let result = outgoing
        .send(&move |f| stage.set(Stage::Sending(f)), &move |wait| {
            stage.set(match wait {
                Waiting::Offline => Stage::Offline,
                Waiting::Retry { seconds } => Stage::Retrying(seconds),
            })
        })
        .await;
    // Kept, so a manual Retry reuses the same ticket and image id.
    photo.outgoing.set_value(Some(outgoing));
    match result {
        Ok(_) => {
            photo.stage.set(Stage::Sent);
            flow.sent_total.update(|n| *n += 1);
            true
        }
        Err(f) => match f.token_problem {
            Some(problem) => {
                flow.screen.set(Screen::Invalid(problem));
                false
            }
            None => {
                photo.stage.set(Stage::Failed(f.message));
                true
            }
        },
    }
}

#[component]
fn UploadingScreen(flow: Flow) -> impl IntoView {
    let total = move || flow.usable().len();
    let sent = move || flow.photos.with(|v| v.iter().filter(|p| p.stage.get() == Stage::Sent).count());
    let settled = move || flow.photos.with(|v| v.iter().all(|p| p.stage.with(Stage::settled)));
    view! {
        <section class="m-screen" aria-labelledby="uploading-title">
            <h1 id="uploading-title">{move || format!("Sending {} of {}", sent(), total())}</h1>
            <Show when=move || !flow.online.get()>
                <p class="notice notice--warn" role="status">
                    "You are offline. Sending carries on by itself when the connection is back."
                </p>
            </Show>
            <ul class="m-list">
                <For each=move || flow.photos.get() key=|p| p.id let:photo>
                    <li class="m-list__item">
                        <Thumb flow photo />
                        <div class="m-list__body">
                            <strong>{move || format!("Photo {}", flow.number_of(photo.id))}</strong>
                            {move || {
                                let (fraction, text) = match photo.stage.get() {
                                    Stage::Preparing(f) => (f * 0.3, "Preparing…".to_owned()),
                                    Stage::Ready | Stage::Queued => (0.3, "Waiting…".to_owned()),
                                    Stage::Offline => (0.3, "Paused: offline".to_owned()),
                                    Stage::Sending(f) => (0.3 + 0.7 * f, format!("Sending {:.0}%", f * 100.0)),
                                    Stage::Retrying(s) => (0.3, format!("Connection problem. Trying again in {s} s")),
                                    Stage::Sent => (1.0, "Sent".to_owned()),
                                    Stage::Rejected(m) | Stage::Failed(m) => (0.0, m),
                                };
                                view! {
                                    <progress max="1" value=fraction aria-label="Progress"></progress>
                                    <span class="m-status">{text}</span>
                                }
                            }}
                            <Show when=move || matches!(photo.stage.get(), Stage::Failed(_))>
                                <button
                                    class="button button--secondary"
                                    on:click=move |_| {
                                        photo.stage.set(Stage::Queued);
                                        start_sending(flow);
                                    }
                                >
                                    "Retry"
                                </button>
                            </Show>
                        </div>
                    </li>
                </For>
            </ul>
            <Show when=move || settled() && !flow.sending.get()>
                <button class="button button--block" on:click=move |_| flow.step.set(Step::Done)>
                    "Finish"
                </button>
            </Show>
        </section>
    }
}

#[component]
fn DoneScreen(flow: Flow) -> impl IntoView {
    let sent: Vec<Photo> =
        flow.photos.get_untracked().into_iter().filter(|p| p.stage.get_untracked() == Stage::Sent).collect();
    let count = sent.len();
    let take_more = move |_| {
        for p in flow.photos.get_untracked() {
            if let Some(url) = p.thumb.get_untracked() {
                crate::client::revoke_object_url(&url);
            }
        }
        flow.photos.set(Vec::new());
        flow.step.set(Step::Capture);
    };
    view! {
        <section class="m-screen" aria-labelledby="done-title">
            <h1 id="done-title">
                {match count {
                    1 => "1 photo sent to the desktop".to_owned(),
                    n => format!("{n} photos sent to the desktop"),
                }}
            </h1>
            <ul class="m-grid">
                {sent
                    .into_iter()
                    .map(|photo| view! { <li class="m-grid__item"><Thumb flow photo /></li> })
                    .collect_view()}
            </ul>
            <button class="button button--block" on:click=take_more>"Take more"</button>
            <p class="notice m-privacy">
                "Photos you chose from the gallery are still on this phone. "
                "Delete them from the gallery once the GP has what they need."
            </p>
        </section>
    }
}

#[component]
fn InvalidLink(problem: TokenProblem) -> impl IntoView {
    let next = match problem {
        TokenProblem::Revoked => "Scan the new QR code on the desktop.",
        TokenProblem::Expired => "The desktop session has ended. Open Clinical Images from the patient in Medtech Evolution and scan its QR code.",
        _ => "On the desktop, open Clinical Images for the patient and scan its QR code again.",
    };
    view! {
        <section class="mobile-card" aria-labelledby="invalid-title">
            <h1 id="invalid-title">{problem.message()}</h1>
            <p>{next}</p>
            <p class="muted">"Photos already sent are safe on the desktop."</p>
        </section>
    }
}
