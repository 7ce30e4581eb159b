//! Where sessions and image bytes live: Redis or memory, S3 or local disk.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use super::vars::Vars;
use super::ConfigError;

/// Where capture sessions live.
#[derive(Debug, Clone)]
pub enum SessionBackend {
    /// `REDIS_URL` unset: process memory (embedded mode, one instance only).
    Memory,
    /// `REDIS_URL` or `REDIS_SENTINELS` set. `REDIS_KEY_PREFIX` namespaces
    /// every key.
    Redis { target: RedisTarget, key_prefix: String, acks: ReplicaAcks },
}

/// How the instance finds Redis's primary.
#[derive(Debug, Clone)]
pub enum RedisTarget {
    /// `REDIS_URL`: one address. A managed Redis's endpoint follows its
    /// failovers; the instance re-opens its connections on a `READONLY`
    /// answer, which resolves the name again.
    Url {
        url: SecretString,
        /// `REDIS_TLS_CA_FILE`: with `rediss://`, the PEM certificates to
        /// trust instead of the system's (a private CA).
        ca_file: Option<PathBuf>,
    },
    /// `REDIS_SENTINELS` and `REDIS_SENTINEL_SERVICE`: Sentinel names the
    /// primary, and says when it changes.
    Sentinel(SentinelConfig),
}

/// A set of Redis Sentinels watching one primary.
#[derive(Debug, Clone)]
pub struct SentinelConfig {
    /// `REDIS_SENTINELS`: `host:port` of each Sentinel, asked in turn.
    pub sentinels: Vec<String>,
    /// `REDIS_SENTINEL_SERVICE`: the primary's name in Sentinel's config.
    pub service: String,
    /// `REDIS_SENTINEL_PASSWORD`: the Sentinels' own password (`requirepass`).
    pub sentinel_password: Option<SecretString>,
    /// `REDIS_PASSWORD`: the data servers' password.
    pub password: Option<SecretString>,
    /// `REDIS_DB`: the database number. Default 0.
    pub db: u32,
}

/// The writes that must survive a failover (a registered photo, a commit's
/// status, a filing's audit entry) wait until this many replicas hold them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaAcks {
    /// `REDIS_WAIT_REPLICAS`: 0 (the default) waits for none: no replica.
    pub replicas: u32,
    /// `REDIS_WAIT_TIMEOUT_MS`: how long to wait for them. Default 500.
    pub timeout: Duration,
}

/// Where image blobs live.
#[derive(Debug, Clone)]
pub enum BlobBackend {
    /// `S3_BUCKET` unset: a local directory (`BLOB_DIR`).
    LocalDisk { dir: PathBuf },
    /// `S3_BUCKET` set.
    S3(S3Config),
}

