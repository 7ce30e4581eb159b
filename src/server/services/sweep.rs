//! The orphan sweep: blobs no live record points to are deleted.
//!
//! Orphans come from uploads that were never registered (a reservation
//! that lapsed), and in S3 mode from a signed URL used after its slot
//! closed: S3 cannot revoke a signed URL, so a late PUT lands at the
//! slot's upload key, which nothing reads (registration copied the
//! verified bytes away). Each instance sweeps the sessions it presigned
//! for, every `BLOB_SWEEP_SECS`, and a session's whole folder when it
//! ends; a session whose instance is gone is left to the bucket's
//! lifecycle rule (local disk: the age sweep).

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use crate::model::ApiError;
use crate::server::app_state::AppState;
use crate::server::services::upload_slots::{blob_dir, upload_key};
use crate::server::stores::session_store::SessionKey;
use crate::server::support::clock::unix_now_ms;

/// The sessions this instance presigned uploads for, to sweep.
#[derive(Default)]
pub struct Sweeps {
    sessions: Mutex<HashSet<SessionKey>>,
}

impl Sweeps {
    /// Sweeps this session from now on, until it is gone.
    pub fn watch(&self, session_key: &SessionKey) {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner()).insert(session_key.clone());
    }

    fn watched(&self) -> Vec<SessionKey> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    fn forget(&self, session_key: &SessionKey) {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner()).remove(session_key);
    }
}

/// Deletes every blob in the session's folder that no record of it points
/// to: not its current bytes, not the original an edit keeps, not the
/// upload key of a slot still open, not the earlier photos a live session
/// read from ALEX. A session that is gone has no records, so its whole
/// folder goes. Blobs are listed before records are read, so a
/// blob written meanwhile is not listed, and a listed one that belongs to a
/// record reserved before it was written is kept. Returns how many went.
pub async fn sweep_session(state: &AppState, session_key: &SessionKey) -> Result<usize, ApiError> {
    let listed = state.blobs.list(blob_dir(session_key)).await?;
    if listed.is_empty() {
        return Ok(0);
    }
    let records = state.sessions.images(session_key).await?;
    let alive = state.sessions.exists(session_key).await?;
    let (now_ms, reservation_ttl) = (unix_now_ms(), state.config.uploads.reservation_ttl());
    let mut live = HashSet::new();
    for record in &records {
        live.insert(record.blob_key.clone());
        if let Some(original) = &record.original {
            live.insert(original.blob_key.clone());
        }
        // A reservation's upload, until the reservation lapses: then its
        // bytes (a review the GP walked away from) are orphans too.
        if record.reservation_open(now_ms, reservation_ttl) {
            live.insert(upload_key(&record.blob_key));
        }
    }
    // Earlier photos read from ALEX stay while the session lives.
    let earlier = format!("{}/", crate::server::services::earlier::cache_dir(session_key));
    let keep = |key: &String| live.contains(key) || (alive && key.starts_with(&earlier));
    let mut removed = 0;
    for key in listed.iter().filter(|k| !keep(k)) {
        state.blobs.delete(key).await?;
        removed += 1;
    }
    if removed > 0 {
        metrics::counter!("blobs_swept_total").increment(removed as u64);
        tracing::info!(removed, "orphaned blobs swept");
    }
    Ok(removed)
}

/// One pass over the watched sessions; a session that is gone is swept
/// once more (its whole folder) and forgotten.
pub async fn sweep_watched(state: &AppState) -> usize {
    let mut removed = 0;
    for session_key in state.sweeps.watched() {
        let gone = matches!(state.sessions.exists(&session_key).await, Ok(false));
        match sweep_session(state, &session_key).await {
            Ok(n) => {
                removed += n;
                if gone {
                    state.sweeps.forget(&session_key);
                }
            }
            Err(_) => tracing::warn!("a session's blob sweep failed; tried again next pass"),
        }
    }
    removed
}

/// Runs [`sweep_watched`] every `every`, for the life of the process.
pub fn spawn(state: AppState, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tick.tick().await;
            sweep_watched(&state).await;
        }
    });
}
