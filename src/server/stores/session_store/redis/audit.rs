//! The Redis store's audit: filings in a sorted set scored by time, and
//! refusal aggregates in a hash with a time index, each bounded and aged
//! out by its Lua script.

use std::time::Duration;

use redis::AsyncCommands;

use super::{corrupt, ttl_ms, unavailable, RedisSessionStore};
use crate::server::stores::session_store::merge_audit;
use crate::server::stores::session_store::redis_scripts::{APPEND_AUDIT, APPEND_REFUSAL};
use crate::server::stores::session_store::{MAX_AUDIT_FILINGS, MAX_AUDIT_REFUSALS};
use crate::server::stores::StoreError;
use crate::server::support::clock::unix_now_ms;

/// A filing's JSON from its member: after the 16-digit count, or the whole
/// member as written before filings were counted.
fn filing_json(member: &str) -> &str {
    if member.starts_with('{') {
        member
    } else {
        member.get(16..).unwrap_or(member)
    }
}

impl RedisSessionStore {
    /// Filings: a sorted set scored by time (the older list-shaped `audit`
    /// key is left alone).
    fn audit_key(&self) -> String {
        format!("{}audit-log", self.prefix)
    }

    /// Refusal aggregates: a hash by key, and a sorted set of its keys
    /// scored by each one's latest attempt.
    fn refusal_keys(&self) -> (String, String) {
        (format!("{}audit-refusals", self.prefix), format!("{}audit-refusals-by-time", self.prefix))
    }

    /// A sorted set's members at or after `since_ms` with their scores, oldest first.
    async fn since(
        &self,
        key: String,
        since_ms: u64,
        limit: usize,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("ZRANGE")
            .arg(key)
            .arg(since_ms)
            .arg("+inf")
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    pub(super) async fn add_filing(
        &self,
        record: &serde_json::Value,
        retention: Duration,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let now = unix_now_ms();
        let _: i64 = redis::Script::new(APPEND_AUDIT)
            .key(self.audit_key())
            .key(format!("{}audit-log-count", self.prefix))
            .arg(now)
            .arg(now.saturating_sub(ttl_ms(retention)))
            .arg(record.to_string())
            .arg(MAX_AUDIT_FILINGS)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    pub(super) async fn add_refusal(
        &self,
        key: &str,
        record: &serde_json::Value,
        retention: Duration,
    ) -> Result<(), StoreError> {
        let (hash, index) = self.refusal_keys();
        let now = unix_now_ms();
        let _: i64 = redis::Script::new(APPEND_REFUSAL)
            .key(hash)
            .key(index)
            .arg(now)
            .arg(now.saturating_sub(ttl_ms(retention)))
            .arg(key)
            .arg(record.to_string())
            .arg(MAX_AUDIT_REFUSALS)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    pub(super) async fn latest_filings(&self, count: usize) -> Result<Vec<serde_json::Value>, StoreError> {
        let mut conn = self.conn.clone();
        let start = -(isize::try_from(count).unwrap_or(isize::MAX));
        let raw: Vec<String> = conn.zrange(self.audit_key(), start, -1).await.map_err(unavailable)?;
        raw.iter().map(|member| serde_json::from_str(filing_json(member)).map_err(corrupt)).collect()
    }

    pub(super) async fn audit_from(
        &self,
        since_ms: u64,
        limit: usize,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let filings = self
            .since(self.audit_key(), since_ms, limit)
            .await?
            .into_iter()
            .map(|(member, ms)| Ok((ms, serde_json::from_str(filing_json(&member)).map_err(corrupt)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let (hash, index) = self.refusal_keys();
        let keys = self.since(index, since_ms, limit).await?;
        let mut refusals = Vec::new();
        if !keys.is_empty() {
            let mut conn = self.conn.clone();
            let fields: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
            let values: Vec<Option<String>> = redis::cmd("HMGET")
                .arg(hash)
                .arg(&fields)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            for ((_, ms), json) in keys.iter().zip(values) {
                // A key whose record was dropped meanwhile is skipped.
                if let Some(json) = json {
                    refusals.push((*ms, serde_json::from_str(&json).map_err(corrupt)?));
                }
            }
        }
        Ok(merge_audit(filings, refusals, limit))
    }
}
