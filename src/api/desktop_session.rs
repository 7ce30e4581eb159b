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
    use crate::server::{
        http::caller::{caller, Caller, Headers},
        services::capture_sessions,
    };

    let Caller { state, access: headers } = caller::<Headers>().await?;
    capture_sessions::for_page(&state, &headers, session).await
}

/// `POST /api/medtech/session/end` (desktop session) → `null`. Ends the
/// session: its uncommitted photos are deleted, phone links stop working,
/// and its cookie is removed.
#[server(prefix = "/api", endpoint = "medtech/session/end", input = Json, client = CallerClient)]
pub async fn end_session() -> Result<(), ApiError> {
    use crate::server::{
        http::caller::{caller, Caller, Desktop},
        services::capture_sessions,
    };

    let Caller { state, access } = caller::<Desktop>().await?;
    let clear = capture_sessions::end(&state, &access).await?;
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.append_header(axum::http::header::SET_COOKIE, clear);
    }
    Ok(())
}
