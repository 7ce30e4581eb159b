//! The edge of the JSON API: every `/api/…` request and response passes here.
//!
//! Requests:
//! - a `POST` must be `application/json` (no `text/plain` form posts from
//!   other sites), at most [`BODY_LIMIT`] bytes (413), and well-formed JSON (400);
//! - a cookie-authenticated `POST` must come from this app's origin (or one
//!   `FRAME_ANCESTORS` names): `Origin` and `Sec-Fetch-Site` are checked, so
//!   CSRF never rests on `SameSite=Lax` alone. Bearer requests carry their
//!   credential in a header no other site can set, and are not checked;
//! - any request carrying both a phone's bearer token and a desktop session
//!   (a named session or a session cookie) is refused (400), so neither
//!   credential can act through the other and the origin check is never
//!   skipped for a request that carries a cookie.
//!
//! Responses:
//! - an error already carries its status (set where it is encoded, see
//!   `api_error`). A failure answered by a layer below with a bare status
//!   (a timeout) gets the [`ApiError`] body of that status here, so every
//!   API error reads the same;
//! - a failed request is logged once, here: its path, its status and the
//!   causes its conversions noted (`api_error::note_cause`);
//! - every API response is `Cache-Control: no-store` (patient data);
//! - the API answers JSON only and never redirects: a request's `Accept` is
//!   set to JSON and its `Referer` dropped before a server function sees
//!   them, so the framework's form-post redirect (to the Referer, with the
//!   error in its query) cannot happen: no open redirect, and no cross-site
//!   oracle for "has a session".

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::model::messages::{NOT_UNDERSTOOD, SEND_JSON, TOO_LARGE, TOO_SLOW};
use crate::model::ApiError;
use crate::server::app_state::AppState;
use crate::server::http::api_error::with_causes;
use crate::server::http::limits::timed_out;
use crate::server::services::auth::{self, bearer};

/// Largest JSON body any endpoint takes (metadata with a 500-character
/// description is well under 4 KiB).
pub const BODY_LIMIT: usize = 64 * 1024;

fn refuse(status: StatusCode, err: ApiError) -> Response {
    let mut res = (status, Json(err)).into_response();
    api_headers(&mut res);
    res
}

/// What every API answer carries: `no-store`, and on a 503 (a store down,
/// or the verification queue full) a `Retry-After`, so clients back off.
fn api_headers(res: &mut Response) {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if res.status() == StatusCode::SERVICE_UNAVAILABLE && !res.headers().contains_key(header::RETRY_AFTER) {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
}

fn bad_request(detail: &str) -> ApiError {
    ApiError::BadRequest(detail.to_owned())
}

/// Whether a browser request comes from an origin allowed to use the cookie.
fn same_origin(state: &AppState, headers: &axum::http::HeaderMap) -> bool {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if let Some(origin) = origin {
        return state.allowed_origins.iter().any(|o| o == origin);
    }
    // No Origin: a browser's same-origin request of some kinds, or not a
    // browser at all. Fetch metadata, where sent, still tells.
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        None | Some("same-origin") | Some("none") => true,
        Some(_) => false,
    }
}

/// Middleware for every route; acts on `/api/` only.
pub async fn edge(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let mut req = req;
    req.headers_mut().remove(header::REFERER);
    req.headers_mut().insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    if auth::mixed_credentials(&state, req.headers()) {
        tracing::warn!(path = %req.uri().path(), "request with both a phone token and a desktop session refused");
        return refuse(StatusCode::BAD_REQUEST, auth::mixed());
    }
    let req = if req.method() == Method::POST {
        match checked(&state, req).await {
            Ok(req) => req,
            Err(res) => return res,
        }
    } else {
        req
    };
    let path = req.uri().path().to_owned();
    let (res, causes) = with_causes(next.run(req)).await;
    finish(res, &path, &causes)
}

