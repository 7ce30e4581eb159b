//! In-process session store for embedded mode (one instance only).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{
    merge_audit, ImageRecord, PhoneJoin, Reserve, ReserveLimits, SessionKey, SessionRecord, SessionStore,
    TokenRecord, MAX_AUDIT_FILINGS, MAX_AUDIT_REFUSALS,
};
use crate::server::stores::StoreError;
use crate::server::support::clock::unix_now;
use crate::server::support::clock::unix_now_ms;

type Deadlined<T> = HashMap<String, (T, Instant)>;

/// Sessions and tokens in maps, each entry with its idle deadline.
#[derive(Default)]
pub struct MemorySessionStore {
    entries: Mutex<Deadlined<SessionRecord>>,
    tokens: Mutex<Deadlined<TokenRecord>>,
    current_tokens: Mutex<HashMap<String, String>>,
    /// Images per session key, in reservation order. Dropped with their session.
    images: Mutex<HashMap<String, Vec<ImageRecord>>>,
    claims: Mutex<HashMap<String, (String, Instant)>>,
    /// Filings' audit records with the Unix milliseconds they were appended at.
    audit: Mutex<std::collections::VecDeque<(u64, serde_json::Value)>>,
    /// Refusal aggregates by key, with their latest attempt's Unix ms.
    refusals: Mutex<HashMap<String, (u64, serde_json::Value)>>,
    /// Phones per token key, with the set's deadline.
    phones: Mutex<HashMap<String, (std::collections::HashSet<String>, Instant)>>,
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

    async fn create(&self, key: &str, record: &SessionRecord, idle: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut map = lock(&self.entries);
        // Creation is rare, so it is a cheap place to drop expired sessions
        // and everything that hangs off them.
        map.retain(|_, (_, deadline)| *deadline > now);
        lock(&self.images).retain(|k, _| map.contains_key(k));
        lock(&self.current_tokens).retain(|k, _| map.contains_key(k));
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

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let now = Instant::now();
        Ok(lock(&self.entries)
            .get(key)
            .is_some_and(|(record, deadline)| *deadline > now && record.hard_expires_at > unix_now()))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        lock(&self.entries).remove(key);
        lock(&self.images).remove(key);
        lock(&self.current_tokens).remove(key);
        Ok(())
    }

    async fn put_token(&self, key: &str, record: &TokenRecord, ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut map = lock(&self.tokens);
        map.retain(|_, (_, deadline)| *deadline > now);
        map.insert(key.to_owned(), (record.clone(), now + ttl));
        Ok(())
    }

