//! Clinical Images: clinical photo capture for New Zealand GPs, filed into
//! Medtech Evolution through the ALEX FHIR API.
//!
//! One crate, two builds:
//! - `ssr` (the server binary): [`server`] plus everything shared;
//! - `hydrate` (the WASM bundle): the shared UI plus [`client`] glue.
//!
//! See `ARCHITECTURE.md` for the map of modules to responsibilities.

// Leptos view types nest deeply; the desktop workspace needs more than the default.
#![recursion_limit = "256"]

pub mod api;
// The UI is in the server and page builds, not in the pipeline worker's module.
#[cfg(any(feature = "ssr", feature = "hydrate"))]
pub mod app;
pub mod client;
pub mod model;
#[cfg(any(feature = "ssr", feature = "hydrate"))]
pub mod pages;
pub mod pipeline;
#[cfg(feature = "ssr")]
pub mod server;

/// Entry point of the WASM bundle: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // The desktop and phone routes are lazily loaded WASM chunks (`--split`).
    leptos::mount::hydrate_lazy(app::App);
}
