//! Edited versions of an image: the desktop's editor uploads the edited
//! pixels as a photo of their own, then makes them the image's current
//! version; the photo as first uploaded is kept (for revert) until commit.
//! Never once a commit attempt may have reached ALEX, and never while a
//! commit holds the image's claim.

use crate::model::messages::{BEING_FILED, CHANGED_MEANWHILE, EDIT_NOT_UPLOADED};
use crate::model::{ApiError, ImageInfo, ImageStatus, SessionEvent};
use crate::server::app_state::AppState;
use crate::server::services::auth::{Access, DesktopAccess};
use crate::server::services::claims::with_image_claim;
use crate::server::services::images::info;
use crate::server::services::notify;
use crate::server::stores::session_store::{ImageRecord, OriginalVersion};

/// Whether an image's pixels may still change. Not once a commit attempt
/// may have reached ALEX: `committing`, `committed`, or a retryable failure
/// (its POST may have landed, and the retry files whatever ALEX holds). A
/// failure ALEX answered definitively (or one before any POST) is editable.
pub fn editable(status: &ImageStatus) -> bool {
    matches!(status, ImageStatus::Uploaded | ImageStatus::Failed { retryable: false, .. })
}

/// Makes `replacement` (an edit of `image_id`, uploaded and registered like
/// any photo) the image's current version. The first original is kept for
/// revert; an earlier edit's bytes are deleted. Metadata stays on the image.
pub async fn replace_version(
    state: &AppState,
    access: &DesktopAccess,
    image_id: &str,
    replacement_id: &str,
) -> Result<ImageInfo, ApiError> {
    // Under the image's claim: no commit reads or files it meanwhile.
    let work = replace_claimed(state, access, image_id, replacement_id);
    with_image_claim(state, access, image_id, ApiError::BadRequest(BEING_FILED.into()), work).await
}

async fn replace_claimed(
    state: &AppState,
    access: &Access,
    image_id: &str,
    replacement_id: &str,
) -> Result<ImageInfo, ApiError> {
    let (Some(current), Some(edit)) = (
        state.sessions.image(&access.session_key, image_id).await?,
        state.sessions.image(&access.session_key, replacement_id).await?,
    ) else {
        return Err(ApiError::NotFound);
    };
    if edit.uploaded_at.is_none() || edit.status != ImageStatus::Uploaded || image_id == replacement_id {
        return Err(ApiError::BadRequest(EDIT_NOT_UPLOADED.into()));
    }
    if !editable(&current.status) {
        return Err(ApiError::Forbidden);
    }
    let original = current.original.clone().unwrap_or_else(|| OriginalVersion {
        blob_key: current.blob_key.clone(),
        content_type: current.content_type.clone(),
        size: current.size,
        width: current.width,
        height: current.height,
        sha256: current.sha256.clone(),
    });
    let next = ImageRecord {
        blob_key: edit.blob_key.clone(),
        content_type: edit.content_type.clone(),
        size: edit.size,
        width: edit.width,
        height: edit.height,
        sha256: edit.sha256.clone(),
        original: Some(original),
        ..current.clone()
    };
    if !state.sessions.replace_image(&access.session_key, &current, &next).await? {
        return Err(ApiError::BadRequest(CHANGED_MEANWHILE.into()));
    }
    // The replacement's record goes; its bytes now belong to the image.
    state.sessions.remove_image(&access.session_key, replacement_id).await?;
    notify::publish(state, access, SessionEvent::ImageRemoved { image_id: replacement_id.to_owned() }).await;
    if current.original.is_some() {
        state.blobs.delete(&current.blob_key).await?; // the previous edit
    }
    notify::publish(state, access, SessionEvent::ImageUpdated(info(state, &next, false).await?)).await;
    info(state, &next, true).await
}

/// Puts back the photo as first uploaded, deleting the edit.
pub async fn revert_version(
    state: &AppState,
    access: &DesktopAccess,
    image_id: &str,
) -> Result<ImageInfo, ApiError> {
    let work = revert_claimed(state, access, image_id);
    with_image_claim(state, access, image_id, ApiError::BadRequest(BEING_FILED.into()), work).await
}

async fn revert_claimed(state: &AppState, access: &Access, image_id: &str) -> Result<ImageInfo, ApiError> {
    let Some(current) = state.sessions.image(&access.session_key, image_id).await? else {
        return Err(ApiError::NotFound);
    };
    let Some(original) = current.original.clone() else {
        return info(state, &current, true).await;
    };
    if !editable(&current.status) {
        return Err(ApiError::Forbidden);
    }
    let next = ImageRecord {
        blob_key: original.blob_key,
        content_type: original.content_type,
        size: original.size,
        width: original.width,
        height: original.height,
        sha256: original.sha256,
        original: None,
        ..current.clone()
    };
    if !state.sessions.replace_image(&access.session_key, &current, &next).await? {
        return Err(ApiError::BadRequest(CHANGED_MEANWHILE.into()));
    }
    state.blobs.delete(&current.blob_key).await?;
    notify::publish(state, access, SessionEvent::ImageUpdated(info(state, &next, false).await?)).await;
    info(state, &next, true).await
}
