//! Events inside one process (embedded mode).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::hub::Hub;
use super::{compare_ids, Event, EventBus, Subscription, HISTORY};
use crate::model::SessionEvent;
use crate::server::stores::StoreError;

/// Expired sessions' histories are dropped at most this often.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// History and delivery in memory.
#[derive(Default)]
pub struct MemoryEventBus {
    hub: Hub,
    history: Mutex<Histories>,
}

/// Every session's recent events: at most [`HISTORY`] each, and kept only
/// until the publish's `ttl` after its last event (the session's own
/// lifetime), or until the session is forgotten.
#[derive(Default)]
struct Histories {
    sessions: HashMap<String, History>,
    swept: Option<Instant>,
}

struct History {
    /// The last sequence number given.
    last: u64,
    events: VecDeque<Event>,
    expires: Instant,
}

impl Histories {
    /// Drops expired sessions, at most every [`SWEEP_EVERY`].
    fn sweep(&mut self, now: Instant) {
        if self.swept.is_some_and(|at| now.duration_since(at) < SWEEP_EVERY) {
            return;
        }
        self.swept = Some(now);
        self.sessions.retain(|_, h| h.expires > now);
    }
}

impl MemoryEventBus {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sessions whose history is held now (for tests of the bound).
    pub fn sessions_held(&self) -> usize {
        let now = Instant::now();
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        history.sessions.values().filter(|h| h.expires > now).count()
    }

    /// Sessions in the map, expired or not (for tests of the sweep).
    pub fn sessions_stored(&self) -> usize {
        self.history.lock().unwrap_or_else(|p| p.into_inner()).sessions.len()
    }
}

#[async_trait]
impl EventBus for MemoryEventBus {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn publish(
        &self,
        session_key: &str,
        event: &SessionEvent,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        // One lock covers numbering, history and delivery, so a concurrent
        // subscriber sees each event exactly once: in its replay or live.
        let now = Instant::now();
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        history.sweep(now);
        let expires = now + ttl;
        let h = history.sessions.entry(session_key.to_owned()).or_insert_with(|| History {
            last: 0,
            events: VecDeque::new(),
            expires,
        });
        if h.expires <= now {
            // Expired but not swept yet: its history is gone.
            h.events.clear();
        }
        h.expires = expires;
        h.last += 1;
        let event = Event { id: format!("0-{}", h.last), event: event.clone() };
        h.events.push_back(event.clone());
        if h.events.len() > HISTORY {
            h.events.pop_front();
        }
        self.hub.deliver(session_key, event.clone());
        Ok(event.id)
    }

    async fn forget(&self, session_key: &str) -> Result<(), StoreError> {
        self.history.lock().unwrap_or_else(|p| p.into_inner()).sessions.remove(session_key);
        Ok(())
    }

    async fn subscribe(&self, session_key: &str, after: Option<&str>) -> Result<Subscription, StoreError> {
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        let live = self.hub.subscribe(session_key);
        let held = history.sessions.get(session_key).filter(|h| h.expires > Instant::now());
        let replay = match (after, held) {
            (Some(after), Some(h)) => {
                h.events.iter().filter(|e| compare_ids(&e.id, after).is_gt()).cloned().collect()
            }
            _ => Vec::new(),
        };
        Ok(Subscription { replay, live })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn removed(n: u32) -> SessionEvent {
        SessionEvent::ImageRemoved { image_id: format!("img-{n}") }
    }

    #[tokio::test]
    async fn a_sessions_history_is_bounded_and_goes_with_the_session() {
        let bus = MemoryEventBus::new();
        let long = Duration::from_secs(600);
        for n in 0..(HISTORY as u32 + 50) {
            bus.publish("a", &removed(n), long).await.unwrap();
        }
        let replay = bus.subscribe("a", Some("0-0")).await.unwrap().replay;
        assert_eq!(replay.len(), HISTORY, "bounded per session");
        bus.forget("a").await.unwrap();
        assert!(bus.subscribe("a", Some("0-0")).await.unwrap().replay.is_empty(), "forgotten");
        assert_eq!(bus.sessions_stored(), 0);
    }

    #[tokio::test]
    async fn sessions_that_stop_publishing_are_dropped_after_their_ttl() {
        let bus = MemoryEventBus::new();
        for i in 0..1000 {
            bus.publish(&format!("s{i}"), &removed(1), Duration::from_millis(50)).await.unwrap();
        }
        assert_eq!(bus.sessions_held(), 1000);
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(bus.sessions_held(), 0, "expired sessions replay nothing");
        assert!(bus.subscribe("s1", Some("0-0")).await.unwrap().replay.is_empty());
        // The next sweep frees them; force it by ageing the last one.
        bus.history.lock().unwrap().swept = None;
        bus.publish("live", &removed(1), Duration::from_secs(600)).await.unwrap();
        assert_eq!(bus.sessions_stored(), 1, "only the live session is stored");
    }
}
