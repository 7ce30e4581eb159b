//! In-process buckets (embedded mode, or no Redis): sharded maps, each of
//! bounded size, so memory stays bounded and no lock covers every key.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard};
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

    fn shard_index(&self, key: &str) -> usize {
        (self.hasher.hash_one(key) as usize) % SHARDS
    }
}

/// A bucket's level now, read from its shard.
fn level(shard: &Shard, key: &str, bucket: Bucket, now: f64, secs: impl Fn(Instant) -> f64) -> f64 {
    match shard.get(key) {
        Some((tokens, at)) => refill(*tokens, secs(*at), now, bucket),
        None => bucket.burst,
    }
}

/// Stores a bucket's level, keeping the shard within its capacity.
fn store(shard: &mut Shard, key: &str, tokens: f64, bucket: Bucket, now: Instant) {
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

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    /// One atomic step: every shard the request's buckets live in is locked
    /// (in shard order, so two requests never wait on each other in a
    /// cycle) while the levels are read and, if all allow, the tokens taken.
    /// No burst can read the same level twice.
    async fn take(&self, buckets: &[(String, Bucket)]) -> Result<Option<Duration>, StoreError> {
        let mut shards: BTreeMap<usize, MutexGuard<'_, Shard>> = BTreeMap::new();
        let mut indices: Vec<usize> = buckets.iter().map(|(k, _)| self.shard_index(k)).collect();
        indices.sort_unstable();
        indices.dedup();
        for i in indices {
            shards.insert(i, self.shards[i].lock().unwrap_or_else(|p| p.into_inner()));
        }
        let now = Instant::now();
        let at = self.secs(now);
        let levels: Vec<f64> = buckets
            .iter()
            .map(|(k, b)| level(&shards[&self.shard_index(k)], k, *b, at, |t| self.secs(t)))
            .collect();
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
            if let Some(shard) = shards.get_mut(&self.shard_index(key)) {
                store(shard, key, level - 1.0, *bucket, now);
            }
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

    /// Many threads draw on one bucket at once: exactly its burst is
    /// allowed, never more (a read and a later store under separate locks
    /// let two callers take the same token).
    #[test]
    fn a_burst_from_many_threads_takes_exactly_the_bucket() {
        let limiter = std::sync::Arc::new(MemoryRateLimiter::new());
        let b = Bucket { burst: 200.0, per_second: 0.001 };
        let allowed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let (limiter, allowed) = (limiter.clone(), allowed.clone());
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
                    for _ in 0..200 {
                        // Each request draws on the shared bucket and one of its own.
                        let buckets = [("shared".to_owned(), b), (format!("own{t}"), b)];
                        if runtime.block_on(limiter.take(&buckets)).unwrap().is_none() {
                            allowed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(allowed.load(std::sync::atomic::Ordering::Relaxed), 200);
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
