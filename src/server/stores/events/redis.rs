//! Events shared through Redis: a capped stream per session for replay, and
//! one pub/sub channel for live delivery.
//!
//! Each instance holds exactly one subscriber connection, whatever the number
//! of clients; it hands each message to the in-process [`Hub`].

use std::sync::Arc;
use std::time::Duration;

use crate::server::stores::redis_conn::RedisConn;
use async_trait::async_trait;
use futures::StreamExt;

use super::hub::Hub;
use super::{Event, EventBus, Subscription, HISTORY};
use crate::model::SessionEvent;
use crate::server::stores::StoreError;

/// The Redis-backed bus.
pub struct RedisEventBus {
    conn: RedisConn,
    hub: Arc<Hub>,
    prefix: String,
    channel: String,
}

fn unavailable(e: redis::RedisError) -> StoreError {
    crate::server::stores::count_error("redis");
    StoreError::Unavailable(e.to_string())
}

impl RedisEventBus {
    /// Connects to one address (tests), and starts the subscriber.
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, StoreError> {
        RedisEventBus::on(RedisConn::connect_url(url).await?, prefix).await
    }

    /// Publishes on the instance's connection, and starts this instance's
    /// single subscriber, which follows that connection to a new primary.
    pub async fn on(conn: RedisConn, prefix: impl Into<String>) -> Result<Self, StoreError> {
        let prefix = prefix.into();
        let hub = Arc::new(Hub::default());
        let channel = format!("{prefix}events");
        // Subscribe before returning, so no event published after start-up is missed.
        let generations = conn.generations();
        let pubsub = subscribe(&conn.client(), &channel).await.map_err(unavailable)?;
        tokio::spawn(run_subscriber(conn.clone(), channel.clone(), hub.clone(), pubsub, generations));
        Ok(Self { conn, hub, prefix, channel })
    }

    fn stream_key(&self, session_key: &str) -> String {
        format!("{}events:{session_key}", self.prefix)
    }

    /// Sessions this instance currently delivers to.
    pub fn local_channels(&self) -> usize {
        self.hub.channel_count()
    }
}

async fn subscribe(client: &redis::Client, channel: &str) -> Result<redis::aio::PubSub, redis::RedisError> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}

/// Reads the channel forever. It subscribes again when the subscription
/// drops (Redis restarted) or the instance's connection moved to another
/// primary; then every open stream is told to catch up.
async fn run_subscriber(
    conn: RedisConn,
    channel: String,
    hub: Arc<Hub>,
    first: redis::aio::PubSub,
    mut generations: tokio::sync::watch::Receiver<u64>,
) {
    let mut pubsub = Some(first);
    loop {
        generations.borrow_and_update();
        let current = match pubsub.take() {
            Some(p) => p,
            None => match subscribe(&conn.client(), &channel).await {
                Ok(p) => {
                    // Whatever was published while this instance was not
                    // subscribed is in each session's history, not in its
                    // open streams: each is told to reconnect, and replays
                    // from its last delivered id.
                    let told = hub.close_all();
                    metrics::counter!("event_streams_resynced_total").increment(told as u64);
                    tracing::info!(
                        streams = told,
                        "event subscriber reconnected to Redis; open streams told to catch up"
                    );
                    p
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event subscriber cannot reach Redis; retrying");
                    // With Sentinel, a primary that stopped answering may
                    // have been replaced: ask.
                    if conn.follows_sentinel() {
                        let seen = *generations.borrow();
                        let _ = conn.reopen(seen, "subscriber").await;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            },
        };
        let mut messages = current.into_on_message();
        loop {
            tokio::select! {
                msg = messages.next() => {
                    let Some(msg) = msg else {
                        tracing::warn!("event subscription ended; reconnecting");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        break;
                    };
                    let Ok(payload) = msg.get_payload::<String>() else { continue };
                    match decode(&payload) {
                        Some((session_key, event)) => hub.deliver(session_key, event),
                        None => tracing::warn!("ignored a malformed event message"),
                    }
                }
                moved = generations.changed() => {
                    if moved.is_err() {
                        return; // the connection is gone: the instance is stopping
                    }
                    tracing::warn!("Redis primary changed; moving the event subscription to it");
                    break;
                }
            }
        }
    }
}

/// Appends to the session's capped stream, refreshes its TTL and publishes
/// `<session key>\n<event id>\n<event json>`, as one atomic step, so live
/// delivery order always matches id order.
const PUBLISH: &str = r"
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5] .. '\n' .. id .. '\n' .. ARGV[2])
return id
";

fn decode(payload: &str) -> Option<(&str, Event)> {
    let mut parts = payload.splitn(3, '\n');
    let session_key = parts.next()?;
    let id = parts.next()?.to_owned();
    let event = serde_json::from_str(parts.next()?).ok()?;
    Some((session_key, Event { id, event }))
}

#[async_trait]
impl EventBus for RedisEventBus {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn publish(
        &self,
        session_key: &str,
        event: &SessionEvent,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        let json = serde_json::to_string(event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let script = redis::Script::new(PUBLISH);
        let mut invocation = script.key(self.stream_key(session_key));
        invocation
            .arg(HISTORY)
            .arg(json)
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1))
            .arg(&self.channel)
            .arg(session_key);
        // A connection found dead after a Redis restart is replaced and the
        // script sent again (`RedisConn`): no event is lost to that.
        let mut conn = self.conn.clone();
        invocation.invoke_async(&mut conn).await.map_err(unavailable)
    }

    async fn forget(&self, session_key: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: i64 =
            redis::AsyncCommands::del(&mut conn, self.stream_key(session_key)).await.map_err(unavailable)?;
        Ok(())
    }

    async fn subscribe(&self, session_key: &str, after: Option<&str>) -> Result<Subscription, StoreError> {
        // Live first, then history: an event landing in between is in both,
        // and the stream handler drops live ids it already replayed.
        let live = self.hub.subscribe(session_key);
        let replay = match after {
            None => Vec::new(),
            Some(after) => {
                let mut conn = self.conn.clone();
                let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
                    .arg(self.stream_key(session_key))
                    .arg(format!("({after}"))
                    .arg("+")
                    .query_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                entries
                    .ids
                    .into_iter()
                    .filter_map(|entry| {
                        let json: String = entry.get("e")?;
                        let event = serde_json::from_str(&json).ok()?;
                        Some(Event { id: entry.id, event })
                    })
                    .collect()
            }
        };
        Ok(Subscription { replay, live })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_decodes() {
        let json = serde_json::to_string(&SessionEvent::TokenRevoked).unwrap();
        let payload = format!("abc\n17-0\n{json}");
        let (key, event) = decode(&payload).unwrap();
        assert_eq!((key, event.id.as_str(), event.event), ("abc", "17-0", SessionEvent::TokenRevoked));
        assert!(decode("abc\n\n").is_none());
    }
}
