//! `GET /api/medtech/session/events`: the desktop's server-sent event stream.
//!
//! A plain axum route, since a server function cannot hold a stream open.
//! With `Last-Event-ID` the client first gets every event it missed, then live
//! ones; ids it already received are never sent twice. A client that falls
//! too far behind is disconnected and catches up by reconnecting.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{stream, Stream, StreamExt};
use tokio::sync::broadcast;

use super::api_error::status_of;
use super::auth;
use super::events::{compare_ids, valid_id, Event};
use super::state::AppState;

/// Heartbeat interval: keeps proxies from closing an idle stream.
const HEARTBEAT: Duration = Duration::from_secs(15);

fn to_sse(event: &Event) -> SseEvent {
    let data = serde_json::to_string(&event.event).unwrap_or_else(|_| "{}".into());
    SseEvent::default().id(event.id.clone()).event(event.event.name()).data(data)
}

/// Live events after `last_seen`, ending if the client lags or the bus closes.
fn live(rx: broadcast::Receiver<Event>, last_seen: Option<String>) -> impl Stream<Item = Event> {
    stream::unfold((rx, last_seen), |(mut rx, last_seen)| async move {
        loop {
            match rx.recv().await {
                Ok(ev) if last_seen.as_deref().is_some_and(|seen| compare_ids(&ev.id, seen).is_le()) => {}
                Ok(ev) => return Some((ev, (rx, last_seen))),
                Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => {
                    return None
                }
            }
        }
    })
}

/// The SSE handler.
pub async fn events(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let access = match auth::desktop(&state, &headers).await {
        Ok(a) => a,
        Err(e) => return (status_of(&e), axum::Json(e)).into_response(),
    };
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| valid_id(id))
        .map(str::to_owned);
    let sub = match state.events.subscribe(&access.session_key, after.as_deref()).await {
        Ok(sub) => sub,
        Err(e) => {
            let err = crate::model::ApiError::from(e);
            return (status_of(&err), axum::Json(err)).into_response();
        }
    };
    let last_seen = sub.replay.last().map(|e| e.id.clone()).or(after);
    let events = stream::iter(sub.replay).chain(live(sub.live, last_seen));
    Sse::new(events.map(|e| Ok::<_, Infallible>(to_sse(&e))))
        .keep_alive(KeepAlive::new().interval(HEARTBEAT))
        .into_response()
}
