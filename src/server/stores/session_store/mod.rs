//! Capture sessions: who the photos are for, and for how long.
//!
//! A session is keyed by the SHA-256 of its cookie value, so a leaked store
//! dump cannot be replayed as cookies. Expiry is enforced by the store itself
//! (Redis TTLs, or deadlines checked on every read in memory): a sliding idle
//! timeout, capped by a hard maximum lifetime fixed at creation.

mod memory;
mod redis;
mod redis_scripts;
mod session_key;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use self::memory::MemorySessionStore;
pub use self::redis::RedisSessionStore;
pub use self::session_key::SessionKey;
use super::StoreError;
use crate::model::{ImageMetadata, ImageSource, ImageStatus};

/// Most filings' audit records kept (within the retention), per store.
pub const MAX_AUDIT_FILINGS: usize = 100_000;
/// Most refusal aggregates kept (within the retention), per store.
pub const MAX_AUDIT_REFUSALS: usize = 100_000;

/// Merges filings and refusals, each `(ms, record)` oldest first, into one
/// list, oldest first, at most `limit` long.
pub(crate) fn merge_audit(
    filings: Vec<(u64, serde_json::Value)>,
    refusals: Vec<(u64, serde_json::Value)>,
    limit: usize,
) -> Vec<serde_json::Value> {
    let mut all: Vec<_> = filings.into_iter().chain(refusals).collect();
    all.sort_by_key(|(ms, _)| *ms);
    all.into_iter().take(limit).map(|(_, v)| v).collect()
}

/// What opening a link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneJoin {
    /// A phone the link already holds; `phones` in all.
    Known { phones: usize },
    /// A new phone joined, under the fresh id; `phones` in all now.
    Joined { phones: usize },
    /// The link holds its most phones: nobody new joins.
    Full,
}

/// What a capture session is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub patient_id: String,
    pub facility_id: String,
    pub provider_id: Option<String>,
    /// Created by the development launch rather than by Evolution.
    pub dev_launch: bool,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds after which the session is gone, however active.
    pub hard_expires_at: u64,
    /// The patient's name as ALEX gave it at launch (for the desktop banner only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_name: Option<String>,
    /// The patient's NHI as ALEX gave it at launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nhi: Option<String>,
}

impl SessionRecord {
    /// The TTL to apply now: the idle timeout, but never past the hard expiry.
    /// `None` when the hard expiry has passed.
    pub fn ttl_from(&self, now: u64, idle: Duration) -> Option<Duration> {
        let left = self.hard_expires_at.checked_sub(now).filter(|s| *s > 0)?;
        Some(idle.min(Duration::from_secs(left)))
    }
}

/// A phone's capability for one session, stored under the token's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Storage key of the session the token grants.
    pub session_key: SessionKey,
    /// Unix seconds.
    pub created_at: u64,
    /// Replaced by a newer QR code: kept only to say so.
    #[serde(default)]
    pub revoked: bool,
}

/// One image of a session, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub image_id: String,
    pub source: ImageSource,
    /// Hash of the mobile token that uploaded it; `None` for the desktop.
    pub uploader: Option<String>,
    pub content_type: String,
    /// The exact size the upload URL was signed for.
    pub size: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Unix seconds when the upload URL was issued.
    pub created_at: u64,
    /// The same instant in Unix milliseconds: when the reservation lapses,
    /// and the order of images without [`Self::picked_ms`].
    #[serde(default)]
    pub created_ms: u64,
    /// When the GP picked the photo, on the uploading device's own clock
    /// (Unix ms, strictly increasing per device): orders that device's
    /// photos as they were picked, whichever finished its upload first.
    /// See [`in_pick_order`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picked_ms: Option<u64>,
    /// Unix seconds when the upload was verified; `None` while the slot is only reserved.
    pub uploaded_at: Option<u64>,
    pub metadata: ImageMetadata,
    pub status: ImageStatus,
    /// Key of the bytes in the blob store.
    pub blob_key: String,
    /// When the photo was taken (unix seconds), if the client's pipeline read it from EXIF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captured_at: Option<u64>,
    /// Hex SHA-256 of the bytes: the client's declaration until
    /// registration, then the digest of the bytes as verified. Commit files
    /// the blob only if it still has this digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The photo as first uploaded, kept while an edited version replaces
    /// it, so the GP can revert; deleted at commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<OriginalVersion>,
    /// Bumped by every compare-and-set, which compares only this: records
    /// written by another version of the app (other fields, other order)
    /// stay updatable. Absent in old records, which read as 0.
    #[serde(default)]
    pub version: u64,
}

