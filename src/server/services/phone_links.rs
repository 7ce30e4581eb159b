//! Phone links: the QR code's token, what a phone's `Authorization: Bearer`
//! grants, and the masked banner a phone may show.
//!
//! A token is stored only as its SHA-256 and grants exactly one session.
//! Minting a new one (a new QR code) revokes the previous one.

use axum::http::HeaderMap;

use crate::model::{ApiError, MobileGrant, MobileLink, SessionEvent, TokenProblem};
use crate::server::app_state::AppState;
use crate::server::services::auth::{self, bearer, DesktopAccess};
use crate::server::services::notify;
use crate::server::stores::session_store::{PhoneJoin, SessionRecord, TokenRecord};
use crate::server::support::clock::{rfc3339, unix_now};
use crate::server::support::ids::{hash_credential, log_id, masked_tail, random_token, PHONE_TAIL};

/// Checks a phone's token and returns what the phone may see about its
/// session, with the phone's id. The id is the server's: a phone that
/// presents one this link issued is that phone again (a reload), and any
/// other opening is a new phone, given a fresh id, while the link holds
/// fewer than `PHONES_PER_LINK`. Made-up ids are never taken, so the
/// desktop's count of phones is the count of real openings.
pub async fn validate(
    state: &AppState,
    headers: &HeaderMap,
    presented: Option<&str>,
) -> Result<MobileLink, ApiError> {
    let Some(token) = bearer(headers) else {
        return Err(ApiError::Token(TokenProblem::Missing));
    };
    let access = auth::phone(state, token).await?;
    let auth::Actor::Phone { token_key, .. } = &access.actor else {
        return Err(ApiError::Token(TokenProblem::Missing));
    };
    let presented = presented.filter(|id| id.len() <= 64);
    let fresh = random_token();
    let (max, ttl) = (state.config.session.phones_per_link, state.config.session.mobile_token_ttl);
    let phone_id = match state.sessions.join_phone(token_key, presented, &fresh, max, ttl).await? {
        PhoneJoin::Known { .. } => presented.unwrap_or_default().to_owned(),
        PhoneJoin::Joined { phones } => {
            notify::publish(state, &access, SessionEvent::PhoneJoined { phones }).await;
            fresh
        }
        PhoneJoin::Full => {
            tracing::info!(token.id_hash = log_id(token_key), max, "a link refused a phone beyond its limit");
            return Err(ApiError::Token(TokenProblem::TooManyPhones));
        }
    };
    // The earliest of: the idle timeout from now, the token's absolute cap,
    // the session's hard expiry.
    let idle = unix_now() + state.config.session.mobile_token_ttl.as_secs();
    let cap = match access.actor {
        auth::Actor::Phone { ends_at, .. } => ends_at,
        auth::Actor::Desktop => u64::MAX,
    };
    Ok(MobileLink {
        valid: true,
        expires_at: rfc3339(idle.min(cap).min(access.session.hard_expires_at)),
        patient_banner: masked_banner(&access.session),
        settings: state.config.capture_settings(),
        phone_id,
    })
}

/// Mints a phone token for the desktop's session, revoking the previous one,
/// and returns the QR link.
pub async fn mint(state: &AppState, access: &DesktopAccess) -> Result<MobileGrant, ApiError> {
    let ttl = state.config.session.mobile_token_ttl;
    let token = random_token();
    let token_key = hash_credential(&token);
    let record =
        TokenRecord { session_key: access.session_key.clone(), created_at: unix_now(), revoked: false };
    state.sessions.put_token(&token_key, &record, ttl).await?;
    let session_left = access.time_left();
    if let Some(old) =
        state.sessions.swap_current_token(&access.session_key, &token_key, session_left).await?
    {
        // Keep the old token only as a "revoked" marker, so a phone still
        // holding it is told to scan the new code rather than "not found".
        let revoked = TokenRecord { revoked: true, ..record.clone() };
        state.sessions.put_token(&old, &revoked, ttl).await?;
        notify::publish(state, access, SessionEvent::TokenRevoked).await;
    }
    let mut url = state.config.public_base_url.join("/medtech-images/mobile").map_err(|e| {
        tracing::error!(error = %e, "phone link URL could not be built");
        ApiError::Internal
    })?;
    url.query_pairs_mut().append_pair("t", &token);
    let qr_svg = qrcode::QrCode::new(url.as_str().as_bytes())
        .map_err(|e| {
            tracing::error!(error = ?e, "QR code could not be built");
            ApiError::Internal
        })?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    tracing::info!(
        session.id_hash = log_id(&access.session_key),
        token.id_hash = log_id(&token_key),
        "mobile token minted"
    );
    Ok(MobileGrant { mobile_url: url.into(), qr_svg, expires_at: rfc3339(unix_now() + ttl.as_secs()) })
}

/// What a phone may show about the patient: initials and the last three
/// NHI characters (or of the patient id), never a full name or identifier.
pub fn masked_banner(session: &SessionRecord) -> String {
    let initials: String = session
        .patient_name
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .map(|c| format!("{}.", c.to_uppercase()))
        .collect();
    let who = if initials.is_empty() { "Patient".to_owned() } else { initials };
    match &session.nhi {
        Some(nhi) => format!("{who} · NHI {} · {}", masked_tail(nhi, PHONE_TAIL), session.facility_id),
        None => format!("{who} {} · {}", masked_tail(&session.patient_id, PHONE_TAIL), session.facility_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(name: Option<&str>, nhi: Option<&str>) -> SessionRecord {
        SessionRecord {
            patient_id: "14e52e16edb7a435bfa05e307afd008b".into(),
            facility_id: "F2N060-E".into(),
            provider_id: None,
            dev_launch: false,
            created_at: 0,
            hard_expires_at: 0,
            patient_name: name.map(Into::into),
            nhi: nhi.map(Into::into),
        }
    }

    #[test]
    fn banner_shows_only_initials_and_the_last_three_characters() {
        let banner = masked_banner(&session(Some("Aroha Testpatient"), Some("ZZZ0016")));
        assert_eq!(banner, "A.T. · NHI ···016 · F2N060-E");
        assert!(!banner.contains("Aroha") && !banner.contains("ZZZ0016"));
        let fallback = masked_banner(&session(None, None));
        assert_eq!(fallback, "Patient ···08b · F2N060-E");
        assert!(!fallback.contains("14e52e16"));
    }
}
