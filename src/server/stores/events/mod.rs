//! Session events: what the desktop's server-sent event stream carries.
//!
//! Each event gets an id that increases within its session, and is kept for
//! the session's life so a reconnecting client can replay what it missed
//! (`Last-Event-ID`). [`MemoryEventBus`] serves one instance; [`RedisEventBus`]
//! shares events across instances with one pub/sub connection per instance.

mod hub;
mod memory;
mod redis;

use std::cmp::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::broadcast;

pub use self::memory::MemoryEventBus;
pub use self::redis::RedisEventBus;
use crate::model::SessionEvent;
use crate::server::stores::StoreError;

/// How many events a session keeps for replay.
pub const HISTORY: usize = 500;

/// An event with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub event: SessionEvent,
}

/// What a new subscriber gets: the events after its `Last-Event-ID`, then live ones.
pub struct Subscription {
    pub replay: Vec<Event>,
    pub live: broadcast::Receiver<std::sync::Arc<Event>>,
}

/// Publishes and delivers session events.
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Short backend name: `memory` or `redis`.
    fn backend(&self) -> &'static str;

    /// Records an event and delivers it to every subscriber, on every instance.
    async fn publish(
        &self,
        session_key: &str,
        event: &SessionEvent,
        ttl: Duration,
    ) -> Result<String, StoreError>;

    /// Subscribes to a session. With `after`, `replay` holds the events that followed it.
    async fn subscribe(&self, session_key: &str, after: Option<&str>) -> Result<Subscription, StoreError>;

    /// Drops a session's history (the session ended). A session that is
    /// not ended explicitly loses its history `ttl` after its last event.
    async fn forget(&self, session_key: &str) -> Result<(), StoreError>;
}

/// Compares event ids of the form `<millis>-<seq>` numerically.
pub fn compare_ids(a: &str, b: &str) -> Ordering {
    fn parse(id: &str) -> (u64, u64) {
        let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
        (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
    }
    parse(a).cmp(&parse(b))
}

/// Whether `id` is a well-formed event id.
pub fn valid_id(id: &str) -> bool {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    !ms.is_empty()
        && ms.len() <= 20
        && seq.len() <= 20
        && ms.bytes().chain(seq.bytes()).all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_compare_numerically() {
        assert_eq!(compare_ids("9-0", "10-0"), Ordering::Less);
        assert_eq!(compare_ids("10-2", "10-10"), Ordering::Less);
        assert_eq!(compare_ids("10-2", "10-2"), Ordering::Equal);
        assert!(valid_id("1732612345678-0") && valid_id("0-12"));
        assert!(!valid_id("abc") && !valid_id("1-2-3") && !valid_id(""));
    }
}