impl ImageRecord {
    /// A reservation (no bytes registered yet) whose upload URL and grace
    /// have passed, at `now_ms`.
    pub fn reservation_expired(&self, now_ms: u64, reservation_ttl: Duration) -> bool {
        self.uploaded_at.is_none()
            && self.created_ms.saturating_add(u64::try_from(reservation_ttl.as_millis()).unwrap_or(u64::MAX))
                < now_ms
    }

    /// A reservation (no bytes registered yet) still within its upload URL
    /// and grace, at `now_ms`: its upload may still arrive.
    pub fn reservation_open(&self, now_ms: u64, reservation_ttl: Duration) -> bool {
        self.uploaded_at.is_none() && !self.reservation_expired(now_ms, reservation_ttl)
    }
}

/// Puts a session's images in the order they were picked.
///
/// Photos of one device (one phone link, or the desktop) keep the order of
/// that device's pick times, exactly: uploads finish out of order (a HEIC
/// takes longer than a JPEG, two go at once), but the GP expects the strip
/// in the order they took or chose the photos. Devices' clocks differ, so
/// across devices a pick time is first moved onto the server's clock by
/// the smallest gap seen between that device's pick and reservation times
/// (never later than its own reservation). Images without a pick time go by
/// their reservation time. Ties go by reservation time, then id.
pub fn in_pick_order(records: &mut [ImageRecord]) {
    use std::collections::HashMap;
    let mut offsets: HashMap<Option<String>, i128> = HashMap::new();
    for r in records.iter() {
        if let Some(picked) = r.picked_ms {
            let gap = i128::from(r.created_ms) - i128::from(picked);
            offsets.entry(r.uploader.clone()).and_modify(|g| *g = (*g).min(gap)).or_insert(gap);
        }
    }
    records.sort_by_cached_key(|r| {
        let at = match (r.picked_ms, offsets.get(&r.uploader)) {
            (Some(picked), Some(gap)) => i128::from(picked) + gap,
            _ => i128::from(r.created_ms),
        };
        (at, r.created_ms, r.image_id.clone())
    });
}

/// The bytes an edit replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginalVersion {
    pub blob_key: String,
    pub content_type: String,
    pub size: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Digest of the bytes as verified at registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Result of [`SessionStore::update_image`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Updated {
    /// The record as stored now.
    Done(ImageRecord),
    /// The change declined; the record as it is.
    Refused(ImageRecord),
    /// No such image.
    Missing,
}

/// Result of reserving an image slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserve {
    Reserved,
    /// The session already holds its maximum number of images.
    LimitReached,
    /// The uploader already holds its maximum of unregistered reservations.
    TooManyPending,
}

/// The bounds a reservation is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReserveLimits {
    /// Images (registered or reserved) per session.
    pub max_images: usize,
    /// Unregistered reservations per uploader (phone token); the desktop has none.
    pub max_pending: usize,
    /// How long an unregistered reservation holds its slot; then it is reclaimed.
    pub reservation_ttl: Duration,
}

