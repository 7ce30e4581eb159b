//! The local-disk blob endpoints of embedded mode: `PUT` and `GET`
//! `/api/medtech/blobs/{key}` on URLs the app signed (see `signed_url`).
//! S3 deployments never route blobs through the app.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::server::app_state::AppState;
use crate::server::stores::blob::signed_url::Signed;
use crate::server::support::clock::unix_now;

#[derive(Deserialize)]
pub struct SignedQuery {
    exp: u64,
    sig: String,
    ct: Option<String>,
    len: Option<u64>,
}

fn refused() -> Response {
    (StatusCode::FORBIDDEN, "signature invalid or expired").into_response()
}

/// `PUT`: stores the body if it matches the signed type and exact length.
pub async fn put(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(q): Query<SignedQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (Some(signer), Some(ct), Some(len)) = (state.url_signer.as_ref(), q.ct.as_deref(), q.len) else {
        return refused();
    };
    let signed = Signed { method: "PUT", key: &key, upload: Some((ct, len)), expires: q.exp };
    if !signer.verify(&signed, &q.sig) {
        return refused();
    }
    // A slot registered, refused or removed takes nothing more, though its
    // URL has not expired.
    let left = std::time::Duration::from_secs(q.exp.saturating_sub(unix_now()).max(1));
    match crate::server::services::upload_slots::slot_open(&state, &key, left).await {
        Ok(true) => {}
        Ok(false) => return (StatusCode::GONE, "this upload is closed").into_response(),
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
    let sent_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let sent_len = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if sent_type != Some(ct) || sent_len != Some(len) {
        return refused();
    }
    let limit = usize::try_from(len).unwrap_or(usize::MAX).saturating_add(1);
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) if b.len() as u64 == len => b,
        Err(e) if crate::server::http::limits::timed_out(&e) => {
            return (StatusCode::REQUEST_TIMEOUT, "the upload stopped arriving").into_response()
        }
        _ => {
            return (StatusCode::BAD_REQUEST, "body length does not match the signed length").into_response()
        }
    };
    match state.blobs.put(&key, ct, bytes.to_vec()).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "local blob upload failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// `GET`: serves a blob for previews.
pub async fn get(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(q): Query<SignedQuery>,
) -> Response {
    let Some(signer) = state.url_signer.as_ref() else { return refused() };
    if !signer.verify(&Signed { method: "GET", key: &key, upload: None, expires: q.exp }, &q.sig) {
        return refused();
    }
    match state.blobs.get(&key).await {
        Ok(Some((meta, bytes))) => (
            [(header::CONTENT_TYPE, meta.content_type), (header::CACHE_CONTROL, "private, no-store".into())],
            bytes,
        )
            .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "local blob read failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