    async fn touch_token(&self, key: &str, ttl: Duration) -> Result<Option<TokenRecord>, StoreError> {
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

    async fn join_phone(
        &self,
        token_key: &str,
        presented: Option<&str>,
        fresh: &str,
        max: usize,
        ttl: Duration,
    ) -> Result<PhoneJoin, StoreError> {
        let now = Instant::now();
        let mut map = lock(&self.phones);
        map.retain(|_, (_, deadline)| *deadline > now);
        let (set, deadline) =
            map.entry(token_key.to_owned()).or_insert_with(|| (Default::default(), now + ttl));
        if presented.is_some_and(|id| set.contains(id)) {
            *deadline = now + ttl;
            return Ok(PhoneJoin::Known { phones: set.len() });
        }
        if set.len() >= max {
            return Ok(PhoneJoin::Full);
        }
        *deadline = now + ttl;
        set.insert(fresh.to_owned());
        Ok(PhoneJoin::Joined { phones: set.len() })
    }

    async fn swap_current_token(
        &self,
        session_key: &str,
        token_key: &str,
        _ttl: Duration,
    ) -> Result<Option<String>, StoreError> {
        Ok(lock(&self.current_tokens).insert(session_key.to_owned(), token_key.to_owned()))
    }

    async fn reserve_image(
        &self,
        session_key: &SessionKey,
        record: &ImageRecord,
        limits: ReserveLimits,
        _ttl: Duration,
    ) -> Result<Reserve, StoreError> {
        let now_ms = unix_now_ms();
        let mut images = lock(&self.images);
        let list = images.entry(session_key.to_string()).or_default();
        list.retain(|r| !r.reservation_expired(now_ms, limits.reservation_ttl));
        if list.len() >= limits.max_images {
            return Ok(Reserve::LimitReached);
        }
        if let Some(uploader) = &record.uploader {
            let pending = list
                .iter()
                .filter(|r| r.uploaded_at.is_none() && r.uploader.as_ref() == Some(uploader))
                .count();
            if pending >= limits.max_pending {
                return Ok(Reserve::TooManyPending);
            }
        }
        list.retain(|r| r.image_id != record.image_id);
        list.push(record.clone());
        Ok(Reserve::Reserved)
    }

    async fn image(
        &self,
        session_key: &SessionKey,
        image_id: &str,
    ) -> Result<Option<ImageRecord>, StoreError> {
        Ok(lock(&self.images)
            .get(session_key.as_str())
            .and_then(|list| list.iter().find(|r| r.image_id == image_id).cloned()))
    }

    async fn images(&self, session_key: &SessionKey) -> Result<Vec<ImageRecord>, StoreError> {
        let mut records = lock(&self.images).get(session_key.as_str()).cloned().unwrap_or_default();
        super::in_pick_order(&mut records);
        Ok(records)
    }

    async fn replace_image(
        &self,
        session_key: &SessionKey,
        current: &ImageRecord,
        next: &ImageRecord,
    ) -> Result<bool, StoreError> {
        let mut images = lock(&self.images);
        let slot = images
            .get_mut(session_key.as_str())
            .and_then(|list| list.iter_mut().find(|r| r.image_id == current.image_id));
        match slot {
            Some(stored) if stored.version == current.version => {
                *stored = ImageRecord { version: current.version + 1, ..next.clone() };
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn remove_image(&self, session_key: &SessionKey, image_id: &str) -> Result<bool, StoreError> {
        let mut images = lock(&self.images);
        let Some(list) = images.get_mut(session_key.as_str()) else { return Ok(false) };
        let before = list.len();
        list.retain(|r| r.image_id != image_id);
        Ok(list.len() < before)
    }

    async fn try_claim(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut claims = lock(&self.claims);
        claims.retain(|_, (_, until)| *until > now);
        if claims.contains_key(name) {
            return Ok(false);
        }
        claims.insert(name.to_owned(), (owner.to_owned(), now + ttl));
        Ok(true)
    }

    async fn renew_claim(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut claims = lock(&self.claims);
        match claims.get_mut(name) {
            Some((holder, until)) if holder == owner && *until > now => {
                *until = now + ttl;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        let mut claims = lock(&self.claims);
        if claims.get(name).is_some_and(|(holder, _)| holder == owner) {
            claims.remove(name);
        }
        Ok(())
    }

    async fn append_audit(&self, record: &serde_json::Value, retention: Duration) -> Result<(), StoreError> {
        let now = unix_now_ms();
        let cutoff = now.saturating_sub(u64::try_from(retention.as_millis()).unwrap_or(u64::MAX));
        let mut audit = lock(&self.audit);
        while audit.front().is_some_and(|(at, _)| *at < cutoff) {
            audit.pop_front();
        }
        audit.push_back((now, record.clone()));
        if audit.len() > MAX_AUDIT_FILINGS {
            audit.pop_front();
        }
        Ok(())
    }

    async fn append_refusal(
        &self,
        key: &str,
        record: &serde_json::Value,
        retention: Duration,
    ) -> Result<(), StoreError> {
        let now = unix_now_ms();
        let cutoff = now.saturating_sub(u64::try_from(retention.as_millis()).unwrap_or(u64::MAX));
        let mut refusals = lock(&self.refusals);
        refusals.retain(|_, (at, _)| *at >= cutoff);
        let mut next = record.clone();
        if let Some((_, earlier)) = refusals.get(key) {
            next["attempts"] = (earlier["attempts"].as_u64().unwrap_or(1) + 1).into();
            if !earlier["firstAt"].is_null() {
                next["firstAt"] = earlier["firstAt"].clone();
            }
        }
        refusals.insert(key.to_owned(), (now, next));
        if refusals.len() > MAX_AUDIT_REFUSALS {
            if let Some(oldest) = refusals.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone()) {
                refusals.remove(&oldest);
            }
        }
        Ok(())
    }

    async fn recent_audit(&self, count: usize) -> Result<Vec<serde_json::Value>, StoreError> {
        let audit = lock(&self.audit);
        Ok(audit.iter().skip(audit.len().saturating_sub(count)).map(|(_, v)| v.clone()).collect())
    }

    async fn audit_since(&self, since_ms: u64, limit: usize) -> Result<Vec<serde_json::Value>, StoreError> {
        let filings: Vec<_> =
            lock(&self.audit).iter().filter(|(at, _)| *at >= since_ms).take(limit).cloned().collect();
        let mut refusals: Vec<_> =
            lock(&self.refusals).values().filter(|(at, _)| *at >= since_ms).cloned().collect();
        refusals.sort_by_key(|(at, _)| *at);
        Ok(merge_audit(filings, refusals, limit))
    }
}