/// Storage for capture sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Short backend name for `/healthz`: `memory` or `redis`.
    fn backend(&self) -> &'static str;

    /// Checks the backend answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores a new session under `key` (a hash of the cookie value).
    async fn create(&self, key: &str, record: &SessionRecord, idle: Duration) -> Result<(), StoreError>;

    /// Loads a live session and slides its idle timeout. `None` if absent or expired.
    async fn touch(&self, key: &str, idle: Duration) -> Result<Option<SessionRecord>, StoreError>;

    /// Whether a live session is stored under `key`, without sliding its idle timeout.
    async fn exists(&self, key: &str) -> Result<bool, StoreError>;

    /// Ends a session now.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// A phone opens the link `token_key`, in one atomic step. If it
    /// `presented` an id the link holds, it is that phone again. Otherwise
    /// `fresh` joins, unless the link holds `max` phones. The link's phones
    /// live `ttl` from now.
    async fn join_phone(
        &self,
        token_key: &str,
        presented: Option<&str>,
        fresh: &str,
        max: usize,
        ttl: Duration,
    ) -> Result<PhoneJoin, StoreError>;

    /// Stores a mobile token under `key` (a hash of the token) for `ttl`.
    async fn put_token(&self, key: &str, record: &TokenRecord, ttl: Duration) -> Result<(), StoreError>;

    /// Loads a live mobile token and slides its idle timeout to `ttl`.
    async fn touch_token(&self, key: &str, ttl: Duration) -> Result<Option<TokenRecord>, StoreError>;

    /// Makes `token_key` the session's current mobile token and returns the
    /// previous one, atomically, so two mints cannot both keep a live token.
    async fn swap_current_token(
        &self,
        session_key: &str,
        token_key: &str,
        ttl: Duration,
    ) -> Result<Option<String>, StoreError>;

    /// Adds an image record unless the session already holds
    /// `limits.max_images` images, or `record`'s uploader already holds
    /// `limits.max_pending` unregistered reservations. Expired reservations
    /// are reclaimed first. The reclaim, the counts and the insert are one
    /// atomic step.
    async fn reserve_image(
        &self,
        session_key: &SessionKey,
        record: &ImageRecord,
        limits: ReserveLimits,
        ttl: Duration,
    ) -> Result<Reserve, StoreError>;

    /// One image of a session.
    async fn image(
        &self,
        session_key: &SessionKey,
        image_id: &str,
    ) -> Result<Option<ImageRecord>, StoreError>;

    /// Every image of a session, in the order they were picked ([`in_pick_order`]).
    async fn images(&self, session_key: &SessionKey) -> Result<Vec<ImageRecord>, StoreError>;

    /// Replaces `current` with `next` only if the stored record still has
    /// `current`'s version (compare-and-set); the stored record gets the next
    /// version. `false` means someone else changed it first.
    async fn replace_image(
        &self,
        session_key: &SessionKey,
        current: &ImageRecord,
        next: &ImageRecord,
    ) -> Result<bool, StoreError>;

    /// Reads an image, applies `change` and compare-and-sets the result,
    /// re-reading on a concurrent change (a few times, then `Unavailable`).
    /// `change` returns `None` to leave the record as it is.
    async fn update_image(
        &self,
        session_key: &SessionKey,
        image_id: &str,
        change: &(dyn for<'r> Fn(&'r ImageRecord) -> Option<ImageRecord> + Send + Sync),
    ) -> Result<Updated, StoreError> {
        for _ in 0..8 {
            let Some(current) = self.image(session_key, image_id).await? else {
                return Ok(Updated::Missing);
            };
            let Some(next) = change(&current) else {
                return Ok(Updated::Refused(current));
            };
            if self.replace_image(session_key, &current, &next).await? {
                return Ok(Updated::Done(ImageRecord { version: current.version + 1, ..next }));
            }
        }
        Err(StoreError::Unavailable("an image record kept changing under compare-and-set".into()))
    }

    /// Removes an image record; `false` if there was none.
    async fn remove_image(&self, session_key: &SessionKey, image_id: &str) -> Result<bool, StoreError>;

    /// Takes a named lock for `ttl` if nobody holds it, recording `owner`
    /// (a random value the taker keeps) as its holder. Atomic; it expires by
    /// itself.
    async fn try_claim(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Extends the lock to `ttl` from now if `owner` still holds it; false
    /// if it lapsed or another holds it now (atomic compare-and-extend).
    async fn renew_claim(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Releases the lock if `owner` holds it; a lock that lapsed and was
    /// taken by another is left to its new holder (atomic compare-and-delete).
    async fn release(&self, name: &str, owner: &str) -> Result<(), StoreError>;

    /// Waits until the configured replicas hold every write this instance
    /// has made so far (`REDIS_WAIT_REPLICAS`), for the writes that must
    /// survive a failover; `Unavailable` if they did not acknowledge in
    /// time. Memory has no replica.
    async fn replicated(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Appends one filing's audit record (JSON), dropping filings older than
    /// `retention`. Only filings count against the filings' bound
    /// ([`MAX_AUDIT_FILINGS`]): no number of refusals evicts one. Audit
    /// records name patients only by a hash; logs never do.
    async fn append_audit(&self, record: &serde_json::Value, retention: Duration) -> Result<(), StoreError>;

    /// Records a refused filing, aggregated under `key` (one session's one
    /// image): the record kept is the latest attempt's, with `attempts`
    /// counting every one and `firstAt` the first's time. Aggregates
    /// untouched for `retention` are dropped, and past
    /// [`MAX_AUDIT_REFUSALS`] the least recently refused go first.
    async fn append_refusal(
        &self,
        key: &str,
        record: &serde_json::Value,
        retention: Duration,
    ) -> Result<(), StoreError>;

    /// The most recent filings' audit records, oldest first (for support and tests).
    async fn recent_audit(&self, count: usize) -> Result<Vec<serde_json::Value>, StoreError>;

    /// Audit records (filings, and refusals by their latest attempt) at or
    /// after `since_ms` (Unix ms), oldest first, at most `limit` of them.
    async fn audit_since(&self, since_ms: u64, limit: usize) -> Result<Vec<serde_json::Value>, StoreError>;
}

#[cfg(test)]
mod tests;
