//! Who is calling: the desktop (session cookie) or a phone (bearer token).
//!
//! Every API call resolves its credential here to exactly one session. No
//! endpoint takes a session id from the client, so a credential can never
//! name another session.

use axum::http::HeaderMap;

use super::ids::hash_credential;
use super::mobile::bearer;
use super::sessions;
use super::state::AppState;
use super::stores::session::SessionRecord;
use crate::model::{ApiError, LaunchProblem, TokenProblem};
use crate::server::api_error::reject;

/// The kind of caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The GP's desktop: everything in its session.
    Desktop,
    /// A phone: validate, upload and list its own uploads only.
    Phone { token_key: String },
}

/// A resolved credential: the session it grants and who holds it.
#[derive(Debug, Clone)]
pub struct Access {
    pub session_key: String,
    pub session: SessionRecord,
    pub actor: Actor,
}

impl Access {
    /// Time until the session's hard expiry (at least a second): the TTL of
    /// whatever lives exactly as long as the session.
    pub fn time_left(&self) -> std::time::Duration {
        std::time::Duration::from_secs(
            self.session.hard_expires_at.saturating_sub(super::stores::session::unix_now()).max(1),
        )
    }

    /// Fails unless the caller is the desktop.
    pub fn require_desktop(&self) -> Result<(), ApiError> {
        match self.actor {
            Actor::Desktop => Ok(()),
            Actor::Phone { .. } => Err(reject(ApiError::Forbidden)),
        }
    }
}

/// The desktop's session, from its cookie.
pub async fn desktop(state: &AppState, headers: &HeaderMap) -> Result<Access, ApiError> {
    let Some(cookie) = sessions::cookie_value(headers) else {
        return Err(reject(ApiError::NoSession(LaunchProblem::NotLaunched)));
    };
    let session_key = hash_credential(cookie);
    match state.sessions.touch(&session_key, state.config.session.idle_ttl).await? {
        Some(session) => Ok(Access { session_key, session, actor: Actor::Desktop }),
        None => Err(reject(ApiError::NoSession(LaunchProblem::Expired))),
    }
}

/// A phone's session, from its bearer token.
pub async fn phone(state: &AppState, token: &str) -> Result<Access, ApiError> {
    let token_key = hash_credential(token);
    let ttl = state.config.session.mobile_token_ttl;
    let Some(record) = state.sessions.touch_token(&token_key, ttl).await? else {
        return Err(reject(ApiError::Token(TokenProblem::NotFound)));
    };
    if record.revoked {
        return Err(reject(ApiError::Token(TokenProblem::Revoked)));
    }
    match state.sessions.touch(&record.session_key, state.config.session.idle_ttl).await? {
        Some(session) => {
            Ok(Access { session_key: record.session_key, session, actor: Actor::Phone { token_key } })
        }
        None => Err(reject(ApiError::Token(TokenProblem::Expired))),
    }
}

/// The current request's headers (inside a server function).
pub async fn request_headers() -> Result<HeaderMap, ApiError> {
    leptos_axum::extract().await.map_err(|_| ApiError::Internal)
}

/// A phone if the request has a bearer token, else the desktop.
pub async fn any(state: &AppState, headers: &HeaderMap) -> Result<Access, ApiError> {
    match bearer(headers) {
        Some(token) => phone(state, token).await,
        None => desktop(state, headers).await,
    }
}
