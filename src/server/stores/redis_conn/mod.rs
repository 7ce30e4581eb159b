//! The one Redis connection an instance holds, shared by every Redis store
//! (sessions, the rate limiter, the event bus's publisher), and the primary
//! it talks to.
//!
//! It is the `redis` crate's `ConnectionManager`, which reconnects by itself
//! to the address it was given, plus what a failover needs:
//! - **Found dead before sending.** After Redis restarts, the first command
//!   on the old connection finds it dead (a broken pipe). A command Redis
//!   never saw is sent once more, on a new connection. One whose reply was
//!   lost after it was sent (a reset mid-answer) is not: it may have run.
//! - **Demoted.** A primary made a replica keeps its connections open and
//!   answers every write `READONLY`. That answer re-opens the connection on
//!   the primary found now (a managed endpoint's name resolves to the new
//!   one; Sentinel is asked), and the refused command, which did not run, is
//!   sent again there.
//! - **Sentinel.** With `REDIS_SENTINELS`, the primary is asked of Sentinel;
//!   its `+switch-master` announcement, or a connection to the old primary
//!   found dead, re-opens the connection on the new one.
//!
//! While no primary answers, commands fail (`StoreError::Unavailable`, a 503
//! with Retry-After at the edge). Each re-open bumps a generation, which the
//! event bus's subscriber watches to move its subscription too.

mod primary;
mod sentinel;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value};
use tokio::sync::{watch, Mutex};
use tokio::time::Instant;

use super::StoreError;
use crate::server::config::{RedisTarget, ReplicaAcks};

/// How long to let the manager reconnect before the second try.
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);
/// After a re-open fails, others fail at once for this long rather than
/// queue to try again (the primary is gone; Sentinel has not yet chosen).
const REOPEN_BACKOFF: Duration = Duration::from_millis(250);
/// How often to look again whether missing replicas are back.
const SHORT_RECHECK: Duration = Duration::from_secs(1);

/// The instance's Redis connection (cheap to clone: clones share it).
#[derive(Clone)]
pub struct RedisConn(Arc<Shared>);

struct Shared {
    target: RedisTarget,
    acks: ReplicaAcks,
    current: RwLock<Current>,
    /// One re-open at a time; the time of the last one that failed.
    reopening: Mutex<Option<Instant>>,
    generation: watch::Sender<u64>,
    /// Since when fewer replicas are connected than writes wait for.
    short_of_replicas: std::sync::Mutex<Option<std::time::Instant>>,
}

#[derive(Clone)]
struct Current {
    generation: u64,
    client: redis::Client,
    manager: ConnectionManager,
}

