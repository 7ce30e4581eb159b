//! Where server-side failures become [`ApiError`]s.
//!
//! The cause is logged here, once, with structured fields; the browser gets
//! only the plain-language variant and a fitting HTTP status.

use axum::http::StatusCode;
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

use super::alex::AlexError;
use super::stores::StoreError;
use crate::model::{ApiError, UploadProblem};

/// The HTTP status each error is sent with.
pub fn status_of(err: &ApiError) -> StatusCode {
    match err {
        ApiError::NoSession(_) => StatusCode::UNAUTHORIZED,
        ApiError::Token(_) => StatusCode::UNAUTHORIZED,
        ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
        ApiError::Upload(UploadProblem::TooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
        ApiError::Upload(UploadProblem::UnsupportedType) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ApiError::Upload(UploadProblem::TooManyImages) => StatusCode::CONFLICT,
        ApiError::Upload(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ApiError::Forbidden => StatusCode::FORBIDDEN,
        ApiError::NotFound => StatusCode::NOT_FOUND,
        ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Network | ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Sets the response status for `err` (inside a server function) and returns it.
pub fn reject(err: ApiError) -> ApiError {
    if let Some(options) = use_context::<ResponseOptions>() {
        options.set_status(status_of(&err));
    }
    err
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store operation failed");
        reject(match e {
            StoreError::Unavailable(_) => ApiError::Unavailable,
            StoreError::Corrupt(_) | StoreError::Io(_) => ApiError::Internal,
        })
    }
}

impl From<AlexError> for ApiError {
    fn from(e: AlexError) -> Self {
        tracing::error!(error = %e, "ALEX call failed");
        reject(ApiError::Unavailable)
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
}
