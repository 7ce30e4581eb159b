//! The capture-session service: creating sessions at launch and finding the
//! one a request's cookie names.
//!
//! The cookie holds a 256-bit random value; the store holds only its SHA-256.
//! Logs name a session by a 12-character prefix of that hash.

use axum::http::{header, HeaderMap, HeaderValue};

use super::ids::{hash_credential, log_id, random_token};
use super::state::AppState;
use super::stores::session::{unix_now, SessionRecord};
use super::stores::StoreError;
use crate::model::{ApiError, SessionSummary};

/// Name of the desktop session cookie.
pub const COOKIE_NAME: &str = "ci_session";

/// Who a launch is for.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    pub patient_id: String,
    pub facility_id: String,
    pub provider_id: Option<String>,
    pub dev: bool,
    pub patient_name: Option<String>,
    pub nhi: Option<String>,
}

/// Creates a session and returns the cookie value that grants it.
pub async fn create(state: &AppState, launch: Launch) -> Result<String, StoreError> {
    let cookie = random_token();
    let key = hash_credential(&cookie);
    let now = unix_now();
    let record = SessionRecord {
        patient_id: launch.patient_id,
        facility_id: launch.facility_id,
        provider_id: launch.provider_id,
        dev_launch: launch.dev,
        created_at: now,
        hard_expires_at: now + state.config.session.max_ttl.as_secs(),
        patient_name: launch.patient_name,
        nhi: launch.nhi,
    };
    state.sessions.create(&key, &record, state.config.session.idle_ttl).await?;
    tracing::info!(session.id_hash = log_id(&key), dev = launch.dev, "capture session created");
    Ok(cookie)
}

/// The live session named by the request's cookie, if any (slides its idle timeout).
pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<Option<SessionRecord>, StoreError> {
    match cookie_value(headers) {
        Some(value) => state.sessions.touch(&hash_credential(value), state.config.session.idle_ttl).await,
        None => Ok(None),
    }
}

/// Whether the request carried a session cookie at all (to tell "expired" from "never launched").
pub fn has_cookie(headers: &HeaderMap) -> bool {
    cookie_value(headers).is_some()
}

/// The session cookie's value, if the request carries one.
pub fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value for a new session.
pub fn set_cookie(state: &AppState, value: &str) -> HeaderValue {
    let secure = if state.config.public_base_url.scheme() == "https" { "; Secure" } else { "" };
    let max_age = state.config.session.max_ttl.as_secs();
    let cookie = format!("{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    // The value is base64url and the rest is fixed ASCII, so this cannot fail.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The desktop's patient banner: the name and NHI as the launch resolved
/// them, or a masked patient id when ALEX could not say.
pub fn summary(record: &SessionRecord, settings: crate::model::CaptureSettings) -> SessionSummary {
    let tail: String =
        record.patient_id.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    let label = match (&record.patient_name, &record.nhi) {
        (Some(name), Some(nhi)) => format!("{name} · NHI {nhi}"),
        (Some(name), None) => name.clone(),
        _ => format!("Patient ···{tail}"),
    };
    SessionSummary {
        patient_label: label,
        facility_id: record.facility_id.clone(),
        dev_launch: record.dev_launch,
        expires_at: rfc3339(record.hard_expires_at),
        settings,
    }
}

/// Unix seconds as RFC 3339 UTC.
pub fn rfc3339(unix: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix as i64)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// Ends a desktop session: deletes its uncommitted photos' bytes, then the
/// session with its images and phone link (phones then see "expired").
pub async fn end(state: &AppState, access: &super::auth::Access) -> Result<(), ApiError> {
    access.require_desktop()?;
    for image in state.sessions.images(&access.session_key).await? {
        if !matches!(image.status, crate::model::ImageStatus::Committed { .. }) {
            state.blobs.delete(&image.blob_key).await?;
        }
        if let Some(original) = &image.original {
            state.blobs.delete(&original.blob_key).await?;
        }
    }
    state.sessions.delete(&access.session_key).await?;
    tracing::info!(session.id_hash = log_id(&access.session_key), "session ended by the desktop");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_our_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; ci_session=abc; b=2"));
        assert_eq!(cookie_value(&h), Some("abc"));
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("ci_session_x=zzz"));
        assert_eq!(cookie_value(&h), None);
        assert!(!has_cookie(&HeaderMap::new()));
    }

    #[test]
    fn formats_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
