//! The root component, the HTML shell and the routes.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{lazy_route, path, Lazy, LazyRoute, SsrMode};

use crate::pages::{DesktopPage, LandingPage, MobilePage, NotFound};

/// The landing page's route, its own chunk too, so the phone does not load it.
struct LandingRoute;

#[lazy_route]
impl LazyRoute for LandingRoute {
    fn data() -> Self {
        LandingRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <LandingPage /> }.into_any()
    }
}

/// The desktop widget's route. Its code is a separate WASM chunk (built with
/// `cargo leptos --split`), so the phone never downloads it.
struct DesktopRoute;

#[lazy_route]
impl LazyRoute for DesktopRoute {
    fn data() -> Self {
        DesktopRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <DesktopPage /> }.into_any()
    }
}

/// The phone's route, likewise its own chunk.
struct MobileRoute;

#[lazy_route]
impl LazyRoute for MobileRoute {
    fn data() -> Self {
        MobileRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <MobilePage /> }.into_any()
    }
}

/// The document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en-NZ">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover" />
                <meta name="referrer" content="no-referrer" />
                <AutoReload options=options.clone() />
                // The bundle's CSS under its content-hashed name when the
                // build hashes (Cargo.toml `hash-files`).
                <HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: the same tree renders on the server and hydrates in the browser.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Runs only in the browser, after hydration: lets tests (and people
    // debugging) tell a live page from server-rendered HTML.
    Effect::new(move |_| crate::client::mark_hydrated());
    // A phone link's token belongs to the phone's page alone: any other
    // page removes it from the tab, so it is never sent for a desktop.
    Effect::new(move |_| crate::api::forget_mobile_token());

    view! {
        <Title text="Clinical Images" />
        <Router>
            <Routes fallback=NotFound>
                // Async: the server waits for each page's data and sends whole
                // HTML, so the first screen never depends on JavaScript.
                <Route path=path!("/") view={Lazy::<LandingRoute>::new()} ssr=SsrMode::Async />
                <Route path=path!("/medtech-images") view={Lazy::<DesktopRoute>::new()} ssr=SsrMode::Async />
                <Route path=path!("/medtech-images/mobile") view={Lazy::<MobileRoute>::new()} ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}
