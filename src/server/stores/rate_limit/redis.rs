//! Buckets in Redis, shared by every instance: one script call per request
//! checks and takes from all of its buckets atomically, on Redis' clock.

use std::time::Duration;

use crate::server::stores::redis_conn::RedisConn;
use async_trait::async_trait;

use super::{Bucket, RateLimiter};
use crate::server::stores::StoreError;

/// KEYS: the buckets. ARGV: burst, per_second pairs. Each bucket is a hash
/// {t = tokens, at = seconds}. Returns 0 (taken) or the wait in ms.
const TAKE: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local levels = {}
local wait = 0
for i, key in ipairs(KEYS) do
  local burst = tonumber(ARGV[2 * i - 1])
  local rate = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', key, 't', 'at')
  local level = burst
  if state[1] then
    local elapsed = math.max(0, now - tonumber(state[2]))
    level = math.min(burst, tonumber(state[1]) + elapsed * rate)
  end
  levels[i] = level
  if level < 1 then
    wait = math.max(wait, math.ceil((1 - level) / rate * 1000))
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local burst = tonumber(ARGV[2 * i - 1])
  local rate = tonumber(ARGV[2 * i])
  redis.call('HSET', key, 't', tostring(levels[i] - 1), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
end
return 0
";

pub struct RedisRateLimiter {
    conn: RedisConn,
    prefix: String,
    script: redis::Script,
}

impl RedisRateLimiter {
    /// Connects to one address; fails fast if Redis is unreachable.
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, StoreError> {
        Ok(RedisRateLimiter::on(RedisConn::connect_url(url).await?, prefix))
    }

    /// On the instance's shared connection.
    pub fn on(conn: RedisConn, prefix: impl Into<String>) -> Self {
        Self { conn, prefix: prefix.into(), script: redis::Script::new(TAKE) }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn take(&self, buckets: &[(String, Bucket)]) -> Result<Option<Duration>, StoreError> {
        let mut invocation = self.script.prepare_invoke();
        for (key, bucket) in buckets {
            invocation.key(format!("{}rate:{key}", self.prefix));
            invocation.arg(bucket.burst).arg(bucket.per_second);
        }
        let mut conn = self.conn.clone();
        let wait_ms: u64 =
            invocation.invoke_async(&mut conn).await.map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms)))
    }
}
