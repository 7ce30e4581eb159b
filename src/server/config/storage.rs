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
    /// `REDIS_URL` set. `REDIS_KEY_PREFIX` namespaces every key.
    Redis { url: SecretString, key_prefix: String },
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
    let sessions = match v.get("REDIS_URL") {
        None => SessionBackend::Memory,
        Some(url) => {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(ConfigError::Invalid {
                    var: "REDIS_URL",
                    reason: "expected a redis:// or rediss:// URL".into(),
                });
            }
            SessionBackend::Redis {
                url: SecretString::from(url),
                key_prefix: v.get("REDIS_KEY_PREFIX").unwrap_or_else(|| d.redis_key_prefix.clone()),
            }
        }
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
