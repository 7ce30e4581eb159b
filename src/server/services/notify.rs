//! Telling the desktop: publishing a session event from a service.
//!
//! The event bus (`events`) knows nothing of requests or app state; this is
//! where a service's change becomes an event for its session.

use crate::model::SessionEvent;
use crate::server::app_state::AppState;
use crate::server::services::auth::Access;
use crate::server::support::ids::log_id;

/// Publishes an event for the caller's session. A failure is logged, not
/// returned: the change it reports has already happened, and a desktop that
/// missed it sees it on its next list or reconnect.
pub async fn publish(state: &AppState, access: &Access, event: SessionEvent) {
    if let Err(e) = state.events.publish(&access.session_key, &event, access.time_left()).await {
        tracing::warn!(
            session.id_hash = log_id(&access.session_key),
            event = event.name(),
            error = %e,
            "event could not be published"
        );
    }
}

/// How long a photo's arrival is retried while Redis fails over or restarts.
const DURABLE_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// Publishes an event that must be in the session's history: a photo that
/// reached the session. Desktops' streams replay from the history, so an
/// event published nowhere is one no stream ever shows. A failure is tried
/// again while Redis fails over or restarts (a few seconds); past that it is
/// the caller's, who answers 503. (A publish whose answer was lost may have
/// landed: the retry then records the event twice, which a desktop takes
/// as one, since it re-reads the list on every event.)
pub async fn publish_durably(
    state: &AppState,
    access: &Access,
    event: SessionEvent,
) -> Result<(), crate::server::stores::StoreError> {
    let until = tokio::time::Instant::now() + DURABLE_FOR;
    loop {
        match state.events.publish(&access.session_key, &event, access.time_left()).await {
            Ok(_) => return Ok(()),
            Err(e) if tokio::time::Instant::now() < until => {
                tracing::warn!(
                    session.id_hash = log_id(&access.session_key),
                    event = event.name(),
                    error = %e,
                    "event could not be published yet; trying again"
                );
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    }
}
