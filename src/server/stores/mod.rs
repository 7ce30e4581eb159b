//! Persistence behind traits: capture sessions ([`session`]) and image blobs
//! ([`blob`]). Each trait has an embedded backend and an external one, and
//! one contract test suite (`tests/store_contract/`) runs against both.

pub mod blob;
pub mod session_store;

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
