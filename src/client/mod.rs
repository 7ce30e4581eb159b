//! Browser-only glue: small wrappers over web-sys.
//!
//! This module compiles in both builds (web-sys builds natively), but its
//! functions are called only from effects and event handlers, which never run
//! during server rendering. Each degrades to a no-op if there is no `window`.

pub mod canvas;
pub mod capture;
pub mod events;
#[cfg(feature = "heif")]
pub mod heif_module;
pub mod pipeline;
#[cfg(any(feature = "ssr", feature = "hydrate"))]
pub mod queue;
pub mod upload;
#[cfg(feature = "worker")]
pub mod worker;

use crate::api::{stored_mobile_token, MOBILE_TOKEN_STORAGE_KEY};

fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

/// Marks `<html data-hydrated="true">` once the WASM has taken over the page.
pub fn mark_hydrated() {
    if let Some(el) = window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
        let _ = el.set_attribute("data-hydrated", "true");
    }
}

/// Reloads the page.
pub fn reload() {
    if let Some(w) = window() {
        let _ = w.location().reload();
    }
}

fn session_storage() -> Option<web_sys::Storage> {
    window().and_then(|w| w.session_storage().ok().flatten())
}

/// Moves a `?t=` token out of the address bar into sessionStorage (so it is
/// in neither history nor a Referer) and returns the token now in force.
pub fn adopt_mobile_token() -> Option<String> {
    let w = window()?;
    let href = w.location().href().ok()?;
    let url = web_sys::Url::new(&href).ok()?;
    let params = url.search_params();
    if let Some(token) = params.get("t").filter(|t| !t.is_empty()) {
        if let Some(storage) = session_storage() {
            let _ = storage.set_item(MOBILE_TOKEN_STORAGE_KEY, &token);
        }
        params.delete("t");
        let search = String::from(params.to_string());
        let clean = if search.is_empty() { url.pathname() } else { format!("{}?{search}", url.pathname()) };
        if let Ok(history) = w.history() {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&clean));
        }
    }
    stored_mobile_token()
}

const PHONE_ID_KEY: &str = "clinical-images.phone-id";

/// The id the server issued this tab when it opened the link (kept in
/// sessionStorage), sent back on a reload so the desktop counts the phone
/// once. Not a credential: the server only recognises ids it issued.
pub fn phone_id() -> Option<String> {
    session_storage()?.get_item(PHONE_ID_KEY).ok().flatten().filter(|id| !id.is_empty())
}

/// Keeps the id the server issued this tab.
pub fn remember_phone_id(id: &str) {
    if let Some(storage) = session_storage() {
        let _ = storage.set_item(PHONE_ID_KEY, id);
    }
}

/// `words` random 32-bit words as hex: an id for this device's own use, not
/// a secret.
pub fn random_hex(words: usize) -> String {
    (0..words).map(|_| format!("{:08x}", (js_sys::Math::random() * f64::from(u32::MAX)) as u32)).collect()
}

/// A `blob:` URL showing `blob` (revoke it with [`revoke_object_url`]).
pub fn object_url(blob: &web_sys::Blob) -> Option<String> {
    web_sys::Url::create_object_url_with_blob(blob).ok()
}

pub fn revoke_object_url(url: &str) {
    let _ = web_sys::Url::revoke_object_url(url);
}

/// The files chosen in a file input's `change` event; clears the input so
/// the same file can be chosen again.
pub fn chosen_files(event: &web_sys::Event) -> Vec<web_sys::File> {
    use wasm_bindgen::JsCast;
    let Some(input) = event.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else {
        return Vec::new();
    };
    let files = input
        .files()
        .map(|list| (0..list.length()).filter_map(|i| list.get(i)).collect())
        .unwrap_or_default();
    input.set_value("");
    files
}

/// Now as a pick time (Unix ms on this device's clock), strictly later than
/// any earlier one this browser handed out, even within one millisecond or
/// if the clock stepped back: the session lists a device's photos in this
/// order ([`crate::model::UploadRequest::picked_at`]).
pub fn pick_time() -> u64 {
    const KEY: &str = "clinical-images.last-pick";
    thread_local!(static LAST: std::cell::Cell<u64> = const { std::cell::Cell::new(0) });
    // localStorage carries it across reloads; without it (refused), this page's.
    let storage = window().and_then(|w| w.local_storage().ok().flatten());
    let stored = storage
        .as_ref()
        .and_then(|s| s.get_item(KEY).ok().flatten())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let last = LAST.get().max(stored);
    let at = (js_sys::Date::now() as u64).max(last + 1);
    LAST.set(at);
    if let Some(s) = storage {
        let _ = s.set_item(KEY, &at.to_string());
    }
    at
}
