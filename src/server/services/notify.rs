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
