//! `/medtech-images`: the GP's desktop widget.
//!
//! Without a session it explains how to launch properly, and offers no
//! capture or commit. With one, it shows the patient banner the GP checks
//! before filing anything, and the workspace: capture (picker, drag-and-drop
//! of files and folders, paste, webcam, phone), the strip, a zoomable
//! preview, details, and commit.

mod desk;
mod dialogs;
mod earlier;
mod editor;
mod editor_steps;
mod nudge;
mod panels;
mod preview;
mod shortcuts;
mod strip;
mod workspace;

use workspace::Workspace;

use leptos::prelude::*;
use leptos_meta::Title;

use super::widgets::{ErrorNotice, Spinner};
use crate::api::{app_info, current_session};
use crate::model::{DesktopSession, LaunchProblem, SessionSummary};

/// The desktop page. It works for the one session it was opened for
/// (`?session=…`, where every launch lands), names it in every call, and
/// never follows another launch: each window keeps its own patient.
#[component]
pub fn DesktopPage() -> impl IntoView {
    let name = leptos_router::hooks::use_query_map()
        .with_untracked(|q| q.get(crate::model::SESSION_QUERY))
        .filter(|n| !n.is_empty());
    #[cfg(feature = "hydrate")]
    if let Some(name) = &name {
        crate::api::bind_desktop_session(name);
    }
    let session = Resource::new(|| (), move |_| current_session(name.clone()));

    view! {
        <Title text="Clinical Images" />
        <main class="page page--app">
            <Suspense fallback=|| view! { <Spinner label="Opening your capture session…" /> }>
                {move || {
                    session.get().map(|res| match res {
                        Ok(DesktopSession::Active(summary)) => {
                            view! {
                                <PatientBanner summary=summary.clone() />
                                <Workspace summary />
                            }
                                .into_any()
                        }
                        Ok(DesktopSession::Missing { problem }) => view! { <LaunchScreen problem /> }.into_any(),
                        Err(e) => view! { <ErrorNotice error=e /> }.into_any(),
                    })
                }}
            </Suspense>
        </main>
    }
}

/// The banner a GP checks before filing: patient, facility, and DEV for development launches.
#[component]
fn PatientBanner(summary: SessionSummary) -> impl IntoView {
    let dev = summary.dev_launch;
    view! {
        <section class="banner" role="region" aria-label="Patient">
            <Show when=move || dev>
                <span class="badge badge--dev" title="Development launch: not from Medtech Evolution">
                    "DEV"
                </span>
            </Show>
            <span class="banner__patient">{summary.patient_label.clone()}</span>
            <span class="banner__facility">"Facility " {summary.facility_id.clone()}</span>
        </section>
    }
}

#[component]
fn LaunchScreen(problem: LaunchProblem) -> impl IntoView {
    let info = Resource::new(|| (), |_| app_info());
    view! {
        <section class="launch" aria-labelledby="launch-title">
            <h1 id="launch-title">"Launch Clinical Images from the patient in Medtech Evolution"</h1>
            <p class="notice notice--warn" role="alert">{problem.message()}</p>
            <ol>
                <li>"Open the patient in Medtech Evolution."</li>
                <li>"Choose Clinical Images from the ALEX Apps toolbar."</li>
                <li>"This page opens with the patient's name at the top. Check it before adding photos."</li>
            </ol>
            <Transition fallback=|| ()>
                {move || {
                    info.get()
                        .and_then(Result::ok)
                        .filter(|i| i.sandbox)
                        .map(|_| {
                            view! {
                                <p>
                                    "No Evolution here? This server has an ALEX sandbox: "
                                    <a href="/sandbox/alex" rel="external">"open the sandbox launcher"</a> "."
                                </p>
                            }
                        })
                }}
            </Transition>
        </section>
    }
}