/// Any S3-compatible bucket.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// `S3_BUCKET`
    pub bucket: String,
    /// `S3_ENDPOINT`: unset means AWS itself.
    pub endpoint: Option<Url>,
    /// `S3_REGION`
    pub region: String,
    /// `S3_FORCE_PATH_STYLE`: needed by most non-AWS servers.
    pub force_path_style: bool,
    /// `AWS_ACCESS_KEY_ID`
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`
    pub secret_access_key: SecretString,
    /// `S3_KEY_PREFIX`: namespaces every object key.
    pub key_prefix: String,
    /// `S3_CREATE_BUCKET`: create the bucket at start-up if missing (development, tests).
    pub create_bucket: bool,
}

/// How long the commit audit keeps its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditConfig {
    /// `AUDIT_RETENTION_DAYS`: records older than this are dropped.
    pub retention: Duration,
}

#[derive(Deserialize)]
pub(super) struct Defaults {
    blob_dir: String,
    redis_key_prefix: String,
    s3_key_prefix: String,
    audit_retention_days: u64,
}

pub(super) fn read<F: Fn(&str) -> Option<String>>(
    v: &Vars<F>,
    d: &Defaults,
) -> Result<(SessionBackend, BlobBackend, AuditConfig), ConfigError> {
    let sessions = match redis_target(v)? {
        None => SessionBackend::Memory,
        Some(target) => SessionBackend::Redis {
            target,
            key_prefix: v.get("REDIS_KEY_PREFIX").unwrap_or_else(|| d.redis_key_prefix.clone()),
            acks: ReplicaAcks {
                replicas: v.u32_or("REDIS_WAIT_REPLICAS", 0)?,
                timeout: Duration::from_millis(v.u64_or("REDIS_WAIT_TIMEOUT_MS", 500)?.max(1)),
            },
        },
    };
    let blobs = match v.get("S3_BUCKET") {
        None => BlobBackend::LocalDisk {
            dir: PathBuf::from(v.get("BLOB_DIR").unwrap_or_else(|| d.blob_dir.clone())),
        },
        Some(bucket) => BlobBackend::S3(S3Config {
            bucket,
            endpoint: v.url("S3_ENDPOINT")?,
            region: v.get("S3_REGION").unwrap_or_else(|| "ap-southeast-2".into()),
            force_path_style: v.bool_or("S3_FORCE_PATH_STYLE", false)?,
            access_key_id: v.required("AWS_ACCESS_KEY_ID", "S3_BUCKET is set")?,
            secret_access_key: v.required("AWS_SECRET_ACCESS_KEY", "S3_BUCKET is set")?.into(),
            key_prefix: v.get("S3_KEY_PREFIX").unwrap_or_else(|| d.s3_key_prefix.clone()),
            create_bucket: v.bool_or("S3_CREATE_BUCKET", false)?,
        }),
    };
    let days = v.u64_or("AUDIT_RETENTION_DAYS", d.audit_retention_days)?;
    if !(1..=3650).contains(&days) {
        return Err(ConfigError::Invalid {
            var: "AUDIT_RETENTION_DAYS",
            reason: "must be 1 to 3650 days".into(),
        });
    }
    let audit = AuditConfig { retention: Duration::from_secs(days * 86_400) };
    Ok((sessions, blobs, audit))
}

/// `REDIS_URL`, or `REDIS_SENTINELS` with `REDIS_SENTINEL_SERVICE`; never both.
fn redis_target<F: Fn(&str) -> Option<String>>(v: &Vars<F>) -> Result<Option<RedisTarget>, ConfigError> {
    let invalid = |var, reason: &str| ConfigError::Invalid { var, reason: reason.into() };
    match (v.get("REDIS_URL"), v.get("REDIS_SENTINELS")) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(invalid("REDIS_SENTINELS", "set REDIS_URL or REDIS_SENTINELS, not both")),
        (Some(url), None) => {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(invalid("REDIS_URL", "expected a redis:// or rediss:// URL"));
            }
            let ca_file = v.get("REDIS_TLS_CA_FILE").map(PathBuf::from);
            if ca_file.is_some() && !url.starts_with("rediss://") {
                return Err(invalid("REDIS_TLS_CA_FILE", "needs a rediss:// REDIS_URL (TLS)"));
            }
            Ok(Some(RedisTarget::Url { url: SecretString::from(url), ca_file }))
        }
        (None, Some(list)) => {
            let mut sentinels = Vec::new();
            for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let port = entry.rsplit_once(':').and_then(|(host, port)| {
                    (!host.is_empty()).then_some(port.parse::<u16>().ok()).flatten()
                });
                if port.is_none_or(|p| p == 0) {
                    return Err(invalid("REDIS_SENTINELS", "expected host:port,host:port,…"));
                }
                sentinels.push(entry.to_owned());
            }
            if sentinels.is_empty() {
                return Err(invalid("REDIS_SENTINELS", "expected host:port,host:port,…"));
            }
            let db = v.u32_or("REDIS_DB", 0)?;
            Ok(Some(RedisTarget::Sentinel(SentinelConfig {
                sentinels,
                service: v.required("REDIS_SENTINEL_SERVICE", "REDIS_SENTINELS is set")?,
                sentinel_password: v.get("REDIS_SENTINEL_PASSWORD").map(SecretString::from),
                password: v.get("REDIS_PASSWORD").map(SecretString::from),
                db,
            })))
        }
    }
}
