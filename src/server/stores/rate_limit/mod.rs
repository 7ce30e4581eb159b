//! Rate-limit buckets: one trait, two backends. With Redis configured, the
//! buckets live in Redis (one script call per request), so the limits hold
//! across instances; otherwise in this process, in sharded maps of bounded
//! size. Which buckets a request draws on is `throttle`'s business.

mod memory;
mod redis;

use std::time::Duration;

use async_trait::async_trait;

pub use self::memory::MemoryRateLimiter;
pub use self::redis::RedisRateLimiter;
use crate::server::stores::StoreError;

/// One bucket's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub burst: f64,
    pub per_second: f64,
}

impl Bucket {
    /// Seconds for an empty bucket to fill: how long its state is worth keeping.
    pub fn fill_time(&self) -> Duration {
        Duration::from_secs_f64((self.burst / self.per_second.max(0.001)).max(1.0))
    }
}

/// Keeps buckets and takes tokens from them.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Takes one token from each bucket, all or none. `Ok(None)`: allowed;
    /// `Ok(Some(wait))`: refused, the first token frees up after `wait`.
    async fn take(&self, buckets: &[(String, Bucket)]) -> Result<Option<Duration>, StoreError>;
}

/// The refill arithmetic both backends share (the Redis script mirrors it):
/// `(tokens, at)` after `now`, and whether one token could be taken.
pub fn refill(tokens: f64, at: f64, now: f64, bucket: Bucket) -> f64 {
    (tokens + (now - at).max(0.0) * bucket.per_second).min(bucket.burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refill_at_their_rate_up_to_their_burst() {
        let b = Bucket { burst: 3.0, per_second: 2.0 };
        assert_eq!(refill(0.0, 10.0, 10.5, b), 1.0);
        assert_eq!(refill(0.0, 10.0, 100.0, b), 3.0);
        assert_eq!(refill(1.0, 10.0, 9.0, b), 1.0, "a clock step back adds nothing");
    }
}