fn unavailable(e: &RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl RedisConn {
    /// Finds the primary and connects; fails fast if none answers at start-up.
    pub async fn connect(target: &RedisTarget, acks: ReplicaAcks) -> Result<Self, StoreError> {
        let (client, manager) = primary::open(target).await.map_err(|e| unavailable(&e))?;
        let (generation, _) = watch::channel(0);
        let conn = RedisConn(Arc::new(Shared {
            target: target.clone(),
            acks,
            current: RwLock::new(Current { generation: 0, client, manager }),
            reopening: Mutex::new(None),
            generation,
            short_of_replicas: std::sync::Mutex::new(None),
        }));
        if acks.replicas > 0 {
            // Some managed services refuse WAIT: better a clear refusal now
            // than every registration failing later.
            let mut manager = conn.current().manager;
            let allowed: Result<u32, RedisError> =
                redis::cmd("WAIT").arg(0).arg(0).query_async(&mut manager).await;
            if let Err(e) = allowed {
                return Err(StoreError::Unavailable(format!(
                    "REDIS_WAIT_REPLICAS is set, but the server refuses WAIT ({e}); set REDIS_WAIT_REPLICAS=0"
                )));
            }
        }
        if let RedisTarget::Sentinel(s) = target {
            tokio::spawn(sentinel::follow_switches(Arc::downgrade(&conn.0), s.clone()));
        }
        Ok(conn)
    }

    /// One address, no replica waited for (tests, the audit command).
    pub async fn connect_url(url: &str) -> Result<Self, StoreError> {
        let target = RedisTarget::Url { url: url.to_owned().into(), ca_file: None };
        RedisConn::connect(&target, ReplicaAcks { replicas: 0, timeout: Duration::from_millis(1) }).await
    }

    fn current(&self) -> Current {
        self.0.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The current primary's client: for the event bus's subscriber.
    pub fn client(&self) -> redis::Client {
        self.current().client
    }

    /// The connection's generation, bumped each time it moves to another
    /// primary (or the same one, re-opened).
    pub fn generations(&self) -> watch::Receiver<u64> {
        self.0.generation.subscribe()
    }

    /// Whether the primary is asked of Sentinel (so a dropped connection
    /// may mean it moved).
    pub fn follows_sentinel(&self) -> bool {
        matches!(self.0.target, RedisTarget::Sentinel(_))
    }

    /// Re-opens on the primary found now, unless that was done since
    /// generation `seen` (by another request, or a Sentinel announcement).
    pub async fn reopen(&self, seen: u64, why: &'static str) -> Result<(), RedisError> {
        reopen(&self.0, seen, why).await
    }

    /// Waits until `REDIS_WAIT_REPLICAS` replicas hold every write this
    /// instance has sent so far (`WAIT`): for the writes that must survive
    /// a failover. Nothing to wait for when none is configured. Fewer
    /// acknowledgements in time is an error: the write may not survive.
    pub async fn replicated(&self) -> Result<(), StoreError> {
        let ReplicaAcks { replicas, timeout } = self.0.acks;
        if replicas == 0 {
            return Ok(());
        }
        // On the manager itself: a WAIT resent on a new connection would
        // wait for nothing.
        let mut manager = self.current().manager;
        // Known to be short of replicas: a WAIT would only run out its
        // timeout on every write. Looked at again each second.
        let short_since = *self.0.short_of_replicas.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(since) = short_since {
            let still_short = since.elapsed() < SHORT_RECHECK
                || connected_replicas(&mut manager).await.is_some_and(|n| n < replicas);
            if still_short {
                metrics::counter!("redis_wait_degraded_total").increment(1);
                if since.elapsed() >= SHORT_RECHECK {
                    self.short_of_replicas(Some(std::time::Instant::now()));
                }
                return Ok(());
            }
            tracing::info!("Redis replicas are connected again; writes wait for them");
            self.short_of_replicas(None);
        }
        let started = std::time::Instant::now();
        let acked: u32 = redis::cmd("WAIT")
            .arg(replicas)
            .arg(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX))
            .query_async(&mut manager)
            .await
            .map_err(|e| {
                super::count_error("redis");
                unavailable(&e)
            })?;
        metrics::histogram!("redis_wait_seconds").record(started.elapsed().as_secs_f64());
        if acked >= replicas {
            return Ok(());
        }
        // Fewer replicas than asked are connected (one was lost, or its
        // primary failed over to it): nothing more can hold the write, and
        // refusing every write would turn a lost replica into an outage.
        // The service goes on, counted and logged, as Redis itself would.
        let connected = connected_replicas(&mut manager).await.unwrap_or(u32::MAX);
        if connected < replicas {
            metrics::counter!("redis_wait_degraded_total").increment(1);
            tracing::warn!(
                connected,
                wanted = replicas,
                "fewer Redis replicas connected than REDIS_WAIT_REPLICAS; writes are not replicated until they are"
            );
            self.short_of_replicas(Some(std::time::Instant::now()));
            return Ok(());
        }
        metrics::counter!("redis_wait_short_total").increment(1);
        Err(StoreError::Unavailable(format!(
            "{acked} of {replicas} replicas acknowledged the write within {} ms",
            timeout.as_millis()
        )))
    }

    /// A command sent on generation `seen` was refused with `READONLY`.
    async fn after_read_only(&self, seen: u64) -> Retry {
        tracing::warn!("Redis answered READONLY: its primary was demoted; re-opening on the new one");
        match self.reopen(seen, "readonly").await {
            Ok(()) => Retry::Again,
            Err(_) => Retry::No,
        }
    }

    fn short_of_replicas(&self, since: Option<std::time::Instant>) {
        *self.0.short_of_replicas.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = since;
    }

    /// What to do after `e` answered a command sent on generation `seen`.
    async fn after_error(&self, e: &RedisError, seen: u64) -> Retry {
        if read_only(e) {
            return self.after_read_only(seen).await;
        }
        let sentinel = self.follows_sentinel();
        if never_sent(e) {
            tracing::warn!(error = %e, "Redis connection found dead; sending again on a new one");
            if !sentinel {
                tokio::time::sleep(RECONNECT_PAUSE).await;
                return Retry::Again;
            }
            return match self.reopen(seen, "dead").await {
                Ok(()) => Retry::Again,
                Err(_) => Retry::No,
            };
        }
        if sentinel && (e.is_connection_dropped() || e.is_timeout()) {
            // It may have run: not resent. But the primary may have moved.
            let conn = self.clone();
            tokio::spawn(async move {
                let _ = conn.reopen(seen, "dropped").await;
            });
        }
        Retry::No
    }
}

enum Retry {
    Again,
    No,
}

async fn reopen(shared: &Shared, seen: u64, why: &'static str) -> Result<(), RedisError> {
    let mut last_failure = shared.reopening.lock().await;
    let current = shared.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).generation;
    if current != seen {
        return Ok(()); // already re-opened since that command was sent
    }
    if last_failure.is_some_and(|at| at.elapsed() < REOPEN_BACKOFF) {
        return Err(RedisError::from((redis::ErrorKind::Io, "no Redis primary answered just now")));
    }
    match primary::open(&shared.target).await {
        Ok((client, manager)) => {
            let generation = current + 1;
            *shared.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
                Current { generation, client, manager };
            *last_failure = None;
            shared.generation.send_replace(generation);
            metrics::counter!("redis_reopened_total", "why" => why).increment(1);
            tracing::info!(why, generation, "Redis connection re-opened on the primary");
            Ok(())
        }
        Err(e) => {
            *last_failure = Some(Instant::now());
            tracing::warn!(why, error = %e, "no Redis primary could be reached; answering 503 meanwhile");
            Err(e)
        }
    }
}

