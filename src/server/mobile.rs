//! The mobile-token service: what a phone's `Authorization: Bearer` grants.
//!
//! A token is stored only as its SHA-256 and grants exactly one session.
//! Minting (the desktop's QR code) builds on this with the sessions issue.

use axum::http::{header, HeaderMap};

use super::ids::{hash_credential, log_id};
use super::sessions::rfc3339;
use super::state::AppState;
use super::stores::session::unix_now;
use super::stores::StoreError;
use crate::model::{MobileLink, TokenProblem};

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

/// Checks a phone's token and returns what the phone may see about its session.
pub async fn validate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Result<MobileLink, TokenProblem>, StoreError> {
    let Some(token) = bearer(headers) else {
        return Ok(Err(TokenProblem::Missing));
    };
    let key = hash_credential(token);
    let ttl = state.config.session.mobile_token_ttl;
    let Some(record) = state.sessions.touch_token(&key, ttl).await? else {
        tracing::info!(
            token.id_hash = log_id(&key),
            "unknown or expired mobile token"
        );
        return Ok(Err(TokenProblem::NotFound));
    };
    let idle = state.config.session.idle_ttl;
    let Some(session) = state.sessions.touch(&record.session_key, idle).await? else {
        return Ok(Err(TokenProblem::Expired));
    };
    let token_expiry = unix_now() + ttl.as_secs();
    Ok(Ok(MobileLink {
        valid: true,
        expires_at: rfc3339(token_expiry.min(session.hard_expires_at)),
        patient_banner: masked_banner(&session.patient_id, &session.facility_id),
    }))
}

/// What a phone may show about the patient: never a full name or identifier.
pub fn masked_banner(patient_id: &str, facility_id: &str) -> String {
    let n = patient_id.chars().count();
    let tail: String = patient_id.chars().skip(n.saturating_sub(3)).collect();
    format!("Patient ···{tail} · {facility_id}")
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
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer tok123"),
        );
        assert_eq!(bearer(&h), Some("tok123"));
    }

    #[test]
    fn banner_shows_only_the_last_three_characters() {
        let banner = masked_banner("14e52e16edb7a435bfa05e307afd008b", "F2N060-E");
        assert_eq!(banner, "Patient ···08b · F2N060-E");
        assert!(!banner.contains("14e52e16"));
    }
}
