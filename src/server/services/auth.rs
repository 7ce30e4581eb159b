//! Who is calling: a desktop page (its session's cookie, named by the page)
//! or a phone (bearer token).
//!
//! Every API call resolves its credential here to exactly one session.
//!
//! One browser can hold several capture sessions, one window each: every
//! launch sets its own cookie, named after the session
//! ([`session_name`]). A desktop page names the session it was opened for
//! in every call ([`SESSION_HEADER`], or `?session=` on the event stream),
//! and only that session's cookie is read. So a second launch in another
//! tab can never re-point an open window: the window keeps naming its own
//! session, and a cookie alone, without a page naming it, grants nothing.
//!
//! A request carrying both a phone token and a desktop session is refused
//! ([`mixed_credentials`]): the phone's link never acts for a desktop, nor
//! a desktop through a phone link left in its tab.

use axum::http::{header, HeaderMap};

use crate::model::{ApiError, LaunchProblem, TokenProblem, SESSION_HEADER};
use crate::server::app_state::AppState;
use crate::server::stores::session_store::{SessionKey, SessionRecord};
use crate::server::support::ids::{hash_credential, session_name, valid_session_name};

/// The kind of caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The GP's desktop: everything in its session.
    Desktop,
    /// A phone: validate, upload and list its own uploads only. `ends_at`
    /// (Unix seconds) is its token's absolute cap.
    Phone { token_key: String, ends_at: u64 },
}

/// A resolved credential: the session it grants and who holds it.
#[derive(Debug, Clone)]
pub struct Access {
    pub session_key: SessionKey,
    pub session: SessionRecord,
    pub actor: Actor,
}

impl Access {
    /// Time until the session's hard expiry (at least a second): the TTL of
    /// whatever lives exactly as long as the session.
    pub fn time_left(&self) -> std::time::Duration {
        std::time::Duration::from_secs(
            self.session.hard_expires_at.saturating_sub(crate::server::support::clock::unix_now()).max(1),
        )
    }
}

/// A credential proven to be the GP's desktop. Only this module makes one
/// ([`desktop`], [`desktop_named`]), so a service that takes it needs no
/// check of its own: "desktop only" is decided where the credential is read.
#[derive(Debug, Clone)]
pub struct DesktopAccess(Access);

impl std::ops::Deref for DesktopAccess {
    type Target = Access;

    fn deref(&self) -> &Access {
        &self.0
    }
}

/// The bearer token of a request, if it carries one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Every cookie the request carries, as `(name, value)`.
fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}

/// The value of the cookie `name`, if the request carries one.
pub fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    cookies(headers).find(|(n, _)| *n == name).map(|(_, value)| value).filter(|v| !v.is_empty())
}

/// The session a desktop page names in its request header, if any.
pub fn named_session(headers: &HeaderMap) -> Option<&str> {
    headers.get(SESSION_HEADER)?.to_str().ok()
}

/// Every desktop session cookie of ours the request carries, as
/// `(cookie name, value)`: one per session (`<base>_<name>`), and the
/// single cookie of the design before it (`<base>`).
pub fn session_cookies<'h>(
    state: &AppState,
    headers: &'h HeaderMap,
) -> impl Iterator<Item = (&'h str, &'h str)> {
    let base = state.config.cookie_name();
    cookies(headers)
        .filter(move |(n, _)| *n == base || n.strip_prefix(base).is_some_and(|rest| rest.starts_with('_')))
}

/// Whether a request carries a phone token together with a desktop
/// credential (a named session or a session cookie). Such a request is
/// refused whole: which of the two it meant cannot be told.
pub fn mixed_credentials(state: &AppState, headers: &HeaderMap) -> bool {
    bearer(headers).is_some()
        && (named_session(headers).is_some() || session_cookies(state, headers).next().is_some())
}

/// The cookie value of the session `name`, if the request carries it.
pub fn session_cookie<'h>(state: &AppState, headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    if !valid_session_name(name) {
        return None;
    }
    cookie_value(headers, &state.config.session_cookie_name(name))
}

/// The desktop's session: the one the page names in [`SESSION_HEADER`].
pub async fn desktop(state: &AppState, headers: &HeaderMap) -> Result<DesktopAccess, ApiError> {
    desktop_named(state, headers, named_session(headers)).await
}

