//! Redis session store: shared by every app instance, expiry by Redis TTLs.

use std::time::Duration;

use crate::server::stores::redis_conn::RedisConn;
use async_trait::async_trait;
use redis::AsyncCommands;

use super::redis_scripts::{COMPARE_AND_SET, JOIN_PHONE, RELEASE_CLAIM, RENEW_CLAIM, RESERVE_IMAGE};
use super::{
    ImageRecord, PhoneJoin, Reserve, ReserveLimits, SessionKey, SessionRecord, SessionStore, TokenRecord,
};
use crate::server::stores::StoreError;

mod audit;
use crate::server::support::clock::unix_now;
use crate::server::support::clock::unix_now_ms;

/// Sessions as JSON strings under `{prefix}session:{key}`, one multiplexed
/// connection per instance (the manager reconnects by itself).
#[derive(Clone)]
pub struct RedisSessionStore {
    conn: RedisConn,
    prefix: String,
}

impl RedisSessionStore {
    /// Connects to one address; fails fast if Redis is unreachable.
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, StoreError> {
        Ok(RedisSessionStore::on(RedisConn::connect_url(url).await?, prefix))
    }

    /// On the instance's shared connection.
    pub fn on(conn: RedisConn, prefix: impl Into<String>) -> Self {
        Self { conn, prefix: prefix.into() }
    }

    fn key(&self, key: &str) -> String {
        format!("{}session:{key}", self.prefix)
    }

    fn token_key(&self, key: &str) -> String {
        format!("{}token:{key}", self.prefix)
    }

    fn phones_key(&self, token_key: &str) -> String {
        format!("{}phones:{token_key}", self.prefix)
    }

    fn current_token_key(&self, session_key: &str) -> String {
        format!("{}current-token:{session_key}", self.prefix)
    }

    fn images_key(&self, session_key: &str) -> String {
        format!("{}images:{session_key}", self.prefix)
    }

