//! Rate limits on token-bearing requests (a phone's `Authorization: Bearer`).
//!
//! A token bucket per credential, kept in this instance's memory: a leaked or
//! misbehaving token cannot flood the API, while a phone sending a burst of
//! photos (three calls each) is never slowed. Limits are per instance, so N
//! instances allow N times the rate; that is a ceiling on abuse, not a quota.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::api_error::status_of;
use super::ids::hash_credential;
use super::mobile::bearer;
use super::state::AppState;
use crate::model::ApiError;

/// Buckets keyed by the credential's hash.
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(burst: u32, per_second: u32) -> Self {
        Self { burst: f64::from(burst), per_second: f64::from(per_second), buckets: Mutex::default() }
    }

    /// Takes one token; `Err(seconds)` says how long until one is free.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 50_000 {
            // Forget buckets that have refilled completely.
            let full = self.burst / self.per_second.max(0.001);
            buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs_f64() < full);
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_second.max(0.001)).ceil() as u64)
        }
    }
}

/// Middleware: limits requests that carry a bearer token.
pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(token) = bearer(req.headers()) {
        if let Err(wait) = state.rate_limiter.check(&hash_credential(token)) {
            let err = ApiError::RateLimited;
            let mut res = (status_of(&err), Json(err)).into_response();
            if let Ok(v) = HeaderValue::from_str(&wait.max(1).to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return res;
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses() {
        let limiter = RateLimiter::new(3, 1);
        assert!((0..3).all(|_| limiter.check("a").is_ok()));
        assert_eq!(limiter.check("a"), Err(1));
        assert!(limiter.check("b").is_ok(), "buckets are per credential");
    }
}
