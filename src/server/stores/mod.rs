//! Where state lives, each behind a trait with an embedded backend and an
//! external one, and one contract suite (`tests/it/store_contract.rs`) run
//! against both.

pub mod blob; // image bytes: local disk or S3, and the local signed URLs
pub mod events; // a session's event bus: in-process or Redis pub/sub
pub mod rate_limit; // token buckets: in-process or Redis
pub mod redis_conn; // the Redis connection every Redis store uses, resent once when found dead
pub mod session_store; // capture sessions, tokens, images: memory or Redis

/// One store call failed (counted where the backend's error is mapped):
/// `store_errors_total{backend}`.
pub fn count_error(backend: &'static str) {
    metrics::counter!("store_errors_total", "backend" => backend).increment(1);
}

/// A store could not do what was asked. The detail is for logs only.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend is unreachable or refused the operation.
    #[error("store backend unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded (a bug or a foreign writer).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A local I/O failure (disk full, permissions).
    #[error("store I/O failed: {0}")]
    Io(#[from] std::io::Error),
}
