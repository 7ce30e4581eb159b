//! Where an image's bytes live: its session's folder, the stored key, and
//! the upload key beside it that a signed URL writes to, open only while
//! the slot is (from presign until registered, refused, cancelled or
//! removed); and cancelling a slot that was never registered.

use std::time::Duration;

use crate::model::ApiError;
use crate::server::app_state::AppState;
use crate::server::services::auth::Access;
use crate::server::services::claims::{with_image_claim, ClaimName};
use crate::server::services::images::visible_to;
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

/// Cancels an upload that was never registered (a photo removed or
/// discarded on the phone before it was sent): its slot closes, the bytes
/// already sent to it are deleted at once, and its place among the
/// uploader's reservations is freed. It was never shown to the desktop, so
/// nothing is announced. A registered image is not cancelled (the desktop
/// deletes those), and cancelling twice is harmless.
pub async fn cancel(state: &AppState, access: &Access, image_id: &str) -> Result<(), ApiError> {
    // Under the image's claim: a registration of it cannot be half done.
    with_image_claim(state, access, image_id, ApiError::Unavailable, async {
        let record = match state.sessions.image(&access.session_key, image_id).await? {
            Some(r) if visible_to(access, &r) => r,
            Some(_) => return Err(ApiError::NotFound),
            // Cancelled already, or never reserved. A PUT that was on its
            // way at the first cancel may have landed since (an S3 URL
            // cannot be revoked): its bytes go now, not at the next sweep.
            // Only an id exactly as the server spells its ids (another
            // spelling of a live id finds no record, and must not reach its
            // bytes), and only its upload key in this session's folder.
            None => {
                let canonical =
                    uuid::Uuid::try_parse(image_id).is_ok_and(|id| id.hyphenated().to_string() == image_id);
                if canonical {
                    state.blobs.delete(&upload_key(&blob_key(&access.session_key, image_id))).await?;
                }
                return Ok(());
            }
        };
        if record.uploaded_at.is_some() {
            return Err(ApiError::Forbidden);
        }
        delete_blobs(state, &record).await?;
        state.sessions.remove_image(&access.session_key, image_id).await?;
        metrics::counter!("uploads_cancelled_total").increment(1);
        Ok(())
    })
    .await
}

/// The folder of a session's blobs: the first half of its key, so an
/// object's name never holds a whole session key.
pub fn blob_dir(session_key: &str) -> &str {
    &session_key[..32.min(session_key.len())]
}

/// Where an image's bytes are stored once registered.
pub fn blob_key(session_key: &str, image_id: &str) -> String {
    format!("{}/{image_id}", blob_dir(session_key))
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