/// `connected_slaves` of the primary's `INFO replication`.
async fn connected_replicas(manager: &mut ConnectionManager) -> Option<u32> {
    let info: String = redis::cmd("INFO").arg("replication").query_async(manager).await.ok()?;
    info.lines().find_map(|l| l.trim().strip_prefix("connected_slaves:")?.parse().ok())
}

/// Whether Redis refused a write because it is a replica now. The command
/// did not run (in a script, the first write stops it), so it may be sent
/// again on the new primary.
pub fn read_only(e: &RedisError) -> bool {
    e.code() == Some("READONLY")
}

/// The same, as the connection hands it over: a server's error is an
/// answer (`Value::ServerError`), made an `Err` only when it is read.
fn answered_read_only(v: &Value) -> bool {
    matches!(v, Value::ServerError(e) if e.code() == "READONLY")
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
            let Current { generation, mut manager, .. } = self.current();
            let first = manager.req_packed_command(cmd).await;
            let retry = match &first {
                Ok(answer) if answered_read_only(answer) => self.after_read_only(generation).await,
                Ok(_) => Retry::No,
                Err(e) => self.after_error(e, generation).await,
            };
            match retry {
                Retry::Again => self.current().manager.req_packed_command(cmd).await,
                Retry::No => first,
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
            let Current { generation, mut manager, .. } = self.current();
            let first = manager.req_packed_commands(pipeline, offset, count).await;
            let retry = match &first {
                // A replica refuses every write and runs no script: resent
                // whole, only reads ran twice.
                Ok(answers) if answers.iter().any(answered_read_only) => {
                    self.after_read_only(generation).await
                }
                Ok(_) => Retry::No,
                Err(e) => self.after_error(e, generation).await,
            };
            match retry {
                Retry::Again => self.current().manager.req_packed_commands(pipeline, offset, count).await,
                Retry::No => first,
            }
        })
    }

    fn get_db(&self) -> i64 {
        self.current().manager.get_db()
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

    #[test]
    fn a_demoted_primary_is_known_by_its_answer() {
        let answer = |wire: &[u8]| redis::parse_redis_value(wire).unwrap().extract_error().unwrap_err();
        assert!(read_only(&answer(b"-READONLY You can't write against a read only replica.\r\n")));
        assert!(
            read_only(&answer(b"-READONLY You can't write against a read only replica. script: 3dcd, on @user_script:1.\r\n")),
            "a script's first write refused"
        );
        assert!(!read_only(&answer(b"-ERR wrong number of arguments\r\n")));
        assert!(!read_only(&answer(b"-NOSCRIPT No matching script\r\n")));
        assert!(!never_sent(&answer(b"-READONLY You can't write against a read only replica.\r\n")));
        let value = |wire: &[u8]| redis::parse_redis_value(wire).unwrap();
        assert!(answered_read_only(&value(b"-READONLY You can't write against a read only replica.\r\n")));
        assert!(!answered_read_only(&value(b"-ERR unknown command\r\n")));
        assert!(!answered_read_only(&value(b"+OK\r\n")));
    }
}
