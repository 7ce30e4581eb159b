//! Security headers on every response.
//!
//! The CSP allows `'wasm-unsafe-eval'` (needed to instantiate the WASM
//! bundle) but never `'unsafe-eval'`. `frame-ancestors` is configurable so
//! a practice can embed the widget in Evolution's browser pane.

use axum::http::{header, HeaderName, HeaderValue};
use tower_http::set_header::SetResponseHeaderLayer;

/// Builds the layers that set the headers. `blob_origin` is the S3 endpoint's
/// origin when it is not HTTPS (a local S3-compatible server): the browser
/// uploads to it and shows previews from it.
pub fn header_layers(
    frame_ancestors: &str,
    blob_origin: Option<&str>,
) -> Vec<SetResponseHeaderLayer<HeaderValue>> {
    // Leptos' hydration bootstrap is an inline module script, hence 'unsafe-inline'
    // for scripts; no third-party origin is allowed anywhere. The image
    // pipeline's worker is a same-origin module script ('self').
    let blob = blob_origin.map(|o| format!(" {o}")).unwrap_or_default();
    let csp = format!(
        "default-src 'self'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; worker-src 'self'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:{blob}; \
         connect-src 'self' ws: wss: https:{blob}; media-src 'self' blob:; object-src 'none'; \
         base-uri 'self'; form-action 'self'; frame-ancestors {frame_ancestors}"
    );
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, csp),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        (header::REFERRER_POLICY, "no-referrer".to_owned()),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(self), microphone=(), geolocation=(), payment=()".to_owned(),
        ),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin".to_owned()),
    ];
    fixed
        .into_iter()
        .filter_map(|(name, value)| {
            // Config refuses a FRAME_ANCESTORS that is not a valid header
            // value, so nothing is dropped here in practice.
            HeaderValue::from_str(&value).ok().map(|v| SetResponseHeaderLayer::if_not_present(name, v))
        })
        .collect()
}
