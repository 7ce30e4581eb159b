//! In-process buckets (embedded mode, or no Redis): sharded maps, each of
//! bounded size, so memory stays bounded and no lock covers every key.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{refill, Bucket, RateLimiter};
use crate::server::stores::StoreError;

const SHARDS: usize = 64;
/// Keys per shard; a full shard first forgets refilled buckets, then its
/// least recently used one.
const SHARD_CAPACITY: usize = 2048;

type Shard = HashMap<String, (f64, Instant)>;

pub struct MemoryRateLimiter {
    shards: Vec<Mutex<Shard>>,
    hasher: std::collections::hash_map::RandomState,
    epoch: Instant,
}

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: Default::default(),
            epoch: Instant::now(),
        }
    }
}

impl MemoryRateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    fn shard(&self, key: &str) -> &Mutex<Shard> {
        &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS]
    }

    /// Keys held now, across shards (for tests of the bound).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn secs(&self, at: Instant) -> f64 {
        at.duration_since(self.epoch).as_secs_f64()
    }

    /// Checks one bucket; `take` commits the token if every bucket allows.
    fn level(&self, key: &str, bucket: Bucket, now: Instant) -> f64 {
        let shard = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        match shard.get(key) {
            Some((tokens, at)) => refill(*tokens, self.secs(*at), self.secs(now), bucket),
            None => bucket.burst,
        }
    }

    fn store(&self, key: &str, tokens: f64, bucket: Bucket, now: Instant) {
        let mut shard = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        if shard.len() >= SHARD_CAPACITY && !shard.contains_key(key) {
            let full = bucket.fill_time();
            shard.retain(|_, (_, at)| now.duration_since(*at) < full);
            if shard.len() >= SHARD_CAPACITY {
                if let Some(oldest) = shard.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| k.clone()) {
                    shard.remove(&oldest);
                }
            }
        }
        shard.insert(key.to_owned(), (tokens, now));
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn take(&self, buckets: &[(String, Bucket)]) -> Result<Option<Duration>, StoreError> {
        let now = Instant::now();
        let levels: Vec<f64> = buckets.iter().map(|(k, b)| self.level(k, *b, now)).collect();
        let wait = buckets
            .iter()
            .zip(&levels)
            .filter(|(_, level)| **level < 1.0)
            .map(|((_, b), level)| Duration::from_secs_f64((1.0 - level) / b.per_second.max(0.001)))
            .max();
        if wait.is_some() {
            return Ok(wait);
        }
        for ((key, bucket), level) in buckets.iter().zip(levels) {
            self.store(key, level - 1.0, *bucket, now);
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bucket_allows_its_burst_then_refuses() {
        let limiter = MemoryRateLimiter::new();
        let b = Bucket { burst: 3.0, per_second: 1.0 };
        let key = |k: &str| vec![(k.to_owned(), b)];
        for _ in 0..3 {
            assert_eq!(limiter.take(&key("a")).await.unwrap(), None);
        }
        let wait = limiter.take(&key("a")).await.unwrap().expect("refused");
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1), "{wait:?}");
        assert_eq!(limiter.take(&key("b")).await.unwrap(), None, "buckets are per key");
    }

    #[tokio::test]
    async fn memory_stays_bounded_under_random_keys() {
        let limiter = MemoryRateLimiter::new();
        let b = Bucket { burst: 5.0, per_second: 0.001 };
        for i in 0..(SHARDS * SHARD_CAPACITY + 5_000) {
            limiter.take(&[(format!("k{i}"), b)]).await.unwrap();
        }
        assert!(limiter.len() <= SHARDS * SHARD_CAPACITY, "{}", limiter.len());
    }
}
