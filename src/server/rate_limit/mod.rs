//! Rate limits: token buckets per client address and per credential (a
//! phone's bearer token or the desktop's session cookie).
//!
//! - Every `/api/` call and both launch routes count against the client's
//!   address, whatever credential it shows (random bearers included), and
//!   against the credential it shows, if any.
//! - With Redis configured, the buckets live in Redis (one script call per
//!   request), so the limits hold across instances; otherwise in this
//!   process, in sharded maps of bounded size.
//! - A request over either limit gets 429 `{kind: "rateLimited"}` with
//!   `Retry-After`. If Redis cannot answer, the request is let through (and
//!   logged): the limiter must never be what takes the app down.

mod memory;
mod redis;

use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

pub use self::memory::MemoryRateLimiter;
pub use self::redis::RedisRateLimiter;
use super::api_error::status_of;
use super::auth::{bearer, cookie_value};
use super::config::RateLimitConfig;
use super::ids::hash_credential;
use super::state::AppState;
use super::stores::StoreError;
use crate::model::ApiError;

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

/// Which routes are limited: the API and the two launches.
fn limited(path: &str) -> bool {
    path.starts_with("/api/") || path == "/medtech-images/launch" || path == super::launch::DESKTOP_PATH
}

/// The client's address: the socket peer, or behind a trusted proxy the
/// last `X-Forwarded-For` entry (the one the proxy itself added).
pub fn client_address(config: &RateLimitConfig, headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    if config.trust_forwarded_for {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|s| !s.is_empty());
        if let Some(addr) = forwarded {
            return addr.to_owned();
        }
    }
    peer.map(|p| p.ip().to_string()).unwrap_or_else(|| "unknown".into())
}

/// The buckets one request draws on.
pub fn buckets_for(state: &AppState, headers: &HeaderMap, peer: Option<SocketAddr>) -> Vec<(String, Bucket)> {
    let rl = &state.config.rate_limit;
    let address = Bucket { burst: f64::from(rl.address_burst), per_second: f64::from(rl.address_per_second) };
    let credential = Bucket { burst: f64::from(rl.burst), per_second: f64::from(rl.per_second) };
    let mut out = vec![(format!("addr:{}", client_address(rl, headers, peer)), address)];
    if let Some(token) = bearer(headers) {
        out.push((format!("cred:{}", hash_credential(token)), credential));
    } else if let Some(cookie) = cookie_value(headers, state.config.cookie_name()) {
        out.push((format!("sess:{}", hash_credential(cookie)), credential));
    }
    out
}

/// Middleware: limits the API and launch routes.
pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !limited(req.uri().path()) {
        return next.run(req).await;
    }
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let buckets = buckets_for(&state, req.headers(), peer);
    match state.rate_limiter.take(&buckets).await {
        Ok(None) => next.run(req).await,
        Ok(Some(wait)) => {
            let err = ApiError::RateLimited;
            let mut res = (status_of(&err), Json(err)).into_response();
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
        Err(e) => {
            tracing::warn!(error = %e, "rate limiter unavailable; request allowed");
            next.run(req).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_behind_a_proxy_is_the_last_forwarded_entry() {
        let mut cfg = RateLimitConfig {
            burst: 1,
            per_second: 1,
            address_burst: 1,
            address_per_second: 1,
            trust_forwarded_for: false,
        };
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 10.0.0.9"));
        let peer = Some("127.0.0.1:5000".parse().unwrap());
        assert_eq!(client_address(&cfg, &h, peer), "127.0.0.1", "not trusted: the socket peer");
        cfg.trust_forwarded_for = true;
        assert_eq!(client_address(&cfg, &h, peer), "10.0.0.9", "a client cannot choose its own address");
    }

    #[test]
    fn buckets_refill_at_their_rate_up_to_their_burst() {
        let b = Bucket { burst: 3.0, per_second: 2.0 };
        assert_eq!(refill(0.0, 10.0, 10.5, b), 1.0);
        assert_eq!(refill(0.0, 10.0, 100.0, b), 3.0);
        assert_eq!(refill(1.0, 10.0, 9.0, b), 1.0, "a clock step back adds nothing");
    }
}
