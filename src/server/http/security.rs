//! Security headers on every response.
//!
//! - `Content-Security-Policy`: scripts only from this origin, plus inline
//!   scripts that carry this response's nonce (Leptos' hydration bootstrap;
//!   pages get a per-response policy in [`page_headers`]); `'wasm-unsafe-eval'`
//!   to instantiate the WASM bundle, never `'unsafe-eval'`. `connect-src`
//!   and `img-src` name only this origin and the blob store's.
//!   `frame-ancestors` is configurable so a practice can embed the widget in
//!   Evolution's browser pane.
//! - `Strict-Transport-Security` when the public origin is HTTPS.

use axum::http::{header, HeaderName, HeaderValue};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::server::config::{BlobBackend, Config};

/// The origin(s) browsers upload to and show previews from, besides this one.
pub fn blob_origins(config: &Config) -> Vec<String> {
    match &config.blobs {
        BlobBackend::LocalDisk { .. } => vec![],
        BlobBackend::S3(s3) => match &s3.endpoint {
            Some(endpoint) => vec![endpoint.origin().ascii_serialization()],
            // AWS itself: virtual-hosted and path-style addresses.
            None => vec![
                format!("https://{}.s3.{}.amazonaws.com", s3.bucket, s3.region),
                format!("https://s3.{}.amazonaws.com", s3.region),
            ],
        },
    }
}

/// The policy, with `script_extra` added to `script-src` (a nonce source, or nothing).
fn csp(config: &Config, script_extra: &str) -> String {
    let blobs: String = blob_origins(config).iter().map(|o| format!(" {o}")).collect();
    // cargo-leptos' live reload (development only) talks over a websocket.
    let dev_socket = if config.is_embedded() { " ws://127.0.0.1:* ws://localhost:*" } else { "" };
    format!(
        "default-src 'self'; script-src 'self'{script_extra} 'wasm-unsafe-eval'; worker-src 'self'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:{blobs}; \
         connect-src 'self'{blobs}{dev_socket}; media-src 'self' blob:; object-src 'none'; \
         base-uri 'self'; form-action 'self'; frame-ancestors {}",
        config.frame_ancestors
    )
}

/// The policy for a rendered page whose inline scripts carry `nonce`.
fn page_csp(config: &Config, nonce: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&csp(config, &format!(" 'nonce-{nonce}'"))).ok()
}

/// The nonce a page was rendered with, passed from the render back out to
/// [`page_headers`] in the request's extensions (Leptos clones them into
/// its context, and this shares one slot across the clones).
#[derive(Clone, Default)]
struct PageNonce(std::sync::Arc<std::sync::OnceLock<String>>);

/// Leptos' additional context, run in every render (and server function)
/// it handles: records the render's nonce (its inline hydration scripts
/// carry it) for [`page_headers`]. Leptos' own response options are not
/// used for the headers: under load a page now and then went out without
/// the headers put there.
pub fn record_page_nonce() {
    use leptos::prelude::use_context;
    let Some(nonce) = leptos::nonce::use_nonce() else { return };
    if let Some(slot) = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<PageNonce>().cloned())
    {
        // A second nonce (there is none) is ignored.
        let _ = slot.0.set(nonce.to_string());
    }
}

/// Middleware: a response rendered as a page gets the policy that allows its
/// nonce, and `no-store` (pages show patient details). Everything else is
/// left to [`header_layers`].
pub async fn page_headers(
    axum::extract::State(state): axum::extract::State<crate::server::app_state::AppState>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let slot = PageNonce::default();
    req.extensions_mut().insert(slot.clone());
    let mut res = next.run(req).await;
    if let Some(csp) = slot.0.get().and_then(|nonce| page_csp(&state.config, nonce)) {
        let headers = res.headers_mut();
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// Builds the layers that set the headers (each only if the handler has not).
pub fn header_layers(config: &Config) -> Vec<SetResponseHeaderLayer<HeaderValue>> {
    let mut fixed = vec![
        (header::CONTENT_SECURITY_POLICY, csp(config, "")),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        (header::REFERRER_POLICY, "no-referrer".to_owned()),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(self), microphone=(), geolocation=(), payment=()".to_owned(),
        ),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin".to_owned()),
    ];
    if config.https() {
        fixed.push((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000".to_owned()));
    }
    fixed
        .into_iter()
        .filter_map(|(name, value)| {
            // Config refuses a FRAME_ANCESTORS that is not a valid header
            // value, so nothing is dropped here in practice.
            HeaderValue::from_str(&value).ok().map(|v| SetResponseHeaderLayer::if_not_present(name, v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        let map: std::collections::HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup("127.0.0.1:3000".parse().unwrap(), move |k| map.get(k).cloned()).unwrap()
    }

    #[test]
    fn the_policy_allows_no_inline_script_and_no_foreign_origin() {
        let c = config(&[
            ("PUBLIC_BASE_URL", "https://images.example.nz"),
            ("REDIS_URL", "redis://r:6379"),
            ("ALEX_SANDBOX", "true"),
            ("S3_BUCKET", "imgs"),
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "b"),
        ]);
        let policy = csp(&c, "");
        let script_src = policy.split(';').find(|d| d.trim().starts_with("script-src")).unwrap();
        assert!(!script_src.contains("unsafe-inline"), "{policy}");
        let bare = |scheme: &str| policy.split([' ', ';']).any(|t| t == scheme);
        assert!(!bare("https:") && !bare("ws:") && !bare("wss:"), "no whole-scheme sources: {policy}");
        assert!(
            policy.contains("connect-src 'self' https://imgs.s3.ap-southeast-2.amazonaws.com"),
            "{policy}"
        );
        let page = page_csp(&c, "abc123").unwrap();
        assert!(page.to_str().unwrap().contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval'"));
    }
}
