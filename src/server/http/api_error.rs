//! Where server-side failures become [`ApiError`]s, and how one goes out.
//!
//! Services return typed errors and never touch the response. An error's
//! HTTP status comes from its kind ([`ApiError::status`]), set where it is
//! encoded: by `ApiError`'s own encoding for server functions (in `model`),
//! by its [`IntoResponse`] for the routes that are not.
//!
//! A store or ALEX failure is converted without logging: its cause is
//! noted for the request ([`note_cause`]), and the API edge logs it once,
//! with the path and the status, when the answer goes out. The browser gets
//! only the plain-language variant.

use std::cell::RefCell;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::model::ApiError;
use crate::server::alex::AlexError;
use crate::server::stores::StoreError;

/// The HTTP status an error is sent with.
pub fn status_of(err: &ApiError) -> StatusCode {
    StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (status_of(&self), Json(self)).into_response()
    }
}

tokio::task_local! {
    /// The causes of the failures converted while serving this request.
    static CAUSES: RefCell<Vec<String>>;
}

/// Records why a request failed, for the edge to log once. Outside a
/// request (the sweep, the audit CLI) there is no edge, and nothing is
/// recorded: those callers handle the typed error themselves.
pub fn note_cause(cause: std::fmt::Arguments<'_>) {
    let _ = CAUSES.try_with(|c| c.borrow_mut().push(cause.to_string()));
}

/// Runs `work` (a request's handling), answering what it answers and the
/// causes its conversions noted.
pub async fn with_causes<T>(work: impl std::future::Future<Output = T>) -> (T, Vec<String>) {
    CAUSES
        .scope(RefCell::new(Vec::new()), async {
            let out = work.await;
            (out, CAUSES.with(|c| c.take()))
        })
        .await
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        note_cause(format_args!("{e}"));
        match e {
            StoreError::Unavailable(_) => ApiError::Unavailable,
            StoreError::Corrupt(_) | StoreError::Io(_) => ApiError::Internal,
        }
    }
}

impl From<AlexError> for ApiError {
    fn from(e: AlexError) -> Self {
        note_cause(format_args!("ALEX: {e}"));
        ApiError::Unavailable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_failures_hide_their_cause() {
        let err = ApiError::from(StoreError::Unavailable("redis://:pw@10.1.1.1 refused".into()));
        assert_eq!(err, ApiError::Unavailable);
        assert!(!err.to_string().contains("10.1.1.1"));
        assert_eq!(status_of(&err), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn a_conversion_notes_its_cause_for_the_request_it_serves() {
        let (err, causes) = with_causes(async {
            let _ = ApiError::from(StoreError::Io(std::io::Error::other("disk full")));
            ApiError::from(StoreError::Unavailable("connection refused".into()))
        })
        .await;
        assert_eq!(err, ApiError::Unavailable);
        assert_eq!(causes, ["store I/O failed: disk full", "store backend unavailable: connection refused"]);
        // Outside a request nothing is kept (and nothing is logged).
        let (_, none) = with_causes(async {}).await;
        assert!(none.is_empty());
        let _ = ApiError::from(StoreError::Io(std::io::Error::other("not in a request")));
    }

    #[tokio::test]
    async fn each_error_goes_out_with_its_status_and_body() {
        let res = ApiError::Upload(crate::model::UploadProblem::TooManyPending).into_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], br#"{"kind":"upload","detail":"tooManyPending"}"#);
    }
}
