//! Redis Sentinel: which server is the primary, and when that changes.

use std::sync::Weak;
use std::time::Duration;

use futures::StreamExt;
use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo, RedisError};
use secrecy::ExposeSecret;

use super::primary::probe_config;
use super::Shared;
use crate::server::config::SentinelConfig;

/// `host:port` (an IPv6 host in brackets) as a connection address.
fn tcp(entry: &str) -> Result<ConnectionAddr, RedisError> {
    let bad = || RedisError::from((redis::ErrorKind::InvalidClientConfig, "not host:port", entry.to_owned()));
    let (host, port) = entry.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok(ConnectionAddr::Tcp(host.to_owned(), port.parse().map_err(|_| bad())?))
}

fn with_auth(addr: ConnectionAddr, password: Option<&str>, db: i64) -> Result<ConnectionInfo, RedisError> {
    let mut settings = RedisConnectionInfo::default().set_db(db);
    if let Some(password) = password {
        settings = settings.set_password(password);
    }
    Ok(addr.into_connection_info()?.set_redis_settings(settings))
}

/// The data server Sentinel named, with the data servers' password and db.
pub(super) fn data_info(s: &SentinelConfig, host: String, port: u16) -> Result<ConnectionInfo, RedisError> {
    let password = s.password.as_ref().map(|p| p.expose_secret().to_owned());
    with_auth(ConnectionAddr::Tcp(host, port), password.as_deref(), i64::from(s.db))
}

fn sentinel_client(s: &SentinelConfig, entry: &str) -> Result<redis::Client, RedisError> {
    let password = s.sentinel_password.as_ref().map(|p| p.expose_secret().to_owned());
    redis::Client::open(with_auth(tcp(entry)?, password.as_deref(), 0)?)
}

/// Asks the Sentinels in turn for the primary's address; the first answer wins.
pub(super) async fn primary_address(s: &SentinelConfig) -> Result<(String, u16), RedisError> {
    let mut last = None;
    for entry in &s.sentinels {
        let asked = async {
            let client = sentinel_client(s, entry)?;
            let mut conn = client.get_multiplexed_async_connection_with_config(&probe_config()).await?;
            let named: Option<(String, u16)> = redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg(&s.service)
                .query_async(&mut conn)
                .await?;
            named.ok_or_else(|| {
                RedisError::from((
                    redis::ErrorKind::InvalidClientConfig,
                    "Sentinel does not know the service",
                ))
            })
        };
        match asked.await {
            Ok(address) => return Ok(address),
            Err(e) => {
                tracing::warn!(sentinel = %entry, error = %e, "a Sentinel could not name the primary");
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| RedisError::from((redis::ErrorKind::InvalidClientConfig, "no Sentinel"))))
}

/// Listens for Sentinel's `+switch-master` on one Sentinel at a time (the
/// next when it goes away), and re-opens the connection on the new primary
/// as soon as it is announced. Ends when the connection is dropped.
pub(super) async fn follow_switches(shared: Weak<Shared>, s: SentinelConfig) {
    for entry in s.sentinels.iter().cycle() {
        if shared.strong_count() == 0 {
            return;
        }
        let subscribed = async {
            let mut pubsub = sentinel_client(&s, entry)?.get_async_pubsub().await?;
            pubsub.subscribe("+switch-master").await?;
            Ok::<_, RedisError>(pubsub)
        };
        let pubsub = match subscribed.await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(sentinel = %entry, error = %e, "cannot follow a Sentinel's announcements");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut messages = pubsub.into_on_message();
        loop {
            let message = tokio::select! {
                m = messages.next() => m,
                // Look now and then whether the connection is still wanted.
                () = tokio::time::sleep(Duration::from_secs(5)) => {
                    if shared.strong_count() == 0 { return; }
                    continue;
                }
            };
            let Some(message) = message else { break };
            // "<service> <old ip> <old port> <new ip> <new port>"
            let payload: String = message.get_payload().unwrap_or_default();
            if payload.split(' ').next() != Some(s.service.as_str()) {
                continue;
            }
            let Some(strong) = shared.upgrade() else { return };
            tracing::warn!("Sentinel announced a new Redis primary; re-opening on it");
            // The new primary may take a moment to accept connections.
            for _ in 0..20 {
                let seen = *strong.generation.borrow();
                if super::reopen(&strong, seen, "switch-master").await.is_ok() {
                    break;
                }
                tokio::time::sleep(super::REOPEN_BACKOFF).await;
            }
        }
        tracing::warn!(sentinel = %entry, "a Sentinel's announcements ended; following the next");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_entries_are_host_and_port() {
        assert_eq!(tcp("10.0.0.1:26379").unwrap(), ConnectionAddr::Tcp("10.0.0.1".into(), 26379));
        assert_eq!(tcp("[::1]:26380").unwrap(), ConnectionAddr::Tcp("::1".into(), 26380));
        assert!(tcp("sentinel").is_err());
        assert!(tcp("sentinel:port").is_err());
    }
}
