//! Events inside one process (embedded mode).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::hub::Hub;
use super::{compare_ids, Event, EventBus, Subscription, HISTORY};
use crate::model::SessionEvent;
use crate::server::stores::StoreError;

/// History and delivery in memory.
#[derive(Default)]
pub struct MemoryEventBus {
    hub: Hub,
    /// Per session: the next sequence number and the recent events.
    history: Mutex<HashMap<String, (u64, VecDeque<Event>)>>,
}

impl MemoryEventBus {
    pub fn new() -> Self {
        Self::default()
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
        _ttl: Duration,
    ) -> Result<String, StoreError> {
        // One lock covers numbering, history and delivery, so a concurrent
        // subscriber sees each event exactly once: in its replay or live.
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        let (next, events) = history.entry(session_key.to_owned()).or_default();
        *next += 1;
        let event = Event { id: format!("0-{next}"), event: event.clone() };
        events.push_back(event.clone());
        if events.len() > HISTORY {
            events.pop_front();
        }
        self.hub.deliver(session_key, event.clone());
        Ok(event.id)
    }

    async fn subscribe(&self, session_key: &str, after: Option<&str>) -> Result<Subscription, StoreError> {
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        let live = self.hub.subscribe(session_key);
        let replay = match (after, history.get(session_key)) {
            (Some(after), Some((_, events))) => {
                events.iter().filter(|e| compare_ids(&e.id, after).is_gt()).cloned().collect()
            }
            _ => Vec::new(),
        };
        Ok(Subscription { replay, live })
    }
}
