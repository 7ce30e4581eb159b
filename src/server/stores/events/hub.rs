//! In-process fan-out: one broadcast channel per session with subscribers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use super::Event;

/// Buffer per session; a client further behind than this is disconnected
/// and catches up by reconnecting with `Last-Event-ID`. Kept small, and the
/// slots hold `Arc`s, because every watched session allocates one.
const CHANNEL_CAPACITY: usize = 32;

/// Channels keyed by session key.
#[derive(Default)]
pub struct Hub {
    channels: Mutex<HashMap<String, broadcast::Sender<Arc<Event>>>>,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<Arc<Event>>>> {
        self.channels.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A receiver for a session's live events.
    pub fn subscribe(&self, session_key: &str) -> broadcast::Receiver<Arc<Event>> {
        let mut channels = self.lock();
        // Subscribing is a cheap moment to forget sessions nobody watches.
        channels.retain(|_, tx| tx.receiver_count() > 0);
        channels
            .entry(session_key.to_owned())
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .subscribe()
    }

    /// Delivers to this instance's subscribers of the session, if any.
    pub fn deliver(&self, session_key: &str, event: Event) {
        if let Some(tx) = self.lock().get(session_key) {
            // No receivers is not an error: nobody is watching right now.
            let _ = tx.send(Arc::new(event));
        }
    }

    /// Closes every open stream's channel: each ends, and its client
    /// reconnects with `Last-Event-ID` and is replayed what it missed. For
    /// when live delivery had a gap this instance cannot fill itself.
    /// Answers how many channels were closed.
    pub fn close_all(&self) -> usize {
        let mut channels = self.lock();
        let closed = channels.values().filter(|tx| tx.receiver_count() > 0).count();
        channels.clear();
        closed
    }

    /// Sessions with a channel (for benchmarks and tests).
    pub fn channel_count(&self) -> usize {
        self.lock().len()
    }
}
