//! `/medtech-images/mobile?t=…`: the phone's page after scanning the QR code.
//!
//! Screen 1 (connecting) and screen 7 (expired or invalid link) live here
//! now; the capture screens build on them with the mobile-flow issue. The
//! server renders "Connecting"; once hydrated, the page moves the token out
//! of the URL into sessionStorage and validates it with a bearer header.

use leptos::prelude::*;
use leptos_meta::Title;

use super::widgets::{ErrorNotice, Spinner};
use crate::api::validate_mobile_token;
use crate::model::{ApiError, MobileLink, TokenProblem};

#[derive(Clone)]
enum Screen {
    Connecting,
    Ready(MobileLink),
    Invalid(TokenProblem),
    Failed(ApiError),
}

/// The mobile page.
#[component]
pub fn MobilePage() -> impl IntoView {
    let screen = RwSignal::new(Screen::Connecting);

    Effect::new(move |_| {
        if crate::client::adopt_mobile_token().is_none() {
            screen.set(Screen::Invalid(TokenProblem::Missing));
            return;
        }
        leptos::task::spawn_local(async move {
            screen.set(match validate_mobile_token().await {
                Ok(link) => Screen::Ready(link),
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
                Screen::Ready(link) => view! { <Connected link /> }.into_any(),
                Screen::Invalid(problem) => view! { <InvalidLink problem /> }.into_any(),
                Screen::Failed(error) => {
                    view! {
                        <section class="mobile-card">
                            <h1>"Could not connect"</h1>
                            <ErrorNotice error />
                            <button class="button button--block" on:click=move |_| reload()>"Try again"</button>
                        </section>
                    }
                        .into_any()
                }
            }}
        </main>
    }
}

fn reload() {
    crate::client::reload();
}

#[component]
fn Connected(link: MobileLink) -> impl IntoView {
    view! {
        <section class="mobile-card" aria-labelledby="connected-title">
            <p class="banner banner--mobile">"Photos for " {link.patient_banner.clone()}</p>
            <h1 id="connected-title">"Connected"</h1>
            <p>"Photos you take here go straight to the desktop."</p>
        </section>
    }
}

#[component]
fn InvalidLink(problem: TokenProblem) -> impl IntoView {
    let next = match problem {
        TokenProblem::Revoked => "Scan the new QR code on the desktop.",
        _ => "On the desktop, open Clinical Images for the patient and scan its QR code again.",
    };
    view! {
        <section class="mobile-card" aria-labelledby="invalid-title">
            <h1 id="invalid-title">{problem.message()}</h1>
            <p>{next}</p>
            <p class="muted">"No photos were sent from this page."</p>
        </section>
    }
}
