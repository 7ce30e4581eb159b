//! Uploading (per-photo progress, retries, offline), done, and a dead link.

use leptos::prelude::*;

use super::capture::Thumb;
use super::flow::{forget_batch, start_sending, Flow, Photo, Stage, Step};
use crate::model::TokenProblem;

#[component]
pub(super) fn UploadingScreen(flow: Flow) -> impl IntoView {
    let total = move || flow.usable().len();
    let sent = move || flow.photos.with(|v| v.iter().filter(|p| p.stage.get() == Stage::Sent).count());
    let settled = move || flow.photos.with(|v| v.iter().all(|p| p.stage.with(Stage::settled)));
    // What a screen reader hears: milestones, not every tick of progress.
    let said = Memo::new(move |_| {
        let stages: Vec<Stage> = flow.photos.with(|v| v.iter().map(|p| p.stage.get()).collect());
        sending_news(&stages)
    });
    view! {
        <section class="m-screen" aria-labelledby="uploading-title">
            <h1 id="uploading-title">{move || format!("Sending {} of {}", sent(), total())}</h1>
            <p class="visually-hidden" role="status">{move || said.get()}</p>
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
                                let failed = matches!(photo.stage.get(), Stage::Rejected(_) | Stage::Failed(_));
                                view! {
                                    <progress max="1" value=fraction aria-label="Progress"></progress>
                                    // A failure is an alert: it is said at once.
                                    <span class="m-status" role=failed.then_some("alert")>{text}</span>
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

/// The sending screen's news for a screen reader. It changes only when a
/// photo starts, is sent or fails, or the connection drops or comes back;
/// the countdown of a retry and the percentages are not read.
fn sending_news(stages: &[Stage]) -> String {
    let total = stages.len();
    let sent = stages.iter().filter(|s| **s == Stage::Sent).count();
    let failed = stages.iter().filter(|s| matches!(s, Stage::Rejected(_) | Stage::Failed(_))).count();
    if stages.iter().any(|s| matches!(s, Stage::Retrying(_))) {
        return format!("Connection problem. {sent} of {total} sent; trying again.");
    }
    if stages.contains(&Stage::Offline) {
        return format!("Offline. {sent} of {total} sent; the rest wait for the connection.");
    }
    match (sent + failed == total, failed) {
        (true, 0) => format!("All {total} sent."),
        (true, n) => format!("{sent} of {total} sent; {n} could not be sent."),
        (false, _) => format!("Sending photo {} of {total}.", (sent + failed + 1).min(total)),
    }
}

#[component]
pub(super) fn DoneScreen(flow: Flow) -> impl IntoView {
    let sent: Vec<Photo> =
        flow.photos.get_untracked().into_iter().filter(|p| p.stage.get_untracked() == Stage::Sent).collect();
    let count = sent.len();
    // Sent photos were deleted from the phone as each was registered; any
    // the GP finished without go now too.
    forget_batch(flow);
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
                "Delete them from the gallery once the GP has what they need. "
                "Nothing is kept by this app on the phone."
            </p>
        </section>
    }
}

#[component]
pub(super) fn InvalidLink(problem: TokenProblem) -> impl IntoView {
    let next = match problem {
        TokenProblem::Revoked => "Scan the new QR code on the desktop.",
        TokenProblem::TooManyPhones => "On the desktop, select Regenerate to make a new QR code, then scan it with this phone.",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sending_news_changes_at_milestones_only() {
        let news = |stages: &[Stage]| sending_news(stages);
        assert_eq!(news(&[Stage::Sending(0.1), Stage::Queued]), "Sending photo 1 of 2.");
        // Progress within a photo says nothing new.
        assert_eq!(news(&[Stage::Sending(0.9), Stage::Queued]), news(&[Stage::Sending(0.2), Stage::Queued]));
        assert_eq!(news(&[Stage::Sent, Stage::Sending(0.5)]), "Sending photo 2 of 2.");
        // Nor does the countdown of a retry.
        assert_eq!(news(&[Stage::Sent, Stage::Retrying(4)]), news(&[Stage::Sent, Stage::Retrying(3)]));
        assert_eq!(
            news(&[Stage::Sent, Stage::Retrying(3)]),
            "Connection problem. 1 of 2 sent; trying again."
        );
        assert_eq!(
            news(&[Stage::Offline, Stage::Sent]),
            "Offline. 1 of 2 sent; the rest wait for the connection."
        );
        assert_eq!(news(&[Stage::Sent, Stage::Sent]), "All 2 sent.");
        assert_eq!(news(&[Stage::Sent, Stage::Failed("x".into())]), "1 of 2 sent; 1 could not be sent.");
    }
}