async fn checked(state: &AppState, req: Request) -> Result<Request, Response> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, bad_request(SEND_JSON)));
    }
    if bearer(req.headers()).is_none() && !same_origin(state, req.headers()) {
        tracing::warn!(path = %req.uri().path(), "cross-site request refused");
        return Err(refuse(StatusCode::FORBIDDEN, ApiError::Forbidden));
    }
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) if timed_out(&e) => return Err(refuse(StatusCode::REQUEST_TIMEOUT, bad_request(TOO_SLOW))),
        Err(_) => return Err(refuse(StatusCode::PAYLOAD_TOO_LARGE, bad_request(TOO_LARGE))),
    };
    if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_err() {
        return Err(refuse(StatusCode::BAD_REQUEST, bad_request(NOT_UNDERSTOOD)));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

fn finish(res: Response, path: &str, causes: &[String]) -> Response {
    let status = res.status();
    if status.is_server_error() {
        tracing::error!(%path, status = status.as_u16(), cause = ?causes, "API request failed");
    } else if !causes.is_empty() {
        tracing::warn!(%path, status = status.as_u16(), cause = ?causes, "API request answered despite a failure");
    }
    let mut res =
        if status.is_client_error() || status.is_server_error() { with_error_body(res) } else { res };
    api_headers(&mut res);
    res
}

/// An error answered with no body (by a layer below: a timeout) gets the
/// body of its status's kind. Bodies are never read: one that has a type
/// is already ours.
fn with_error_body(res: Response) -> Response {
    if res.headers().contains_key(header::CONTENT_TYPE) {
        return res;
    }
    let err = match res.status() {
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => ApiError::Unavailable,
        StatusCode::REQUEST_TIMEOUT => bad_request(TOO_SLOW),
        StatusCode::PAYLOAD_TOO_LARGE => bad_request(TOO_LARGE),
        StatusCode::TOO_MANY_REQUESTS => ApiError::RateLimited,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => ApiError::NotFound,
        s if s.is_client_error() => bad_request(NOT_UNDERSTOOD),
        _ => ApiError::Internal,
    };
    let status = res.status();
    let (parts, _) = res.into_parts();
    let mut out = err.into_response();
    *out.status_mut() = status;
    for (name, value) in parts.headers.iter() {
        out.headers_mut().entry(name).or_insert_with(|| value.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Log {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What `work` logs, one entry per line.
    fn logged(work: impl FnOnce() -> Response) -> (Response, Vec<String>) {
        let log = Log::default();
        let writer = log.clone();
        let subscriber =
            tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
        let res = tracing::subscriber::with_default(subscriber, work);
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        (res, text.lines().map(str::to_owned).collect())
    }

    async fn body(res: Response) -> String {
        String::from_utf8(to_bytes(res.into_body(), 4096).await.unwrap().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_failed_request_is_logged_once_with_its_cause() {
        let causes = vec!["store backend unavailable: connection refused".to_owned()];
        let (res, lines) = logged(|| {
            let _ = ApiError::from(crate::server::stores::StoreError::Unavailable("not in a request".into()));
            finish(ApiError::Unavailable.into_response(), "/api/medtech/session/images", &causes)
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("/api/medtech/session/images") && lines[0].contains("503"), "{lines:?}");
        assert!(lines[0].contains("connection refused"), "{lines:?}");
        assert_eq!(res.headers()[header::RETRY_AFTER], "5");
        assert_eq!(body(res).await, r#"{"kind":"unavailable"}"#);

        let (_, lines) = logged(|| finish(ApiError::NotFound.into_response(), "/api/x", &[]));
        assert!(lines.is_empty(), "a refusal is the caller's business: {lines:?}");
    }

    #[tokio::test]
    async fn an_error_answered_with_a_bare_status_gets_the_body_of_its_kind() {
        let bare = |s: StatusCode| {
            let mut res = Response::new(Body::empty());
            *res.status_mut() = s;
            res
        };
        let (res, _) = logged(|| finish(bare(StatusCode::SERVICE_UNAVAILABLE), "/api/x", &[]));
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        assert!(res.headers().contains_key(header::RETRY_AFTER));
        assert_eq!(body(res).await, r#"{"kind":"unavailable"}"#);
        let (res, _) = logged(|| finish(bare(StatusCode::REQUEST_TIMEOUT), "/api/x", &[]));
        assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
        assert!(body(res).await.contains("did not arrive in time"));
        // A body that is already ours is passed through, never read.
        let (res, _) = logged(|| finish(ApiError::Forbidden.into_response(), "/api/x", &[]));
        assert_eq!(body(res).await, r#"{"kind":"forbidden"}"#);
    }
}
