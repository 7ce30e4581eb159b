//! Finding and opening the primary: the configured URL, or the address
//! Sentinel names; in both cases only a server that says it is a primary.

use std::path::Path;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncConnectionConfig, IntoConnectionInfo, RedisError};
use secrecy::ExposeSecret;

use super::sentinel;
use crate::server::config::RedisTarget;

/// A connection attempt that takes longer than this counts as a failure.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A request Redis does not answer in this long fails (503), never hangs.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The manager's own policy: reconnect with short backoff.
fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_number_of_retries(3)
        .set_max_delay(Duration::from_secs(1))
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
}

/// For one-off connections: probes, Sentinel queries.
pub(super) fn probe_config() -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(CONNECT_TIMEOUT))
}

/// The primary's client, and a managed connection to it.
pub(super) async fn open(target: &RedisTarget) -> Result<(redis::Client, ConnectionManager), RedisError> {
    let client = match target {
        RedisTarget::Url { url, ca_file } => client_for(url.expose_secret(), ca_file.as_deref())?,
        RedisTarget::Sentinel(s) => {
            let (host, port) = sentinel::primary_address(s).await?;
            redis::Client::open(sentinel::data_info(s, host, port)?)?
        }
    };
    // A single quick attempt first: the manager's own first connection
    // would retry with backoff, where a failover wants a fast answer.
    let mut probe = client.get_multiplexed_async_connection_with_config(&probe_config()).await?;
    ensure_primary(&mut probe).await?;
    let manager = ConnectionManager::new_with_config(client.clone(), manager_config()).await?;
    Ok((client, manager))
}

/// The client for a URL: `rediss://` is TLS, its certificate checked against
/// the system's CA store, or against `ca_file` alone.
fn client_for(url: &str, ca_file: Option<&Path>) -> Result<redis::Client, RedisError> {
    let info = url.into_connection_info()?;
    if !url.starts_with("rediss://") {
        return redis::Client::open(info);
    }
    // The process may hold two TLS back ends (aws-lc-rs, ring); the
    // connection asks for the default, so one is named. Once per process.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let Some(path) = ca_file else { return redis::Client::open(info) };
    let pem = std::fs::read(path).map_err(|e| {
        RedisError::from((
            redis::ErrorKind::InvalidClientConfig,
            "REDIS_TLS_CA_FILE cannot be read",
            e.to_string(),
        ))
    })?;
    redis::Client::build_with_tls(info, redis::TlsCertificates { client_tls: None, root_cert: Some(pem) })
}

/// Refuses a server that says it is a replica: a name not yet moved to the
/// new primary, or a Sentinel answer given mid-failover. A server that
/// does not allow `ROLE` (some managed services) is taken at its word.
async fn ensure_primary(conn: &mut redis::aio::MultiplexedConnection) -> Result<(), RedisError> {
    let role: Result<Vec<redis::Value>, RedisError> = redis::cmd("ROLE").query_async(conn).await;
    match role.as_deref() {
        Ok([redis::Value::BulkString(kind), ..]) if kind.as_slice() != b"master" => Err(RedisError::from((
            redis::ErrorKind::Io,
            "the server is not a primary",
            String::from_utf8_lossy(kind).into_owned(),
        ))),
        Err(e) if e.is_io_error() || e.is_timeout() => Err(e.clone()),
        _ => Ok(()),
    }
}
