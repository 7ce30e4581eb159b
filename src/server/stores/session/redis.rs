//! Redis session store: shared by every app instance, expiry by Redis TTLs.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use super::{unix_now, SessionRecord, SessionStore, TokenRecord};
use crate::server::stores::StoreError;

/// Sessions as JSON strings under `{prefix}session:{key}`, one multiplexed
/// connection per instance (the manager reconnects by itself).
#[derive(Clone)]
pub struct RedisSessionStore {
    conn: ConnectionManager,
    prefix: String,
}

impl RedisSessionStore {
    /// Connects once; fails fast if Redis is unreachable at start-up.
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let conn = ConnectionManager::new(client).await.map_err(unavailable)?;
        Ok(Self {
            conn,
            prefix: prefix.into(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}session:{key}", self.prefix)
    }

    fn token_key(&self, key: &str) -> String {
        format!("{}token:{key}", self.prefix)
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
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
        let pong: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Unavailable(format!(
                "unexpected PING reply {pong:?}"
            )))
        }
    }

    async fn create(
        &self,
        key: &str,
        record: &SessionRecord,
        idle: Duration,
    ) -> Result<(), StoreError> {
        let Some(ttl) = record.ttl_from(unix_now(), idle) else {
            return Ok(());
        };
        let json = serde_json::to_string(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut conn = self.conn.clone();
        let _: () = redis::cmd("SET")
            .arg(self.key(key))
            .arg(json)
            .arg("PX")
            .arg(ttl_ms(ttl))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn touch(&self, key: &str, idle: Duration) -> Result<Option<SessionRecord>, StoreError> {
        let mut conn = self.conn.clone();
        let full = self.key(key);
        let json: Option<String> = conn.get(&full).await.map_err(unavailable)?;
        let Some(json) = json else { return Ok(None) };
        let record: SessionRecord =
            serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        match record.ttl_from(unix_now(), idle) {
            Some(ttl) => {
                // PEXPIRE on a key that expired in between is a harmless no-op.
                let _: bool = conn
                    .pexpire(&full, ttl_ms(ttl) as i64)
                    .await
                    .map_err(unavailable)?;
                Ok(Some(record))
            }
            None => {
                let _: () = conn.del(&full).await.map_err(unavailable)?;
                Ok(None)
            }
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: () = conn.del(self.key(key)).await.map_err(unavailable)?;
        Ok(())
    }

    async fn put_token(
        &self,
        key: &str,
        record: &TokenRecord,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut conn = self.conn.clone();
        let _: () = redis::cmd("SET")
            .arg(self.token_key(key))
            .arg(json)
            .arg("PX")
            .arg(ttl_ms(ttl))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn touch_token(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let mut conn = self.conn.clone();
        // GETEX reads and slides the TTL in one atomic step.
        let json: Option<String> = redis::cmd("GETEX")
            .arg(self.token_key(key))
            .arg("PX")
            .arg(ttl_ms(ttl))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }
}
