//! Local-disk blob store for embedded mode.
//!
//! Each blob is a file plus a small `.type` sidecar holding its content type.
//! Writes go to a temporary file first and are renamed into place, so a
//! reader never sees half an image.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::fs;

use super::{validate_key, BlobMeta, BlobStore, SignedRequest};
use crate::server::signed_url::{Signed, UrlSigner};
use crate::server::stores::session::unix_now;
use crate::server::stores::StoreError;

/// Blobs under one directory, uploaded and fetched through URLs the app signs.
pub struct LocalBlobStore {
    root: PathBuf,
    signer: Arc<UrlSigner>,
}

impl LocalBlobStore {
    /// Uses (and creates) `root`. `signer` issues the upload and preview URLs.
    pub async fn open(root: impl Into<PathBuf>, signer: Arc<UrlSigner>) -> Result<Self, StoreError> {
        let root = root.into();
        fs::create_dir_all(&root).await?;
        Ok(Self { root, signer })
    }

    fn paths(&self, key: &str) -> Result<(PathBuf, PathBuf), StoreError> {
        validate_key(key)?;
        let data = self.root.join(key);
        let mut meta = data.clone().into_os_string();
        meta.push(".type");
        Ok((data, meta.into()))
    }
}

async fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match fs::read(path).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn remove_optional(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    fn backend(&self) -> &'static str {
        "local-disk"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let meta = fs::metadata(&self.root).await?;
        if meta.is_dir() && !meta.permissions().readonly() {
            Ok(())
        } else {
            Err(StoreError::Unavailable("blob directory is not a writable directory".into()))
        }
    }

    async fn put(&self, key: &str, content_type: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let (data, meta) = self.paths(key)?;
        if let Some(parent) = data.parent() {
            fs::create_dir_all(parent).await?;
        }
        let tmp = data.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        fs::write(&tmp, &bytes).await?;
        fs::write(&meta, content_type.as_bytes()).await?;
        fs::rename(&tmp, &data).await?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<(BlobMeta, Vec<u8>)>, StoreError> {
        let (data, meta) = self.paths(key)?;
        let Some(bytes) = read_optional(&data).await? else {
            return Ok(None);
        };
        let content_type = read_optional(&meta).await?.unwrap_or_default();
        let meta = BlobMeta {
            size: bytes.len() as u64,
            content_type: String::from_utf8_lossy(&content_type).into_owned(),
        };
        Ok(Some((meta, bytes)))
    }

    async fn head(&self, key: &str) -> Result<Option<BlobMeta>, StoreError> {
        let (data, meta) = self.paths(key)?;
        let size = match fs::metadata(&data).await {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let content_type = read_optional(&meta).await?.unwrap_or_default();
        Ok(Some(BlobMeta { size, content_type: String::from_utf8_lossy(&content_type).into_owned() }))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let (data, meta) = self.paths(key)?;
        remove_optional(&data).await?;
        remove_optional(&meta).await
    }

    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        ttl: Duration,
    ) -> Result<SignedRequest, StoreError> {
        validate_key(key)?;
        let signed = Signed {
            method: "PUT",
            key,
            upload: Some((content_type, size)),
            expires: unix_now() + ttl.as_secs(),
        };
        Ok(SignedRequest {
            url: self.signer.url(&signed),
            method: "PUT".into(),
            headers: vec![("content-type".into(), content_type.into())],
        })
    }

    async fn presign_get(&self, key: &str, ttl: Duration) -> Result<String, StoreError> {
        validate_key(key)?;
        Ok(self.signer.url(&Signed { method: "GET", key, upload: None, expires: unix_now() + ttl.as_secs() }))
    }
}
