//! `/`: what the product is, and a live status check.

use leptos::prelude::*;
use leptos_meta::Title;

use super::widgets::{ErrorNotice, Spinner};
use crate::api::{app_info, service_status};
use crate::model::{DependencyReport, HealthReport};

/// The landing page.
#[component]
pub fn LandingPage() -> impl IntoView {
    let info = Resource::new(|| (), |_| app_info());

    view! {
        <Title text="Clinical Images · clinical photos into Medtech Evolution" />
        <main class="page">
            <header class="hero">
                <p class="hero__eyebrow">"For New Zealand general practice"</p>
                <h1>"Clinical Images"</h1>
                <p class="hero__lead">
                    "Photograph a rash, lesion or wound during the consultation and file it in the "
                    "patient's record in Medtech Evolution, with body site, laterality and a description."
                </p>
            </header>

            <section class="steps" aria-labelledby="how">
                <h2 id="how">"How it works"</h2>
                <ol>
                    <li>
                        <strong>"Launch from Evolution."</strong>
                        " Open Clinical Images from the toolbar with the patient open. It knows who the photos are for."
                    </li>
                    <li>
                        <strong>"Capture."</strong>
                        " Add photos from files, drag and drop, paste or the webcam, or scan the QR code with your "
                        "phone: its photos appear on the desktop within a second. No app, no login on the phone."
                    </li>
                    <li>
                        <strong>"Describe and file."</strong>
                        " Rotate, crop and annotate, record site and laterality, then commit. Each photo is filed "
                        "once, through Medtech's ALEX API."
                    </li>
                </ol>
            </section>

            <Transition fallback=|| view! { <Spinner label="Loading…" /> }>
                {move || {
                    info.get()
                        .map(|res| match res {
                            Ok(info) if info.sandbox => {
                                view! {
                                    <SandboxLauncher patients=info.test_patients />
                                    <StatusPanel />
                                }
                                    .into_any()
                            }
                            Ok(_) => ().into_any(),
                            Err(e) => view! { <ErrorNotice error=e /> }.into_any(),
                        })
                }}
            </Transition>
        </main>
    }
}

/// "Open in Evolution" for a test patient, through the sandbox and the real
/// launch path (a plain form: it works before hydration too).
#[component]
fn SandboxLauncher(patients: Vec<(String, String)>) -> impl IntoView {
    view! {
        <section class="callout" aria-labelledby="try">
            <h2 id="try">"Try it without Evolution"</h2>
            <p>
                "This server runs in embedded mode with an ALEX sandbox. Pick a test patient and open "
                "Clinical Images as Medtech Evolution would."
            </p>
            <form class="launcher" method="post" action="/sandbox/alex/launch">
                <label>
                    "Test patient "
                    <select name="patientId">
                        {patients
                            .into_iter()
                            .map(|(id, label)| view! { <option value=id>{label}</option> })
                            .collect_view()}
                    </select>
                </label>
                <input type="hidden" name="facilityId" value="F2N060-E" />
                <input type="hidden" name="providerId" value="sandbox-gp" />
                <button class="button" type="submit">"Open in Evolution"</button>
            </form>
            <p class="muted">
                <a href="/sandbox/alex" rel="external">"Open the sandbox launcher"</a>
                " · "
                <a href="/sandbox/alex/inbox" rel="external">"Inbox: what has been filed"</a>
            </p>
        </section>
    }
}

/// A button that asks the server for its health. It works only once the page
/// has hydrated: that makes it the page's proof of hydration.
#[component]
fn StatusPanel() -> impl IntoView {
    let check = Action::new(|_: &()| service_status());
    let pending = check.pending();

    view! {
        <section class="status" aria-labelledby="status-title">
            <h2 id="status-title">"Service status"</h2>
            <button class="button" on:click=move |_| { check.dispatch(()); } disabled=pending>
                {move || if pending.get() { "Checking…" } else { "Check service status" }}
            </button>
            {move || {
                check.value().get().map(|res| match res {
                    Ok(report) => view! { <StatusReport report /> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e /> }.into_any(),
                })
            }}
        </section>
    }
}

#[component]
fn StatusReport(report: HealthReport) -> impl IntoView {
    let row = |name: &'static str, dep: DependencyReport| {
        let class = if dep.ok { "dep dep--ok" } else { "dep dep--down" };
        view! {
            <li class=class>
                <span class="dep__name">{name}</span>
                <span class="dep__backend">{dep.backend}</span>
                <span class="dep__state">{dep.detail}</span>
            </li>
        }
    };
    let mode = format!("{:?}", report.mode).to_lowercase();
    view! {
        <div class="status__report" role="status" aria-label="Service status report">
            <p>
                "Overall: " <strong>{report.status.clone()}</strong> " · mode " <strong>{mode}</strong>
                " · version " {report.version.clone()}
            </p>
            <ul class="deps">
                {row("Session store", report.session_store)}
                {row("Image store", report.blob_store)}
                {row("ALEX", report.alex)}
            </ul>
        </div>
    }
}
