//! Throttling: which rate-limit buckets a request draws on, and the
//! middleware that refuses it when one is empty.
//!
//! - Every `/api/` call and both launch routes count against the client's
//!   address, whatever credential it shows (random bearers included), and
//!   against the credential it shows, if any (a phone's bearer token or the
//!   desktop's session cookie).
//! - A request over either limit gets 429 `{kind: "rateLimited"}` with
//!   `Retry-After`. If Redis cannot answer, the request is let through (and
//!   logged): the limiter must never be what takes the app down.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::model::ApiError;
use crate::server::app_state::AppState;
use crate::server::config::RateLimitConfig;
use crate::server::services::auth::{bearer, named_session, session_cookie};
use crate::server::stores::rate_limit::Bucket;
use crate::server::support::ids::hash_credential;

/// Which routes are limited: the API and the two launches.
fn limited(path: &str) -> bool {
    path.starts_with("/api/")
        || path == "/medtech-images/launch"
        || path == crate::server::http::launch::DESKTOP_PATH
}

/// The client's address as limits count it: the socket peer, or behind a
/// trusted proxy the last `X-Forwarded-For` entry (the one the proxy itself
/// added). See [`address_key`].
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
            return match addr.parse::<IpAddr>() {
                Ok(ip) => address_key(ip),
                Err(_) => addr.to_owned(),
            };
        }
    }
    peer.map(|p| address_key(p.ip())).unwrap_or_else(|| "unknown".into())
}

/// The key an address is limited by. An IPv4 address is one client. An
/// IPv6 client is its /64: one subscriber is given a whole /64 (or more), so
/// keying the full address would give an attacker 2^64 fresh budgets. An
/// IPv4-mapped IPv6 address is its IPv4 address.
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let prefix = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{prefix}/64")
            }
        },
    }
}

/// The buckets one request draws on.
pub fn buckets_for(state: &AppState, headers: &HeaderMap, peer: Option<SocketAddr>) -> Vec<(String, Bucket)> {
    let rl = &state.config.rate_limit;
    let address = Bucket { burst: f64::from(rl.address_burst), per_second: f64::from(rl.address_per_second) };
    let credential = Bucket { burst: f64::from(rl.burst), per_second: f64::from(rl.per_second) };
    let mut out = vec![(format!("addr:{}", client_address(rl, headers, peer)), address)];
    if let Some(token) = bearer(headers) {
        out.push((format!("cred:{}", hash_credential(token)), credential));
    } else if let Some(cookie) = named_session(headers).and_then(|name| session_cookie(state, headers, name))
    {
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
            let mut res = ApiError::RateLimited.into_response();
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

    fn config(trust_forwarded_for: bool) -> RateLimitConfig {
        RateLimitConfig {
            burst: 1,
            per_second: 1,
            address_burst: 1,
            address_per_second: 1,
            trust_forwarded_for,
            verify_concurrency: 1,
            verify_queue: std::time::Duration::from_secs(1),
            streams_per_session: 1,
        }
    }

    #[test]
    fn the_address_behind_a_proxy_is_the_last_forwarded_entry() {
        let mut cfg = config(false);
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 10.0.0.9"));
        let peer = Some("127.0.0.1:5000".parse().unwrap());
        assert_eq!(client_address(&cfg, &h, peer), "127.0.0.1", "not trusted: the socket peer");
        cfg.trust_forwarded_for = true;
        assert_eq!(client_address(&cfg, &h, peer), "10.0.0.9", "a client cannot choose its own address");
    }

    #[test]
    fn an_ipv6_client_is_limited_by_its_64() {
        let key = |s: &str| address_key(s.parse().unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), key("2001:db8:1:2::7"), "one /64, one budget");
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"), "another /64, another budget");
        assert_eq!(key("::ffff:10.1.2.3"), "10.1.2.3", "IPv4-mapped is the IPv4 client");
        assert_eq!(key("10.1.2.3"), "10.1.2.3");
        let cfg = config(true);
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("2001:db8:9:9:1234:5678:9abc:def0"));
        assert_eq!(client_address(&cfg, &h, None), "2001:db8:9:9::/64", "behind a proxy too");
        let peer = Some("[2001:db8:5:5::42]:443".parse().unwrap());
        assert_eq!(client_address(&cfg, &HeaderMap::new(), peer), "2001:db8:5:5::/64");
    }
}
