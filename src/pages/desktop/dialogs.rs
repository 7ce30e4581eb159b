//! Modal dialogs: webcam capture, commit, delete confirmation (the shortcut
//! sheet is in `shortcuts`).
//! Each is `role="dialog"` with `aria-modal`, takes focus when it opens, and
//! closes with Escape (see `workspace::on_key`).

use leptos::html;
use leptos::prelude::*;

use super::desk::{Desk, Dialog};
use crate::api::commit_images;
use crate::model::{body_site, site_label, CommitReport, ImageInfo, ImageStatus};

#[component]
pub(super) fn Modal(#[prop(into)] title: String, desk: Desk, children: Children) -> impl IntoView {
    let panel = crate::pages::widgets::modal_focus();
    view! {
        <div class="modal" on:click=move |_| desk.dialog.set(Dialog::None)>
            <div
                class="modal__panel"
                role="dialog"
                aria-modal="true"
                aria-labelledby="modal-title"
                tabindex="-1"
                node_ref=panel
                on:click=|e| e.stop_propagation()
            >
                <h2 id="modal-title">{title}</h2>
                {children()}
            </div>
        </div>
    }
}

#[component]
pub fn ConfirmDelete(desk: Desk, ids: Vec<String>) -> impl IntoView {
    let n = ids.len();
    let title = if n == 1 {
        format!("Delete photo {}?", untrack(|| desk.number_of(&ids[0])))
    } else {
        format!("Delete {n} photos?")
    };
    let ids = StoredValue::new(ids);
    view! {
        <Modal title desk>
            <p>"They are removed from this session and not filed. This cannot be undone."</p>
            <div class="modal__actions">
                <button class="button button--secondary" on:click=move |_| desk.dialog.set(Dialog::None)>"Cancel"</button>
                <button
                    class="button button--danger"
                    on:click=move |_| {
                        desk.delete(ids.get_value());
                        desk.dialog.set(Dialog::None);
                    }
                >
                    "Delete"
                </button>
            </div>
        </Modal>
    }
}

