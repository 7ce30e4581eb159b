//! `/api/medtech/session`: the desktop's view of its capture session.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use super::CallerClient;
use crate::model::{ApiError, DesktopSession};

/// `POST /api/medtech/session` (the session's cookie) `{session}` → [`DesktopSession`]:
/// the session the page was opened for (`/medtech-images?session=…`), as the
/// server knows it now. The commit dialog reads it again at commit time.
#[server(prefix = "/api", endpoint = "medtech/session", input = Json, client = CallerClient)]
pub async fn current_session(#[server(default)] session: Option<String>) -> Result<DesktopSession, ApiError> {
    use crate::model::LaunchProblem;
    use crate::server::{app_state::AppState, services::auth, services::capture_sessions};

    let state = expect_context::<AppState>();
    let headers = auth::request_headers().await?;
    // The page names its session in the body (server rendering calls this
    // in-process, without the browser's header); a header, if sent, must agree.
    if auth::named_session(&headers).is_some_and(|h| Some(h) != session.as_deref()) {
        return Err(ApiError::BadRequest("The page named two different sessions.".into()));
    }
    let Some(name) = session.filter(|n| crate::server::support::ids::valid_session_name(n)) else {
        return Ok(DesktopSession::Missing { problem: LaunchProblem::NotLaunched });
    };
    Ok(match capture_sessions::current(&state, &headers, &name).await? {
        Some(record) => {
            DesktopSession::Active(capture_sessions::summary(&name, &record, state.config.capture_settings()))
        }
        None => DesktopSession::Missing { problem: LaunchProblem::Expired },
    })
}

/// `POST /api/medtech/session/end` (desktop session) → `null`. Ends the
/// session: its uncommitted photos are deleted, phone links stop working,
/// and its cookie is removed.
#[server(prefix = "/api", endpoint = "medtech/session/end", input = Json, client = CallerClient)]
pub async fn end_session() -> Result<(), ApiError> {
    use crate::server::support::ids::session_name;
    use crate::server::{app_state::AppState, services::auth, services::capture_sessions};

    let state = expect_context::<AppState>();
    let access = auth::desktop(&state, &auth::request_headers().await?).await?;
    capture_sessions::end(&state, &access).await?;
    let cookie = state.config.session_cookie_name(session_name(&access.session_key));
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response
            .append_header(axum::http::header::SET_COOKIE, capture_sessions::clear_cookie(&state, &cookie));
    }
    Ok(())
}
