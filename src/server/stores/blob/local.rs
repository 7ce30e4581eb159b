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
use crate::server::stores::blob::signed_url::{Signed, UrlSigner};
use crate::server::stores::StoreError;
use crate::server::support::clock::unix_now;

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

impl LocalBlobStore {
    /// Deletes blobs (and their sidecars) last written more than `max_age`
    /// ago: the local counterpart of the S3 bucket's lifecycle rule, for
    /// uploads never committed or removed. Returns how many blobs went.
    pub async fn sweep(&self, max_age: std::time::Duration) -> Result<usize, StoreError> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || sweep_dir(&root, max_age))
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }

    /// Runs [`Self::sweep`] every `every`, for the life of the process.
    pub fn spawn_sweeper(
        self: std::sync::Arc<Self>,
        every: std::time::Duration,
        max_age: std::time::Duration,
    ) {
        tokio::spawn(async move {
            // The first sweep waits one period: start-up is busy enough.
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                match self.sweep(max_age).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "expired local blobs removed"),
                    Err(e) => tracing::warn!(error = %e, "local blob sweep failed"),
                }
            }
        });
    }
}

fn sweep_dir(dir: &Path, max_age: std::time::Duration) -> Result<usize, StoreError> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let path = entry.path();
        if meta.is_dir() {
            removed += sweep_dir(&path, max_age)?;
            // Remove a directory only if nothing touched it for `max_age`: an
            // upload may have just created it. `remove_dir` keeps non-empty ones.
            let idle = meta.modified().ok().and_then(|m| m.elapsed().ok()).is_some_and(|age| age > max_age);
            if idle {
                let _ = std::fs::remove_dir(&path);
            }
            continue;
        }
        let old = meta.modified().ok().and_then(|m| m.elapsed().ok()).is_some_and(|age| age > max_age);
        let sidecar = path.extension().is_some_and(|e| e == "type");
        if old && !sidecar {
            std::fs::remove_file(&path)?;
            let mut type_file = path.into_os_string();
            type_file.push(".type");
            let _ = std::fs::remove_file(type_file);
            removed += 1;
        }
    }
    Ok(removed)
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

    async fn list(&self, dir: &str) -> Result<Vec<String>, StoreError> {
        validate_key(dir)?;
        let (root, dir) = (self.root.clone(), dir.to_owned());
        tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            list_dir(&root.join(&dir), &dir, &mut keys)?;
            Ok(keys)
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }
}

/// The blob keys under `path` (the folder of key prefix `prefix`): files,
/// without type sidecars or writes still in progress.
fn list_dir(path: &Path, prefix: &str, keys: &mut Vec<String>) -> Result<(), StoreError> {
    let entries = match std::fs::read_dir(path) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let key = format!("{prefix}/{name}");
        if entry.file_type()?.is_dir() {
            list_dir(&entry.path(), &key, keys)?;
        } else if !name.ends_with(".type") && !name.contains(".tmp-") {
            keys.push(key);
        }
    }
    Ok(())
}