/// The desktop's session named `name` (from the page's header, or the event
/// stream's query), granted by that session's own cookie.
pub async fn desktop_named(
    state: &AppState,
    headers: &HeaderMap,
    name: Option<&str>,
) -> Result<DesktopAccess, ApiError> {
    let Some(name) = name else {
        // A cookie without a page naming its session grants nothing: it
        // would act for whichever patient was launched last.
        return Err(ApiError::NoSession(LaunchProblem::NotLaunched));
    };
    if !valid_session_name(name) {
        return Err(ApiError::NoSession(LaunchProblem::NotLaunched));
    }
    let Some(cookie) = session_cookie(state, headers, name) else {
        // The cookie lives exactly as long as the session could: gone means
        // ended, or this page was copied into another browser.
        return Err(ApiError::NoSession(LaunchProblem::Expired));
    };
    let session_key = SessionKey::new(hash_credential(cookie));
    if session_name(&session_key) != name {
        // A cookie renamed to stand for another session.
        tracing::warn!("a session cookie did not match the session its name claims");
        return Err(ApiError::NoSession(LaunchProblem::NotLaunched));
    }
    match state.sessions.touch(&session_key, state.config.session.idle_ttl).await? {
        Some(session) => Ok(DesktopAccess(Access { session_key, session, actor: Actor::Desktop })),
        None => Err(ApiError::NoSession(LaunchProblem::Expired)),
    }
}

/// A phone's session, from its bearer token.
pub async fn phone(state: &AppState, token: &str) -> Result<Access, ApiError> {
    let token_key = hash_credential(token);
    let ttl = state.config.session.mobile_token_ttl;
    let Some(record) = state.sessions.touch_token(&token_key, ttl).await? else {
        return Err(ApiError::Token(TokenProblem::NotFound));
    };
    if record.revoked {
        return Err(ApiError::Token(TokenProblem::Revoked));
    }
    // The idle timeout slides with use; this cap does not.
    let ends_at = record.created_at.saturating_add(state.config.session.mobile_token_max_ttl.as_secs());
    if crate::server::support::clock::unix_now() >= ends_at {
        return Err(ApiError::Token(TokenProblem::Expired));
    }
    match state.sessions.touch(&record.session_key, state.config.session.idle_ttl).await? {
        Some(session) => Ok(Access {
            session_key: record.session_key,
            session,
            actor: Actor::Phone { token_key, ends_at },
        }),
        None => Err(ApiError::Token(TokenProblem::Expired)),
    }
}

/// The current request's headers (inside a server function).
pub async fn request_headers() -> Result<HeaderMap, ApiError> {
    leptos_axum::extract().await.map_err(|e| {
        tracing::error!(error = %e, "request headers unavailable to a server function");
        ApiError::Internal
    })
}

/// A phone if the request has a bearer token, else the desktop. A request
/// with both is refused (the API edge refuses it first; this is the same
/// rule where the credential is read).
pub async fn any(state: &AppState, headers: &HeaderMap) -> Result<Access, ApiError> {
    if mixed_credentials(state, headers) {
        return Err(mixed());
    }
    match bearer(headers) {
        Some(token) => phone(state, token).await,
        None => Ok(desktop(state, headers).await?.0),
    }
}

/// The desktop, for an endpoint only the desktop may call. A phone's link
/// is refused (403) before any store is read: it is a credential, but not
/// one that may do this.
pub async fn desktop_only(state: &AppState, headers: &HeaderMap) -> Result<DesktopAccess, ApiError> {
    if mixed_credentials(state, headers) {
        return Err(mixed());
    }
    if bearer(headers).is_some() {
        return Err(ApiError::Forbidden);
    }
    desktop(state, headers).await
}

/// The refusal of a request carrying both a phone token and a desktop session.
pub fn mixed() -> ApiError {
    ApiError::BadRequest(crate::model::messages::MIXED_CREDENTIALS.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn reads_only_bearer_credentials() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer tok123"));
        assert_eq!(bearer(&h), Some("tok123"));
    }

    #[test]
    fn finds_our_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; ci_session=abc; b=2"));
        assert_eq!(cookie_value(&h, "ci_session"), Some("abc"));
        assert_eq!(cookie_value(&h, "__Host-ci_session"), None);
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("ci_session_x=zzz"));
        assert_eq!(cookie_value(&h, "ci_session"), None);
    }
}
