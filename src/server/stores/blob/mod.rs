//! Image blobs: the uploaded bytes, kept until commit (or TTL) removes them.
//!
//! Keys are chosen by the server (session and image ids), never by clients;
//! [`validate_key`] still refuses anything that could escape a prefix or a
//! directory, so a bug cannot turn into path traversal.

mod local;
mod s3;
pub mod signed_url;

use std::time::Duration;

use async_trait::async_trait;

pub use self::local::LocalBlobStore;
pub use self::s3::S3BlobStore;
use super::StoreError;

/// A request the client makes directly to the blob store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub url: String,
    pub method: String,
    /// Headers that are part of the signature and must be sent exactly.
    pub headers: Vec<(String, String)>,
}

/// Size and type of a stored blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub size: u64,
    pub content_type: String,
}

/// Storage for image bytes.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Short backend name for `/healthz`: `local-disk` or `s3`.
    fn backend(&self) -> &'static str;

    /// Checks the backend answers (and the bucket exists).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores `bytes` under `key`, replacing any previous blob.
    async fn put(&self, key: &str, content_type: &str, bytes: Vec<u8>) -> Result<(), StoreError>;

    /// Reads a blob; `None` if there is none.
    async fn get(&self, key: &str) -> Result<Option<(BlobMeta, Vec<u8>)>, StoreError>;

    /// Size and type without the bytes; `None` if there is no blob.
    async fn head(&self, key: &str) -> Result<Option<BlobMeta>, StoreError>;

    /// Removes a blob. Removing a missing blob is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// A PUT URL that accepts exactly this content type and length, until `ttl` passes.
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        ttl: Duration,
    ) -> Result<SignedRequest, StoreError>;

    /// A GET URL for previews, valid for `ttl`.
    async fn presign_get(&self, key: &str, ttl: Duration) -> Result<String, StoreError>;

    /// Every blob's key under the folder `dir` (a key prefix ending at a
    /// `/`), in no particular order. For the orphan sweep.
    async fn list(&self, dir: &str) -> Result<Vec<String>, StoreError>;
}

/// Accepts keys made of `[A-Za-z0-9._-]` segments separated by `/`, with no
/// empty, `.` or `..` segment.
pub fn validate_key(key: &str) -> Result<(), StoreError> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    if ok {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!("refused blob key of {} bytes", key.len())))
    }
}

#[cfg(test)]
mod tests {
    use super::validate_key;

    #[test]
    fn keys_cannot_escape() {
        for good in ["a", "s/123/img-1.jpg", "A_b-c.d/e"] {
            assert!(validate_key(good).is_ok(), "{good}");
        }
        for bad in ["", "/abs", "a//b", "../x", "a/../b", "a/./b", "a\\b", "a b", "trailing/"] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }
}
