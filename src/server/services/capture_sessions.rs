//! The capture-session service: creating sessions at launch and finding the
//! one a request's cookie names.
//!
//! The cookie holds a 256-bit random value; the store holds only its SHA-256.
//! Logs name a session by a 12-character prefix of that hash.

use axum::http::{HeaderMap, HeaderValue};

use crate::model::{ApiError, SessionSummary};
use crate::server::app_state::AppState;
use crate::server::services::auth::cookie_value;
use crate::server::stores::session_store::SessionRecord;
use crate::server::stores::StoreError;
use crate::server::support::clock::{rfc3339, unix_now};
use crate::server::support::ids::{hash_credential, log_id, masked_tail, random_token, DESKTOP_TAIL};

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
    let kind = if launch.dev { "development" } else { "evolution" };
    metrics::counter!("sessions_created_total", "launch" => kind).increment(1);
    tracing::info!(session.id_hash = log_id(&key), dev = launch.dev, "capture session created");
    Ok(cookie)
}

/// The live session named by the request's cookie, if any (slides its idle timeout).
pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<Option<SessionRecord>, StoreError> {
    match cookie_value(headers, state.config.cookie_name()) {
        Some(value) => state.sessions.touch(&hash_credential(value), state.config.session.idle_ttl).await,
        None => Ok(None),
    }
}

/// The `Set-Cookie` value for a new session.
pub fn set_cookie(state: &AppState, value: &str) -> HeaderValue {
    let secure = if state.config.https() { "; Secure" } else { "" };
    let max_age = state.config.session.max_ttl.as_secs();
    let name = state.config.cookie_name();
    let cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    // The value is base64url and the rest is fixed ASCII, so this cannot fail.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The desktop's patient banner: the name and NHI as the launch resolved
/// them, or a masked patient id when ALEX could not say.
pub fn summary(record: &SessionRecord, settings: crate::model::CaptureSettings) -> SessionSummary {
    let label = match (&record.patient_name, &record.nhi) {
        (Some(name), Some(nhi)) => format!("{name} · NHI {nhi}"),
        (Some(name), None) => name.clone(),
        _ => format!("Patient {}", masked_tail(&record.patient_id, DESKTOP_TAIL)),
    };
    SessionSummary {
        patient_label: label,
        facility_id: record.facility_id.clone(),
        dev_launch: record.dev_launch,
        expires_at: rfc3339(record.hard_expires_at),
        settings,
    }
}

/// Ends a desktop session: deletes its uncommitted photos' bytes, then the
/// session with its images and phone link (phones then see "expired").
/// Takes every image's commit claim first, so it never races a commit: while
/// one is filing, the session stays and the desktop is told to wait.
pub async fn end(state: &AppState, access: &crate::server::services::auth::Access) -> Result<(), ApiError> {
    use crate::server::services::images::{commit_claim, CLAIM_TTL};
    access.require_desktop()?;
    let images = state.sessions.images(&access.session_key).await?;
    let mut claimed = Vec::new();
    let mut busy = false;
    for image in &images {
        let claim = commit_claim(&access.session_key, &image.image_id);
        if state.sessions.try_claim(&claim, CLAIM_TTL).await? {
            claimed.push(claim);
        } else {
            busy = true;
            break;
        }
    }
    let outcome = if busy {
        Err(ApiError::BadRequest(
            "Photos are being filed right now. Wait for the commit to finish, then end the session.".into(),
        ))
    } else {
        end_claimed(state, access).await
    };
    for claim in &claimed {
        state.sessions.release(claim).await?;
    }
    outcome
}

async fn end_claimed(
    state: &AppState,
    access: &crate::server::services::auth::Access,
) -> Result<(), ApiError> {
    // Re-read under the claims: nothing can start filing now.
    for image in state.sessions.images(&access.session_key).await? {
        if matches!(image.status, crate::model::ImageStatus::Committing) {
            return Err(ApiError::BadRequest(
                "A photo's filing did not finish. Commit again to check it, then end the session.".into(),
            ));
        }
        if matches!(image.status, crate::model::ImageStatus::Committed { .. }) {
            continue; // its bytes went with the commit
        }
        crate::server::services::images::delete_blobs(state, &image).await?;
    }
    state.sessions.delete(&access.session_key).await?;
    tracing::info!(session.id_hash = log_id(&access.session_key), "session ended by the desktop");
    Ok(())
}
