//! The commit audit as the practice reads it: a desktop session's own
//! filings, and for IT, `clinical-images audit [--since T] [--patient ID]
//! [--limit N]` on the host, reading Redis. Records name patients only by the
//! SHA-256 of their id, so `--patient` hashes the id it is given.

use std::process::ExitCode;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{ApiError, AuditEntry, CommitOutcome};
use crate::server::app_state::AppState;
use crate::server::config::{Config, SessionBackend};
use crate::server::services::auth::DesktopAccess;
use crate::server::stores::redis_conn::RedisConn;
use crate::server::stores::session_store::{RedisSessionStore, SessionStore};
use crate::server::support::clock::parse_rfc3339;
use crate::server::support::ids::{hash_credential, log_id};

/// Most records one read returns.
const MAX_RECORDS: usize = 10_000;

/// One audit record as stored: a filing, or one photo's refusals
/// aggregated (the store counts `attempts` up and keeps the first's
/// `firstAt`). Patients appear only as the SHA-256 of their id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// RFC 3339: the (latest) attempt.
    pub at: String,
    /// The session's log id (a hash prefix), never its key.
    pub session: String,
    pub patient_id_hash: String,
    pub facility_id: String,
    pub image_id: String,
    pub correlation_id: String,
    pub outcome: CommitOutcome,
    #[serde(default)]
    pub resource_id: Option<String>,
    /// What went wrong, for IT (never shown to a GP).
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default = "one")]
    pub attempts: u32,
    #[serde(default)]
    pub first_at: Option<String>,
    /// The consent recorded with the photo, in the record's words.
    #[serde(default)]
    pub consent: Option<String>,
}

fn one() -> u32 {
    1
}

impl AuditRecord {
    /// A stored record, if it is one (a foreign or damaged value is not).
    pub fn read(value: &Value) -> Option<AuditRecord> {
        AuditRecord::deserialize(value).ok()
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    fn entry(self) -> AuditEntry {
        AuditEntry {
            at: self.at,
            image_id: self.image_id,
            outcome: self.outcome.as_str().to_owned(),
            resource_id: self.resource_id,
            correlation_id: self.correlation_id,
            attempts: self.attempts,
        }
    }
}

/// Every filing attempt of the desktop's session, oldest first.
pub async fn session_entries(state: &AppState, access: &DesktopAccess) -> Result<Vec<AuditEntry>, ApiError> {
    let since_ms = access.session.created_at.saturating_mul(1000);
    let session = log_id(&access.session_key);
    let records = state.sessions.audit_since(since_ms, MAX_RECORDS).await?;
    Ok(records
        .iter()
        .filter_map(AuditRecord::read)
        .filter(|r| r.session == session)
        .map(AuditRecord::entry)
        .collect())
}

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
pub struct Query {
    pub since_ms: u64,
    pub patient_hash: Option<String>,
    pub limit: usize,
}

/// Parses `--since RFC3339`, `--patient ID` and `--limit N` (default: the last 24 hours, 1000 records).
pub fn parse_args(args: &[String], now_ms: u64) -> Result<Query, String> {
    let mut q = Query { since_ms: now_ms.saturating_sub(86_400_000), patient_hash: None, limit: 1000 };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--since" => {
                q.since_ms = parse_rfc3339(value).ok_or_else(|| {
                    format!("--since: {value:?} is not an RFC 3339 time (2026-12-01T00:00:00Z)")
                })? * 1000
            }
            "--patient" => q.patient_hash = Some(hash_credential(value)),
            "--limit" => {
                q.limit = value.parse().map_err(|_| format!("--limit: {value:?} is not a number"))?;
            }
            other => return Err(format!("unknown option {other}; use --since, --patient, --limit")),
        }
    }
    Ok(q)
}

/// `clinical-images audit …`: prints the matching records, one JSON object a line.
pub async fn cli(args: &[String]) -> ExitCode {
    let query = match parse_args(args, crate::server::support::clock::unix_now_ms()) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("audit: {e}");
            return ExitCode::from(2);
        }
    };
    let config = match Config::from_env("127.0.0.1:0".parse().expect("a socket address")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let SessionBackend::Redis { target, key_prefix, acks } = &config.sessions else {
        eprintln!(
            "audit: neither REDIS_URL nor REDIS_SENTINELS is set; an embedded instance keeps its audit in memory only"
        );
        return ExitCode::from(2);
    };
    let store = match RedisConn::connect(target, *acks).await {
        Ok(conn) => RedisSessionStore::on(conn, key_prefix.clone()),
        Err(e) => {
            eprintln!("audit: Redis: {e}");
            return ExitCode::FAILURE;
        }
    };
    let records = match store.audit_since(query.since_ms, MAX_RECORDS).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("audit: {e}");
            return ExitCode::FAILURE;
        }
    };
    let matching = records
        .iter()
        .filter(|r| {
            let patient = AuditRecord::read(r).map(|r| r.patient_id_hash);
            query.patient_hash.as_ref().is_none_or(|h| patient.as_deref() == Some(h.as_str()))
        })
        .take(query.limit);
    for record in matching {
        println!("{record}");
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_written_before_refusals_were_aggregated_still_read() {
        let old = serde_json::json!({
            "at": "2026-12-01T00:00:00Z", "session": "s", "patientIdHash": "h", "facilityId": "F",
            "imageId": "i", "correlationId": "c", "outcome": "committed", "resourceId": "r", "error": null,
        });
        let record = AuditRecord::read(&old).expect("an older record");
        assert_eq!((record.attempts, record.first_at.as_deref(), record.consent.as_deref()), (1, None, None));
        assert_eq!(record.outcome, CommitOutcome::Committed);
        assert_eq!(AuditRecord::read(&record.to_json()), Some(record), "round-trips");
        assert!(AuditRecord::read(&serde_json::json!({"outcome": "maybe"})).is_none(), "not a record");
    }

    #[test]
    fn arguments_are_read_strictly() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let q = parse_args(&args(&["--since", "2026-12-01T00:00:00Z", "--patient", "p1", "--limit", "5"]), 0)
            .unwrap();
        assert_eq!(q.since_ms, 1_796_083_200_000);
        assert_eq!(q.patient_hash, Some(hash_credential("p1")));
        assert_eq!(q.limit, 5);
        assert_eq!(parse_args(&[], 90_000_000).unwrap().since_ms, 3_600_000, "the last 24 hours");
        assert!(parse_args(&args(&["--since", "yesterday"]), 0).is_err());
        assert!(parse_args(&args(&["--patient"]), 0).is_err());
        assert!(parse_args(&args(&["--verbose", "x"]), 0).is_err());
    }
}
