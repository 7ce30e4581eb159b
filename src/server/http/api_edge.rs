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
//! - the HTTP status is set here, once, from the error's kind
//!   ([`status_of`]): services return typed errors and never touch the
//!   response. A body that is not an [`ApiError`] (a framework's own text)
//!   is replaced by the plain "internal" error, its text only logged;
//! - every API response is `Cache-Control: no-store` (patient data);
//! - the API answers JSON only and never redirects: a request's `Accept` is
//!   set to JSON and its `Referer` dropped before a server function sees
//!   them, so the framework's form-post redirect (to the Referer, with the
//!   error in its query) cannot happen: no open redirect, and no cross-site
//!   oracle for "has a session".

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::model::ApiError;
use crate::server::app_state::AppState;
use crate::server::http::api_error::status_of;
use crate::server::services::auth::{self, bearer};

/// Largest JSON body any endpoint takes (metadata with a 500-character
/// description is well under 4 KiB).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Largest error body read back when setting its status.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

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
    let res = next.run(req).await;
    finish(res).await
}

async fn checked(state: &AppState, req: Request) -> Result<Request, Response> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            bad_request("Requests must be sent as JSON (Content-Type: application/json)."),
        ));
    }
    if bearer(req.headers()).is_none() && !same_origin(state, req.headers()) {
        tracing::warn!(path = %req.uri().path(), "cross-site request refused");
        return Err(refuse(StatusCode::FORBIDDEN, ApiError::Forbidden));
    }
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return Err(refuse(StatusCode::PAYLOAD_TOO_LARGE, bad_request("The request is too large.")))
        }
    };
    if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_err() {
        return Err(refuse(StatusCode::BAD_REQUEST, bad_request("The request was not understood.")));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

async fn finish(res: Response) -> Response {
    let mut res = if res.status() == StatusCode::INTERNAL_SERVER_ERROR {
        with_status_of_its_error(res).await
    } else {
        res
    };
    api_headers(&mut res);
    res
}

/// A server function's error goes out as 500 unless told otherwise: give it
/// the status its kind means. Anything that is not our error is replaced.
async fn with_status_of_its_error(res: Response) -> Response {
    let (mut parts, body) = res.into_parts();
    let bytes = to_bytes(body, ERROR_BODY_LIMIT).await.unwrap_or_else(|_| Bytes::new());
    match serde_json::from_slice::<ApiError>(&bytes) {
        Ok(err) => {
            parts.status = status_of(&err);
            Response::from_parts(parts, Body::from(bytes))
        }
        Err(_) => {
            tracing::error!(body_bytes = bytes.len(), "API answered 500 with a body that is not an ApiError");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, ApiError::Internal)
        }
    }
}
