//! In-process session store for embedded mode (one instance only).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{unix_now, SessionRecord, SessionStore, TokenRecord};
use crate::server::stores::StoreError;

type Deadlined<T> = HashMap<String, (T, Instant)>;

/// Sessions and tokens in maps, each entry with its idle deadline.
#[derive(Default)]
pub struct MemorySessionStore {
    entries: Mutex<Deadlined<SessionRecord>>,
    tokens: Mutex<Deadlined<TokenRecord>>,
}

/// Locks a map. A poisoned lock only means another request panicked
/// mid-update of a plain map; its data is still consistent enough to serve.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl MemorySessionStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn create(
        &self,
        key: &str,
        record: &SessionRecord,
        idle: Duration,
    ) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut map = lock(&self.entries);
        // Creation is rare, so it is a cheap place to drop expired sessions.
        map.retain(|_, (_, deadline)| *deadline > now);
        if let Some(ttl) = record.ttl_from(unix_now(), idle) {
            map.insert(key.to_owned(), (record.clone(), now + ttl));
        }
        Ok(())
    }

    async fn touch(&self, key: &str, idle: Duration) -> Result<Option<SessionRecord>, StoreError> {
        let now = Instant::now();
        let mut map = lock(&self.entries);
        let Some((record, deadline)) = map.get_mut(key) else {
            return Ok(None);
        };
        match record.ttl_from(unix_now(), idle) {
            Some(ttl) if *deadline > now => {
                *deadline = now + ttl;
                Ok(Some(record.clone()))
            }
            _ => {
                map.remove(key);
                Ok(None)
            }
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        lock(&self.entries).remove(key);
        Ok(())
    }

    async fn put_token(
        &self,
        key: &str,
        record: &TokenRecord,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut map = lock(&self.tokens);
        map.retain(|_, (_, deadline)| *deadline > now);
        map.insert(key.to_owned(), (record.clone(), now + ttl));
        Ok(())
    }

    async fn touch_token(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let now = Instant::now();
        let mut map = lock(&self.tokens);
        match map.get_mut(key) {
            Some((record, deadline)) if *deadline > now => {
                *deadline = now + ttl;
                Ok(Some(record.clone()))
            }
            Some(_) => {
                map.remove(key);
                Ok(None)
            }
            None => Ok(None),
        }
    }
}
