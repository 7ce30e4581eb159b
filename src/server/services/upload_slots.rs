//! Where an image's bytes live: its session's folder, the stored key, and
//! the upload key beside it that a signed URL writes to, open only while
//! the slot is (from presign until registered, refused or removed).

use std::time::Duration;

use crate::model::ApiError;
use crate::server::app_state::AppState;
use crate::server::services::claims::ClaimName;
use crate::server::stores::session_store::ImageRecord;

/// Deletes a record's bytes: the current version, the original an edit
/// replaced, and anything at its upload key, whose slot closes.
pub async fn delete_blobs(state: &AppState, record: &ImageRecord) -> Result<(), ApiError> {
    let upload = upload_key(&record.blob_key);
    close_slot(state, &upload).await?;
    state.blobs.delete(&upload).await?;
    state.blobs.delete(&record.blob_key).await?;
    if let Some(original) = &record.original {
        state.blobs.delete(&original.blob_key).await?;
    }
    Ok(())
}

/// The folder of a session's blobs: the first half of its key, so an
/// object's name never holds a whole session key.
pub fn blob_dir(session_key: &str) -> &str {
    &session_key[..32.min(session_key.len())]
}

/// Where an image's bytes are uploaded: beside its stored key, never it.
pub fn upload_key(blob_key: &str) -> String {
    match blob_key.rsplit_once('/') {
        Some((dir, name)) => format!("{dir}/upload-{name}"),
        None => format!("upload-{blob_key}"),
    }
}

/// The marker of an open upload slot, held from presign until the slot is
/// registered, refused or removed, or its URL expires.
fn slot_name(upload_key: &str) -> String {
    ClaimName::UploadSlot { upload_key }.key()
}

const SLOT_OWNER: &str = "open";

pub(crate) async fn open_slot(state: &AppState, upload_key: &str, ttl: Duration) -> Result<(), ApiError> {
    state.sessions.try_claim(&slot_name(upload_key), SLOT_OWNER, ttl).await?;
    Ok(())
}

pub(crate) async fn close_slot(state: &AppState, upload_key: &str) -> Result<(), ApiError> {
    Ok(state.sessions.release(&slot_name(upload_key), SLOT_OWNER).await?)
}

/// Whether uploads to `upload_key` are still taken (the local-disk PUT
/// route asks; an S3 URL cannot be asked, and its late writes are swept).
/// The marker is kept for `for_at_least`, the URL's remaining life.
pub async fn slot_open(state: &AppState, upload_key: &str, for_at_least: Duration) -> Result<bool, ApiError> {
    Ok(state.sessions.renew_claim(&slot_name(upload_key), SLOT_OWNER, for_at_least).await?)
}