    /// `SET key json PX ttl`.
    async fn set_json(
        &self,
        key: &str,
        value: &impl serde::Serialize,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(value).map_err(corrupt)?;
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(key)
            .arg(json)
            .arg("PX")
            .arg(ttl_ms(ttl))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    crate::server::stores::count_error("redis");
    StoreError::Unavailable(e.to_string())
}

/// serde_json's messages can quote the offending value (a patient's name,
/// say); keep only its kind and position.
fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("{:?} at line {} column {}", e.classify(), e.line(), e.column()))
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let pong: String = redis::cmd("PING").query_async(&mut conn).await.map_err(unavailable)?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Unavailable(format!("unexpected PING reply {pong:?}")))
        }
    }

    async fn create(&self, key: &str, record: &SessionRecord, idle: Duration) -> Result<(), StoreError> {
        let Some(ttl) = record.ttl_from(unix_now(), idle) else {
            return Ok(());
        };
        self.set_json(&self.key(key), record, ttl).await
    }

    async fn touch(&self, key: &str, idle: Duration) -> Result<Option<SessionRecord>, StoreError> {
        let mut conn = self.conn.clone();
        let full = self.key(key);
        let json: Option<String> = conn.get(&full).await.map_err(unavailable)?;
        let Some(json) = json else { return Ok(None) };
        let record: SessionRecord = serde_json::from_str(&json).map_err(corrupt)?;
        match record.ttl_from(unix_now(), idle) {
            Some(ttl) => {
                // PEXPIRE on a key that expired in between is a harmless no-op.
                let _: bool = conn.pexpire(&full, ttl_ms(ttl) as i64).await.map_err(unavailable)?;
                Ok(Some(record))
            }
            None => {
                let _: () = conn.del(&full).await.map_err(unavailable)?;
                Ok(None)
            }
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        conn.exists(self.key(key)).await.map_err(unavailable)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let keys = [self.key(key), self.images_key(key), self.current_token_key(key)];
        let _: () = conn.del(&keys[..]).await.map_err(unavailable)?;
        Ok(())
    }

    async fn put_token(&self, key: &str, record: &TokenRecord, ttl: Duration) -> Result<(), StoreError> {
        self.set_json(&self.token_key(key), record, ttl).await
    }

    async fn touch_token(&self, key: &str, ttl: Duration) -> Result<Option<TokenRecord>, StoreError> {
        let mut conn = self.conn.clone();
        // GETEX reads and slides the TTL in one atomic step.
        let json: Option<String> = redis::cmd("GETEX")
            .arg(self.token_key(key))
            .arg("PX")
            .arg(ttl_ms(ttl))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        json.map(|j| serde_json::from_str(&j).map_err(corrupt)).transpose()
    }

    async fn join_phone(
        &self,
        token_key: &str,
        presented: Option<&str>,
        fresh: &str,
        max: usize,
        ttl: Duration,
    ) -> Result<PhoneJoin, StoreError> {
        let (outcome, phones): (i64, usize) = redis::Script::new(JOIN_PHONE)
            .key(self.phones_key(token_key))
            .arg(presented.unwrap_or(""))
            .arg(fresh)
            .arg(max)
            .arg(ttl_ms(ttl))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(match outcome {
            1 => PhoneJoin::Known { phones },
            2 => PhoneJoin::Joined { phones },
            _ => PhoneJoin::Full,
        })
    }

    async fn swap_current_token(
        &self,
        session_key: &str,
        token_key: &str,
        ttl: Duration,
    ) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(self.current_token_key(session_key))
            .arg(token_key)
            .arg("PX")
            .arg(ttl_ms(ttl))
            .arg("GET")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn reserve_image(
        &self,
        session_key: &SessionKey,
        record: &ImageRecord,
        limits: ReserveLimits,
        ttl: Duration,
    ) -> Result<Reserve, StoreError> {
        let json = serde_json::to_string(record).map_err(corrupt)?;
        let mut conn = self.conn.clone();
        let reserved: i64 = redis::Script::new(RESERVE_IMAGE)
            .key(self.images_key(session_key))
            .arg(&record.image_id)
            .arg(limits.max_images)
            .arg(json)
            .arg(ttl_ms(ttl))
            .arg(unix_now_ms())
            .arg(ttl_ms(limits.reservation_ttl))
            .arg(limits.max_pending)
            .arg(record.uploader.as_deref().unwrap_or(""))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(match reserved {
            1 => Reserve::Reserved,
            2 => Reserve::TooManyPending,
            _ => Reserve::LimitReached,
        })
    }

    async fn image(
        &self,
        session_key: &SessionKey,
        image_id: &str,
    ) -> Result<Option<ImageRecord>, StoreError> {
        let mut conn = self.conn.clone();
        let json: Option<String> =
            conn.hget(self.images_key(session_key), image_id).await.map_err(unavailable)?;
        json.map(|j| serde_json::from_str(&j).map_err(corrupt)).transpose()
    }

    async fn images(&self, session_key: &SessionKey) -> Result<Vec<ImageRecord>, StoreError> {
        let mut conn = self.conn.clone();
        let all: Vec<String> = conn.hvals(self.images_key(session_key)).await.map_err(unavailable)?;
        let mut records = all
            .iter()
            .map(|j| serde_json::from_str::<ImageRecord>(j).map_err(corrupt))
            .collect::<Result<Vec<_>, _>>()?;
        super::in_pick_order(&mut records);
        Ok(records)
    }

    async fn replace_image(
        &self,
        session_key: &SessionKey,
        current: &ImageRecord,
        next: &ImageRecord,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let next = ImageRecord { version: current.version + 1, ..next.clone() };
        let swapped: i64 = redis::Script::new(COMPARE_AND_SET)
            .key(self.images_key(session_key))
            .arg(&current.image_id)
            .arg(current.version)
            .arg(serde_json::to_string(&next).map_err(corrupt)?)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(swapped == 1)
    }

    async fn remove_image(&self, session_key: &SessionKey, image_id: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let removed: i64 = conn.hdel(self.images_key(session_key), image_id).await.map_err(unavailable)?;
        Ok(removed == 1)
    }

    async fn replicated(&self) -> Result<(), StoreError> {
        self.conn.replicated().await
    }

    async fn try_claim(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(format!("{}claim:{name}", self.prefix))
            .arg(owner)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms(ttl))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(set.is_some())
    }

    async fn renew_claim(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let renewed: i64 = redis::Script::new(RENEW_CLAIM)
            .key(format!("{}claim:{name}", self.prefix))
            .arg(owner)
            .arg(ttl_ms(ttl))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(renewed == 1)
    }

    async fn release(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: i64 = redis::Script::new(RELEASE_CLAIM)
            .key(format!("{}claim:{name}", self.prefix))
            .arg(owner)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn append_audit(&self, record: &serde_json::Value, retention: Duration) -> Result<(), StoreError> {
        self.add_filing(record, retention).await
    }

    async fn append_refusal(
        &self,
        key: &str,
        record: &serde_json::Value,
        retention: Duration,
    ) -> Result<(), StoreError> {
        self.add_refusal(key, record, retention).await
    }

    async fn recent_audit(&self, count: usize) -> Result<Vec<serde_json::Value>, StoreError> {
        self.latest_filings(count).await
    }

    async fn audit_since(&self, since_ms: u64, limit: usize) -> Result<Vec<serde_json::Value>, StoreError> {
        self.audit_from(since_ms, limit).await
    }
}
