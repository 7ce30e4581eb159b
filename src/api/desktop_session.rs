//! `/api/medtech/session`: the desktop's view of its capture session.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::{ApiError, DesktopSession};

/// `POST /api/medtech/session` (desktop cookie) → [`DesktopSession`].
#[server(prefix = "/api", endpoint = "medtech/session", input = Json)]
pub async fn current_session() -> Result<DesktopSession, ApiError> {
    use crate::model::LaunchProblem;
    use crate::server::{app_state::AppState, services::auth, services::capture_sessions};

    let state = expect_context::<AppState>();
    let headers = crate::server::services::auth::request_headers().await?;
    Ok(match capture_sessions::current(&state, &headers).await? {
        Some(record) => {
            DesktopSession::Active(capture_sessions::summary(&record, state.config.capture_settings()))
        }
        None if auth::cookie_value(&headers, state.config.cookie_name()).is_some() => {
            DesktopSession::Missing { problem: LaunchProblem::Expired }
        }
        None => DesktopSession::Missing { problem: LaunchProblem::NotLaunched },
    })
}

/// `POST /api/medtech/session/end` (desktop cookie) → `null`. Ends the
/// session: its uncommitted photos are deleted, and phone links stop working.
#[server(prefix = "/api", endpoint = "medtech/session/end", input = Json)]
pub async fn end_session() -> Result<(), ApiError> {
    use crate::server::{app_state::AppState, services::auth, services::capture_sessions};

    let state = expect_context::<AppState>();
    let access = auth::desktop(&state, &auth::request_headers().await?).await?;
    capture_sessions::end(&state, &access).await
}
