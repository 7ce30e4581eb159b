//! The one kind of Redis connection every Redis-backed store uses: the
//! `redis` crate's `ConnectionManager`, which reconnects by itself, with
//! one addition. After Redis restarts, the first command on the old
//! connection is the one that finds it dead (a broken pipe) and makes the
//! manager reconnect: without more, that request fails though Redis is back.
//! A command that found its connection dead before it was sent is sent once
//! more, on the new connection. A command whose reply was lost after it was
//! sent (a reset mid-answer) is not: it may have run.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value};

use super::StoreError;

/// How long to let the manager reconnect before the second try.
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);

/// A managed Redis connection (cheap to clone: clones share it).
#[derive(Clone)]
pub struct RedisConn(ConnectionManager);

impl RedisConn {
    /// Connects; fails fast if Redis is unreachable at start-up.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let manager = ConnectionManager::new_with_config(client, config())
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(RedisConn(manager))
    }
}

/// Connection policy: fail fast at start-up, never hang a request on a
/// stuck server, reconnect with short backoff.
fn config() -> redis::aio::ConnectionManagerConfig {
    redis::aio::ConnectionManagerConfig::new()
        .set_number_of_retries(3)
        .set_max_delay(Duration::from_secs(1))
        .set_connection_timeout(Some(Duration::from_secs(3)))
        .set_response_timeout(Some(Duration::from_secs(5)))
}

/// Whether the command failed because its connection was already dead
/// when it was to be sent, so Redis never saw it: the socket's write end was
/// closed (a broken pipe), or nothing was connected. The crate wraps the I/O
/// error without exposing its kind, so its words are read.
pub fn never_sent(e: &RedisError) -> bool {
    if e.is_connection_refusal() {
        return true;
    }
    if !e.is_connection_dropped() {
        return false;
    }
    let text = e.to_string().to_ascii_lowercase();
    text.contains("broken pipe") || text.contains("not connected")
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            match self.0.req_packed_command(cmd).await {
                Err(e) if never_sent(&e) => {
                    tracing::warn!(error = %e, "Redis connection found dead; sending again on a new one");
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    self.0.req_packed_command(cmd).await
                }
                other => other,
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            match self.0.req_packed_commands(pipeline, offset, count).await {
                Err(e) if never_sent(&e) => {
                    tracing::warn!(error = %e, "Redis connection found dead; sending again on a new one");
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    self.0.req_packed_commands(pipeline, offset, count).await
                }
                other => other,
            }
        })
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    #[test]
    fn only_a_command_redis_never_saw_is_sent_again() {
        let io = |kind| RedisError::from(Error::from(kind));
        assert!(never_sent(&io(ErrorKind::BrokenPipe)), "the write end was already closed");
        assert!(never_sent(&io(ErrorKind::ConnectionRefused)), "nothing to send to");
        assert!(!never_sent(&io(ErrorKind::ConnectionReset)), "may have run before the reset");
        assert!(!never_sent(&io(ErrorKind::UnexpectedEof)), "may have run before the answer was cut");
        assert!(!never_sent(&io(ErrorKind::TimedOut)));
    }
}
