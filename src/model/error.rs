//! The error every server function returns, in words a GP understands.
//!
//! Variants carry no internal detail: the server logs the cause where it
//! maps it (see `server::http::api_error`), and the browser only ever sees these.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use super::{LaunchProblem, TokenProblem};

/// Why an upload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UploadProblem {
    /// Not JPEG, PNG, WebP, HEIC or HEIF.
    UnsupportedType,
    /// Empty, or over the size limit.
    TooLarge,
    /// The session holds its maximum number of photos.
    TooManyImages,
    /// The bytes are not the image they claim to be.
    NotAnImage,
    /// Nothing (or not all of it) arrived at the upload URL.
    Incomplete,
    /// The photo has more pixels than the server accepts.
    TooManyPixels,
    /// This phone already has several uploads that it has not finished.
    TooManyPending,
}

impl UploadProblem {
    /// The sentence shown to the GP.
    pub fn message(self) -> &'static str {
        match self {
            UploadProblem::UnsupportedType => {
                "This file type is not supported. Use a JPEG, PNG, WebP or HEIC photo."
            }
            UploadProblem::TooLarge => "This photo is empty or too large to upload.",
            UploadProblem::TooManyImages => {
                "This session already holds the maximum number of photos. Commit or remove some first."
            }
            UploadProblem::NotAnImage => "This file is not a readable photo, so it was discarded.",
            UploadProblem::Incomplete => "The upload did not finish. Try sending the photo again.",
            UploadProblem::TooManyPixels => {
                "This photo's dimensions are too large. Add it through Clinical Images, which resizes it."
            }
            UploadProblem::TooManyPending => {
                "Several photos from this phone are still uploading. Wait for them to finish, then try again."
            }
        }
    }
}

/// A failed API call, as shown to the person using the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "camelCase")]
pub enum ApiError {
    /// The desktop has no usable capture session.
    #[error("{}", .0.message())]
    NoSession(LaunchProblem),
    /// A phone's link cannot be used.
    #[error("{}", .0.message())]
    Token(TokenProblem),
    /// The request itself was wrong (a value out of range, an unknown code).
    #[error("{0}")]
    BadRequest(String),
    /// An upload was refused, for the reason given.
    #[error("{}", .0.message())]
    Upload(UploadProblem),
    /// The credential is valid but does not allow this action.
    #[error("This link or session is not allowed to do that.")]
    Forbidden,
    /// The image (or other item) is not in this session.
    #[error("That photo is no longer in this session. Refresh to see the current list.")]
    NotFound,
    /// Too many requests from this credential.
    #[error("Too many requests. Wait a few seconds and try again.")]
    RateLimited,
    /// A service the app depends on is down; trying again later may work.
    #[error("The service is temporarily unavailable. Try again in a minute.")]
    Unavailable,
    /// The request never reached the server, or its answer was unreadable.
    #[error("Could not reach Clinical Images. Check the network connection and try again.")]
    Network,
    /// Anything else. The detail is in the server log, never here.
    #[error("Something went wrong on our side. Try again; if it keeps happening, contact support.")]
    Internal,
}

impl ApiError {
    /// The HTTP status this error is sent with.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::NoSession(_) => 401,
            ApiError::Token(TokenProblem::TooManyPhones) => 403,
            ApiError::Token(_) => 401,
            ApiError::BadRequest(_) => 400,
            ApiError::Upload(UploadProblem::TooLarge) => 413,
            ApiError::Upload(UploadProblem::UnsupportedType) => 415,
            ApiError::Upload(UploadProblem::TooManyImages) => 409,
            ApiError::Upload(UploadProblem::TooManyPending) => 429,
            ApiError::Upload(_) => 422,
            ApiError::Forbidden => 403,
            ApiError::NotFound => 404,
            ApiError::RateLimited => 429,
            ApiError::Unavailable => 503,
            // `Network` is the browser's own verdict on a call that failed in
            // transit; the server never sends it, so it maps like `Internal`.
            ApiError::Network | ApiError::Internal => 500,
        }
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    /// Encodes the error for the wire. On the server this is also where
    /// its HTTP status is set, for every error a server function sends:
    /// its own, and the framework's (arguments that do not decode), which
    /// would otherwise all go out as 500.
    fn ser(&self) -> leptos::server_fn::Bytes {
        #[cfg(feature = "ssr")]
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            let status = axum::http::StatusCode::from_u16(self.status());
            response.set_status(status.unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR));
        }
        <JsonEncoding as leptos::server_fn::Encodes<Self>>::encode(self)
            .unwrap_or_else(|_| leptos::server_fn::Bytes::from_static(br#"{"kind":"internal"}"#))
    }

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => ApiError::Network,
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_) => {
                ApiError::BadRequest(super::messages::NOT_UNDERSTOOD.into())
            }
            _ => ApiError::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_failures_become_plain_language() {
        let err = ApiError::from_server_fn_error(ServerFnErrorErr::Request(
            "TypeError: Failed to fetch at 10.0.0.3:8443".into(),
        ));
        assert_eq!(err, ApiError::Network);
        assert!(!err.to_string().contains("10.0.0.3"));
    }

    #[test]
    fn server_internals_never_reach_the_message() {
        let err = ApiError::from_server_fn_error(ServerFnErrorErr::ServerError(
            "redis: connection refused (os error 111)".into(),
        ));
        assert_eq!(err, ApiError::Internal);
        assert!(!err.to_string().contains("redis"));
    }

    #[test]
    fn round_trips_as_json() {
        let err = ApiError::Token(TokenProblem::Revoked);
        let json = serde_json::to_string(&err).unwrap();
        assert_eq!(json, r#"{"kind":"token","detail":"revoked"}"#);
        assert_eq!(serde_json::from_str::<ApiError>(&json).unwrap(), err);
    }
}
