//! Where server-side failures become [`ApiError`]s, and which HTTP status
//! each kind goes out with.
//!
//! Services return typed errors and never touch the response: the API edge
//! (`api_edge`) sets the status from the error's kind, once. A store or
//! ALEX failure's cause is logged here, where it is mapped, with structured
//! fields; the browser gets only the plain-language variant.

use axum::http::StatusCode;

use crate::model::{ApiError, TokenProblem, UploadProblem};
use crate::server::alex::AlexError;
use crate::server::stores::StoreError;

/// The HTTP status each error is sent with.
pub fn status_of(err: &ApiError) -> StatusCode {
    match err {
        ApiError::NoSession(_) => StatusCode::UNAUTHORIZED,
        ApiError::Token(TokenProblem::TooManyPhones) => StatusCode::FORBIDDEN,
        ApiError::Token(_) => StatusCode::UNAUTHORIZED,
        ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
        ApiError::Upload(UploadProblem::TooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
        ApiError::Upload(UploadProblem::UnsupportedType) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ApiError::Upload(UploadProblem::TooManyImages) => StatusCode::CONFLICT,
        ApiError::Upload(UploadProblem::TooManyPending) => StatusCode::TOO_MANY_REQUESTS,
        ApiError::Upload(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ApiError::Forbidden => StatusCode::FORBIDDEN,
        ApiError::NotFound => StatusCode::NOT_FOUND,
        ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        // `Network` is the browser's own verdict on a call that failed in
        // transit; the server never sends it, so it maps like `Internal`.
        ApiError::Network | ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store operation failed");
        match e {
            StoreError::Unavailable(_) => ApiError::Unavailable,
            StoreError::Corrupt(_) | StoreError::Io(_) => ApiError::Internal,
        }
    }
}

impl From<AlexError> for ApiError {
    fn from(e: AlexError) -> Self {
        tracing::error!(error = %e, "ALEX call failed");
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
}
