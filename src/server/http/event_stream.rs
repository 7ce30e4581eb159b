//! `GET /api/medtech/session/events?session=<name>`: the desktop's
//! server-sent event stream, for the session its page names (an
//! `EventSource` cannot set headers, so the name is in the query).
//!
//! A plain axum route, since a server function cannot hold a stream open.
//! With `Last-Event-ID` the client first gets every event it missed, then live
//! ones; ids it already received are never sent twice. A client that falls
//! too far behind is disconnected and catches up by reconnecting. Five
//! minutes before the session's hard expiry the stream sends `session-expiring`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{stream, Stream, StreamExt};
use tokio::sync::broadcast;

use crate::model::SessionEvent;
use crate::server::app_state::AppState;
use crate::server::services::auth;
use crate::server::stores::events::{compare_ids, valid_id, Event};
use crate::server::support::clock::{rfc3339, unix_now};

/// The event streams each session holds open on this instance, so one
/// session (a script reusing a cookie) cannot hold unbounded connections.
#[derive(Default)]
pub struct StreamSlots {
    open: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

/// One open stream's place in [`StreamSlots`], given back on drop.
pub struct StreamSlot {
    slots: std::sync::Arc<StreamSlots>,
    key: String,
}

impl StreamSlots {
    /// A place for one more stream of `session_key`, unless it holds `max`.
    pub fn take(self: &std::sync::Arc<Self>, session_key: &str, max: usize) -> Option<StreamSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(session_key.to_owned()).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(StreamSlot { slots: self.clone(), key: session_key.to_owned() })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Heartbeat interval: keeps proxies from closing an idle stream.
const HEARTBEAT: Duration = Duration::from_secs(15);

fn to_sse(event: &Event) -> SseEvent {
    let data = serde_json::to_string(&event.event).unwrap_or_else(|_| "{}".into());
    SseEvent::default().id(event.id.clone()).event(event.event.name()).data(data)
}

/// How long before the hard expiry the desktop is warned.
const EXPIRY_WARNING: Duration = Duration::from_secs(300);

struct Live {
    rx: broadcast::Receiver<std::sync::Arc<Event>>,
    last_seen: Option<String>,
    /// When to send `session-expiring`; `None` once sent.
    warn_at: Option<(tokio::time::Instant, String)>,
    /// The session's hard expiry: the stream ends there.
    ends_at: tokio::time::Instant,
    /// Flips when the server begins shutting down.
    shutdown: tokio::sync::watch::Receiver<bool>,
    state: AppState,
    session_key: crate::server::stores::session_store::SessionKey,
    /// Counts the stream in `event_streams_open` while it lives.
    _open: crate::server::http::metrics::OpenStream,
    /// Its place among its session's streams.
    _slot: StreamSlot,
}

/// Live events after `last_seen`, plus one `session-expiring` warning. Ends
/// if the client lags (it reconnects with `Last-Event-ID`), the bus closes,
/// the session ends (checked each heartbeat, without sliding its idle
/// timeout) or expires, or this instance stops (the client reconnects to
/// another, missing nothing).
fn live(state: Live) -> impl Stream<Item = SseEvent> {
    stream::unfold(state, |mut st| async move {
        let mut check = tokio::time::interval(HEARTBEAT);
        check.tick().await;
        loop {
            if *st.shutdown.borrow() {
                return None;
            }
            let warn = st.warn_at.clone();
            tokio::select! {
                _ = st.shutdown.changed() => return None,
                () = tokio::time::sleep_until(st.ends_at) => return None,
                _ = check.tick() => {
                    // A store error is not the session's end: keep streaming.
                    if matches!(st.state.sessions.exists(&st.session_key).await, Ok(false)) {
                        return None;
                    }
                }
                received = st.rx.recv() => match received {
                    Ok(ev) if st.last_seen.as_deref().is_some_and(|seen| compare_ids(&ev.id, seen).is_le()) => {}
                    Ok(ev) => return Some((to_sse(&ev), st)),
                    Err(_) => return None,
                },
                () = async { tokio::time::sleep_until(warn.as_ref().map(|w| w.0).unwrap_or_else(tokio::time::Instant::now)).await }, if warn.is_some() => {
                    st.warn_at = None;
                    let expires_at = warn.map(|w| w.1).unwrap_or_default();
                    let event = SessionEvent::SessionExpiring { expires_at };
                    let data = serde_json::to_string(&event).unwrap_or_else(|_| "{}".into());
                    return Some((SseEvent::default().event(event.name()).data(data), st));
                }
            }
        }
    })
}

/// The stream's query: the session the page names.
#[derive(serde::Deserialize)]
pub struct StreamQuery {
    session: Option<String>,
}

/// The SSE handler.
pub async fn events(
    State(state): State<AppState>,
    Query(q): Query<StreamQuery>,
    headers: HeaderMap,
) -> Response {
    let access = match auth::desktop_named(&state, &headers, q.session.as_deref()).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let Some(slot) = state.streams.take(&access.session_key, state.config.rate_limit.streams_per_session)
    else {
        metrics::counter!("event_streams_refused_total").increment(1);
        tracing::warn!("event stream refused: the session holds its maximum");
        return crate::model::ApiError::RateLimited.into_response();
    };
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| valid_id(id))
        .map(str::to_owned);
    let sub = match state.events.subscribe(&access.session_key, after.as_deref()).await {
        Ok(sub) => sub,
        Err(e) => return crate::model::ApiError::from(e).into_response(),
    };
    let last_seen = sub.replay.last().map(|e| e.id.clone()).or(after);
    let hard = access.session.hard_expires_at;
    let warn_in =
        Duration::from_secs(hard.saturating_sub(EXPIRY_WARNING.as_secs()).saturating_sub(unix_now()));
    let warn_at = Some((tokio::time::Instant::now() + warn_in, rfc3339(hard)));
    let ends_at = tokio::time::Instant::now() + Duration::from_secs(hard.saturating_sub(unix_now()));
    let replay: Vec<SseEvent> = sub.replay.iter().map(to_sse).collect();
    let live_state = Live {
        rx: sub.live,
        last_seen,
        warn_at,
        ends_at,
        shutdown: state.shutdown.clone(),
        session_key: access.session_key.clone(),
        state: state.clone(),
        _open: crate::server::http::metrics::OpenStream::new(),
        _slot: slot,
    };
    let events = stream::iter(replay).chain(live(live_state));
    Sse::new(events.map(Ok::<_, Infallible>)).keep_alive(KeepAlive::new().interval(HEARTBEAT)).into_response()
}