/// The webcam: live preview, device choice, capture and retake.
#[component]
pub fn CameraDialog(desk: Desk) -> impl IntoView {
    let video = NodeRef::<html::Video>::new();
    let stream = StoredValue::new_local(None::<web_sys::MediaStream>);
    let devices = RwSignal::new(Vec::<(String, String)>::new());
    let device = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let shot = StoredValue::new_local(None::<web_sys::File>);
    let shot_url = RwSignal::new(None::<String>);

    let stop = move || {
        if let Some(s) = stream.try_update_value(Option::take).flatten() {
            crate::client::capture::close_camera(&s);
        }
    };
    let start = move |id: Option<String>| {
        stop();
        leptos::task::spawn_local(async move {
            match crate::client::capture::open_camera(id.as_deref(), false).await {
                Ok(s) => {
                    if let Some(v) = video.get_untracked() {
                        v.set_src_object(Some(&s));
                        let _ = v.play();
                    }
                    stream.set_value(Some(s));
                    error.set(None);
                    devices.set(crate::client::capture::cameras().await);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    Effect::new(move |_| {
        if video.get().is_some() {
            start(None);
        }
    });
    on_cleanup(move || {
        stop();
        if let Some(url) = shot_url.get_untracked() {
            crate::client::revoke_object_url(&url);
        }
    });

    let capture = move |_| {
        leptos::task::spawn_local(async move {
            let Some(v) = video.get_untracked() else { return };
            match crate::client::capture::snapshot(&v).await {
                Some(file) => {
                    shot_url.set(crate::client::object_url(&file));
                    shot.set_value(Some(file));
                }
                None => error.set(Some("The camera has no picture yet. Wait a moment and try again.".into())),
            }
        });
    };
    let retake = move |_| {
        if let Some(url) = shot_url.get_untracked() {
            crate::client::revoke_object_url(&url);
        }
        shot_url.set(None);
        shot.set_value(None);
    };
    let use_photo = move |_| {
        if let Some(file) = shot.get_value() {
            desk.add_files(vec![file]);
        }
        desk.dialog.set(Dialog::None);
    };

    view! {
        <Modal title="Webcam" desk>
            {move || error.get().map(|e| view! { <p class="notice notice--error" role="alert">{e}</p> })}
            <Show when=move || { devices.with(Vec::len) > 1 }>
                <label class="panel__field">
                    "Camera"
                    <select on:change=move |e| {
                        let id = event_target_value(&e);
                        device.set(Some(id.clone()));
                        start(Some(id));
                    }>
                        {move || devices.get().into_iter().map(|(id, label)| {
                            let selected = device.get().as_deref() == Some(id.as_str());
                            view! { <option value=id selected=selected>{label}</option> }
                        }).collect_view()}
                    </select>
                </label>
            </Show>
            <div class="camera">
                <video node_ref=video autoplay=true playsinline=true muted=true aria-label="Camera preview"
                    class:camera--hidden=move || shot_url.get().is_some()></video>
                {move || shot_url.get().map(|src| view! { <img src=src alt="Captured photo" /> })}
            </div>
            <div class="modal__actions">
                <button class="button button--secondary" on:click=move |_| desk.dialog.set(Dialog::None)>"Cancel"</button>
                <Show
                    when=move || shot_url.get().is_some()
                    fallback=move || view! { <button class="button" on:click=capture>"Capture"</button> }
                >
                    <button class="button button--secondary" on:click=retake>"Retake"</button>
                    <button class="button" on:click=use_photo>"Use photo"</button>
                </Show>
            </div>
        </Modal>
    }
}

fn describe(info: &ImageInfo) -> String {
    let m = &info.metadata;
    let mut parts = Vec::new();
    if let Some(site) = m.body_site.as_deref().and_then(body_site) {
        parts.push(site_label(&site.term));
    }
    if let Some(l) = m.laterality {
        parts.push(format!("{l:?}"));
    }
    if let Some(d) = &m.description {
        parts.push(format!("“{d}”"));
    }
    if parts.is_empty() {
        "No details".to_owned()
    } else {
        parts.join(" · ")
    }
}

/// Commit: confirm (patient, photos, target), per-image progress, results.
/// The patient shown is read from the server when the dialog opens: the
/// record the commit will go to, as the server knows it now.
#[component]
pub fn CommitDialog(desk: Desk) -> impl IntoView {
    let page_summary = desk.summary.get_value();
    let target_patient =
        crate::pages::widgets::fetched(crate::api::current_session(Some(page_summary.session)));
    let target = desk.settings.with_value(|s| s.commit_target);
    let rule = desk.settings.with_value(|s| s.commit_rule);
    // The photos the GP confirms are fixed when the dialog opens.
    let chosen: Vec<ImageInfo> = untrack(|| desk.uncommitted());
    let ids = StoredValue::new(chosen.iter().map(|i| i.image_id.clone()).collect::<Vec<_>>());
    // What the GP confirms is each photo as shown now: a photo changed
    // after this (in another window, say) is not filed, and they are told.
    let revisions = StoredValue::new(
        chosen
            .iter()
            .map(|i| (i.image_id.clone(), i.revision.clone()))
            .collect::<std::collections::HashMap<_, _>>(),
    );
    let report = RwSignal::new(None::<CommitReport>);
    let running = RwSignal::new(false);
    let close = NodeRef::<html::Button>::new();
    let error = RwSignal::new(None::<String>);
    let missing = chosen.iter().filter(|i| !rule.satisfied(&i.metadata)).count();
    let consent_rule = desk.settings.with_value(|s| s.consent_rule);
    let without_consent: Vec<usize> = chosen
        .iter()
        .filter(|i| !consent_rule.satisfied(&i.metadata))
        .map(|i| desk.number_of(&i.image_id))
        .collect();

    let run = move |only: Vec<String>| {
        running.set(true);
        leptos::task::spawn_local(async move {
            match commit_images(Some(only), Some(revisions.get_value())).await {
                Ok(r) => {
                    report.update(|old| {
                        // A retry replaces only the retried images' results.
                        let merged = match old.take() {
                            Some(mut prev) => {
                                prev.results.retain(|x| !r.results.iter().any(|n| n.image_id == x.image_id));
                                prev.results.extend(r.results.clone());
                                CommitReport {
                                    correlation_id: r.correlation_id.clone(),
                                    results: prev.results,
                                }
                            }
                            None => r,
                        };
                        *old = Some(merged);
                    });
                    error.set(None);
                    // For a screen reader: the outcome in a sentence (each
                    // failure is also an alert beside its photo).
                    report.with_untracked(|r| {
                        if let Some(r) = r {
                            let filed = r
                                .results
                                .iter()
                                .filter(|x| x.status == crate::model::CommitOutcome::Committed)
                                .count();
                            desk.notify(match (filed, r.results.len() - filed) {
                                (n, 0) => format!("Commit finished: {n} filed."),
                                (n, m) => format!("Commit finished: {n} filed, {m} not filed."),
                            });
                        }
                    });
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            running.set(false);
            desk.refresh();
            // The Confirm (or Retry) button that had focus is gone: the
            // GP stays in the dialog, on Close, beside the results.
            crate::pages::widgets::refocus_if_lost(close);
        });
    };

    let title = match chosen.len() {
        1 => "Commit 1 image".to_owned(),
        n => format!("Commit {n} images"),
    };
    view! {
        <Modal title desk>
            {move || match target_patient.get() {
                None => view! { <p class="muted" role="status">"Checking whose record these photos go to…"</p> }.into_any(),
                Some(Ok(crate::model::DesktopSession::Active(summary))) => view! {
                    <p class="muted">"These photos will be filed in the record of:"</p>
                    <section class="banner banner--dialog" role="region" aria-label="Patient the photos are filed for">
                        <Show when=move || summary.dev_launch>
                            <span class="badge badge--dev">"DEV"</span>
                        </Show>
                        <span class="banner__patient">{summary.patient_label.clone()}</span>
                        <span class="banner__facility">"Facility " {summary.facility_id.clone()}</span>
                    </section>
                }.into_any(),
                Some(Ok(crate::model::DesktopSession::Missing { problem })) => view! {
                    <p class="notice notice--error" role="alert">{problem.message()} " Nothing was filed."</p>
                }.into_any(),
                Some(Err(e)) => view! {
                    <p class="notice notice--error" role="alert">
                        "Could not check whose record these photos go to, so nothing can be filed now. " {e.to_string()}
                    </p>
                }.into_any(),
            }}
            <p>"Filed as: " <strong>{target.label()}</strong></p>
            {(!without_consent.is_empty()).then(|| view! {
                <p class="notice notice--warn" data-testid="commit-needs-consent">
                    {format!(
                        "No consent recorded for photo {}: not filed until it is. ",
                        without_consent.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                    )}
                    {crate::model::ConsentRule::HINT}
                </p>
            })}
            {(missing > 0).then(|| view! {
                <p class="notice notice--warn">{format!("{missing} photo(s) are missing details and will not be filed. ")}{rule.hint()}</p>
            })}
            <ul class="commit-list">
                {chosen
                    .iter()
                    .map(|info| {
                        let id = info.image_id.clone();
                        let id2 = id.clone();
                        let id3 = id.clone();
                        let number = untrack(|| desk.number_of(&id));
                        let live_status = move || desk.image(&id).map(|i| i.status);
                        let result = move || report.with(|r| r.as_ref().and_then(|r| r.results.iter().find(|x| x.image_id == id2).cloned()));
                        view! {
                            <li class="commit-list__item">
                                {info.preview_url.clone().map(|src| view! { <img src=src alt=format!("Photo {number}") /> })}
                                <div>
                                    <strong>{format!("Photo {number}")}</strong>
                                    <span class="muted">{describe(info)}</span>
                                    {move || match (result(), live_status()) {
                                        (Some(r), _) if r.status == crate::model::CommitOutcome::Committed => view! {
                                            <span class="tag tag--ok">"Committed " {r.resource_id.unwrap_or_default()}</span>
                                        }.into_any(),
                                        (Some(r), _) => {
                                            let retry_id = id3.clone();
                                            let remove_id = id3.clone();
                                            view! {
                                                <span class="tag tag--error">"Failed"</span>
                                                <span class="commit-list__message" role="alert">{r.message.unwrap_or_default()}</span>
                                                <span class="commit-list__actions">
                                                    <button class="button button--secondary" disabled=move || running.get()
                                                        on:click=move |_| run(vec![retry_id.clone()])>"Retry"</button>
                                                    <button class="button button--link"
                                                        on:click=move |_| desk.dialog.set(Dialog::ConfirmDelete(vec![remove_id.clone()]))>"Remove"</button>
                                                </span>
                                            }.into_any()
                                        }
                                        (None, Some(ImageStatus::Committing)) => view! { <span class="tag tag--busy">"Committing…"</span> }.into_any(),
                                        (None, _) if running.get() => view! { <span class="tag tag--busy">"Waiting…"</span> }.into_any(),
                                        _ => ().into_any(),
                                    }}
                                </div>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            <Show when=move || running.get()>
                <progress aria-label="Committing"></progress>
            </Show>
            {move || error.get().map(|e| view! { <p class="notice notice--error" role="alert">{e}</p> })}
            {move || report.get().map(|r| view! {
                <p class="muted">"Reference for support: " <code>{r.correlation_id}</code></p>
            })}
            <div class="modal__actions">
                <button class="button button--secondary" node_ref=close on:click=move |_| desk.dialog.set(Dialog::None)>
                    {move || if report.with(Option::is_some) { "Close" } else { "Cancel" }}
                </button>
                <Show when=move || report.with(Option::is_none)>
                    <button class="button"
                        disabled=move || running.get() || !matches!(target_patient.get(), Some(Ok(crate::model::DesktopSession::Active(_))))
                        on:click=move |_| run(ids.get_value())>
                        "Confirm and commit"
                    </button>
                </Show>
            </div>
        </Modal>
    }
}
