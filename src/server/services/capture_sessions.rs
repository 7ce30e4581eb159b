//! The capture-session service: creating sessions at launch and finding the
//! one a request's cookie names.
//!
//! The cookie holds a 256-bit random value; the store holds only its SHA-256.
//! Logs name a session by a 12-character prefix of that hash. Each session
//! has its own cookie, named after the session ([`session_name`]), so one
//! browser holds several sessions, one window each.

use axum::http::{HeaderMap, HeaderValue};

use crate::model::messages::{END_AFTER_UNFINISHED_FILING, END_WHILE_FILING, TWO_SESSIONS};
use crate::model::{ApiError, DesktopSession, LaunchProblem, SessionSummary};
use crate::server::app_state::AppState;
use crate::server::services::auth::{session_cookie, session_cookies};
use crate::server::services::claims::Claim;
use crate::server::stores::session_store::SessionRecord;
use crate::server::stores::StoreError;
use crate::server::support::clock::{rfc3339, unix_now};
use crate::server::support::ids::{
    hash_credential, log_id, masked_tail, random_token, session_name, valid_session_name, DESKTOP_TAIL,
};

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

/// A new session: the cookie value that grants it, and the name a page uses
/// for it.
pub struct Created {
    pub cookie: String,
    pub name: String,
}

/// Creates a session.
pub async fn create(state: &AppState, launch: Launch) -> Result<Created, StoreError> {
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
    let name = session_name(&key).to_owned();
    Ok(Created { cookie, name })
}

/// What a desktop page opened for session `name` (the page's
/// `?session=`) is told of it, as the server knows it now. The page names
/// its session in the body, since server rendering calls this in-process
/// without the browser's header; a header, if sent, must agree.
pub async fn for_page(
    state: &AppState,
    headers: &HeaderMap,
    name: Option<String>,
) -> Result<DesktopSession, ApiError> {
    if crate::server::services::auth::named_session(headers).is_some_and(|h| Some(h) != name.as_deref()) {
        return Err(ApiError::BadRequest(TWO_SESSIONS.into()));
    }
    let Some(name) = name.filter(|n| valid_session_name(n)) else {
        return Ok(DesktopSession::Missing { problem: LaunchProblem::NotLaunched });
    };
    Ok(match current(state, headers, &name).await? {
        Some(record) => DesktopSession::Active(summary(&name, &record, state.config.capture_settings())),
        None => DesktopSession::Missing { problem: LaunchProblem::Expired },
    })
}

/// The live session `name`, if the request carries its cookie (slides its
/// idle timeout). A cookie that does not hash to the name is not used.
pub async fn current(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
) -> Result<Option<SessionRecord>, StoreError> {
    match session_cookie(state, headers, name).map(hash_credential) {
        Some(key) if session_name(&key) == name => {
            state.sessions.touch(&key, state.config.session.idle_ttl).await
        }
        _ => Ok(None),
    }
}

/// The `Set-Cookie` value for a new session: its own cookie, named after it.
pub fn set_cookie(state: &AppState, created: &Created) -> HeaderValue {
    let max_age = state.config.session.max_ttl.as_secs();
    cookie_header(state, &state.config.session_cookie_name(&created.name), &created.cookie, max_age)
}

/// The `Set-Cookie` value that removes the cookie `cookie_name`.
pub fn clear_cookie(state: &AppState, cookie_name: &str) -> HeaderValue {
    cookie_header(state, cookie_name, "", 0)
}

fn cookie_header(state: &AppState, name: &str, value: &str, max_age: u64) -> HeaderValue {
    let secure = if state.config.https() { "; Secure" } else { "" };
    let cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    // Names and values are base64url, hex and fixed ASCII, so this cannot fail.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The request's session cookies whose sessions no longer exist (ended or
/// expired, or the cookie of the single-session design before it): a
/// launch removes them, so a browser's cookies stay as many as its live
/// sessions. A store error keeps them; the next launch tries again.
pub async fn dead_cookies(state: &AppState, headers: &HeaderMap) -> Vec<String> {
    let base = state.config.cookie_name();
    let ours = session_cookies(state, headers)
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .take(64)
        .collect::<Vec<_>>();
    let mut dead = Vec::new();
    for (name, value) in ours {
        let key = hash_credential(&value);
        let named_right =
            name.strip_prefix(base).and_then(|r| r.strip_prefix('_')) == Some(session_name(&key));
        if !named_right || matches!(state.sessions.exists(&key).await, Ok(false)) {
            dead.push(name);
        }
    }
    dead
}

/// The desktop's patient banner: the name and NHI as the launch resolved
/// them, or a masked patient id when ALEX could not say.
pub fn summary(
    name: &str,
    record: &SessionRecord,
    settings: crate::model::CaptureSettings,
) -> SessionSummary {
    let label = match (&record.patient_name, &record.nhi) {
        (Some(name), Some(nhi)) => format!("{name} · NHI {nhi}"),
        (Some(name), None) => name.clone(),
        _ => format!("Patient {}", masked_tail(&record.patient_id, DESKTOP_TAIL)),
    };
    SessionSummary {
        session: name.to_owned(),
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
/// Answers the `Set-Cookie` value that removes the session's cookie.
pub async fn end(
    state: &AppState,
    access: &crate::server::services::auth::DesktopAccess,
) -> Result<HeaderValue, ApiError> {
    use crate::server::services::claims::take_image_claim;
    let images = state.sessions.images(&access.session_key).await?;
    let mut claimed = Vec::new();
    let mut busy = false;
    for image in &images {
        match take_image_claim(state, access, &image.image_id).await? {
            Some(claim) => claimed.push(claim),
            None => {
                busy = true;
                break;
            }
        }
    }
    if busy {
        let refusal = Err(ApiError::BadRequest(END_WHILE_FILING.into()));
        return Claim::around_all(claimed, state, async { refusal }).await;
    }
    Claim::around_all(claimed, state, end_claimed(state, access)).await?;
    Ok(clear_cookie(state, &state.config.session_cookie_name(session_name(&access.session_key))))
}

async fn end_claimed(
    state: &AppState,
    access: &crate::server::services::auth::Access,
) -> Result<(), ApiError> {
    // Re-read under the claims: nothing can start filing now.
    for image in state.sessions.images(&access.session_key).await? {
        if matches!(image.status, crate::model::ImageStatus::Committing) {
            return Err(ApiError::BadRequest(END_AFTER_UNFINISHED_FILING.into()));
        }
        if matches!(image.status, crate::model::ImageStatus::Committed { .. }) {
            continue; // its bytes went with the commit
        }
        crate::server::services::upload_slots::delete_blobs(state, &image).await?;
    }
    state.sessions.delete(&access.session_key).await?;
    // Its folder goes whole: whatever a late upload left there too.
    if let Err(e) = crate::server::services::sweep::sweep_session(state, &access.session_key).await {
        tracing::warn!(error = ?e, "an ended session's blobs are left to the sweep");
    }
    if let Err(e) = state.events.forget(&access.session_key).await {
        // Its history expires with its TTL anyway.
        tracing::warn!(error = %e, "an ended session's events could not be dropped");
    }
    tracing::info!(session.id_hash = log_id(&access.session_key), "session ended by the desktop");
    Ok(())
}
