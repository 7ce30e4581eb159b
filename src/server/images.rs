//! The upload flow: reserve and presign, verify and register, list, edit
//! metadata, delete. Every function takes a resolved [`Access`], so it acts
//! only inside that credential's session.

use std::time::Duration;

use sha2::Digest;

use super::api_error::reject;
use super::auth::{Access, Actor};
use super::events;
use super::ids::log_id;
use super::sessions::rfc3339;
use super::state::AppState;
use super::stores::session::{unix_now, unix_now_ms, ImageRecord, OriginalVersion, Reserve};
use super::verify::{self, ACCEPTED_TYPES};
use crate::model::{
    body_site, ApiError, ImageInfo, ImageMetadata, ImageSource, ImageStatus, SessionEvent, UploadProblem,
    UploadRequest, UploadTicket, DESCRIPTION_MAX_CHARS,
};

/// How long preview URLs live.
const PREVIEW_TTL: Duration = Duration::from_secs(600);

fn refuse(problem: UploadProblem) -> ApiError {
    reject(ApiError::Upload(problem))
}

/// Whether this caller may see (and register) this image.
fn visible_to(access: &Access, record: &ImageRecord) -> bool {
    match &access.actor {
        Actor::Desktop => true,
        Actor::Phone { token_key } => record.uploader.as_deref() == Some(token_key.as_str()),
    }
}

/// Checks metadata against the verified lists and limits.
pub fn validate_metadata(metadata: &ImageMetadata) -> Result<(), ApiError> {
    if let Some(code) = &metadata.body_site {
        if body_site(code).is_none() {
            return Err(reject(ApiError::BadRequest("That body site is not on the verified list.".into())));
        }
    }
    if let Some(text) = &metadata.description {
        if text.chars().count() > DESCRIPTION_MAX_CHARS {
            return Err(reject(ApiError::BadRequest(format!(
                "The description is longer than {DESCRIPTION_MAX_CHARS} characters."
            ))));
        }
    }
    Ok(())
}

/// Reserves an image slot and returns where to upload its bytes.
pub async fn presign(
    state: &AppState,
    access: &Access,
    req: UploadRequest,
) -> Result<UploadTicket, ApiError> {
    if !ACCEPTED_TYPES.contains(&req.content_type.as_str()) {
        return Err(refuse(UploadProblem::UnsupportedType));
    }
    if req.size == 0 || req.size > state.config.uploads.max_bytes {
        return Err(refuse(UploadProblem::TooLarge));
    }
    let sha256 = req.sha256.as_deref().map(str::to_ascii_lowercase);
    if sha256.as_deref().is_some_and(|h| h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(reject(ApiError::BadRequest("sha256 must be 64 hexadecimal characters.".into())));
    }
    let image_id = uuid::Uuid::new_v4().to_string();
    let (source, uploader) = match &access.actor {
        Actor::Desktop => (ImageSource::Desktop, None),
        Actor::Phone { token_key } => (ImageSource::Mobile, Some(token_key.clone())),
    };
    let record = ImageRecord {
        image_id: image_id.clone(),
        source,
        uploader,
        content_type: req.content_type.clone(),
        size: req.size,
        width: None,
        height: None,
        created_at: unix_now(),
        created_ms: unix_now_ms(),
        uploaded_at: None,
        metadata: ImageMetadata::default(),
        status: ImageStatus::Uploaded,
        blob_key: format!("{}/{image_id}", &access.session_key[..32.min(access.session_key.len())]),
        captured_at: None,
        sha256,
        original: None,
    };
    let limit = state.config.uploads.max_images_per_session;
    if state.sessions.reserve_image(&access.session_key, &record, limit, access.time_left()).await?
        == Reserve::LimitReached
    {
        return Err(refuse(UploadProblem::TooManyImages));
    }
    let ttl = state.config.uploads.url_ttl;
    let signed = state.blobs.presign_put(&record.blob_key, &req.content_type, req.size, ttl).await?;
    Ok(UploadTicket {
        image_id,
        upload_url: signed.url,
        method: signed.method,
        headers: signed.headers,
        expires_at: rfc3339(unix_now() + ttl.as_secs()),
    })
}

/// Verifies an upload's bytes and makes the image part of the session.
pub async fn register(
    state: &AppState,
    access: &Access,
    image_id: &str,
    metadata: Option<ImageMetadata>,
    captured_at: Option<String>,
) -> Result<ImageInfo, ApiError> {
    if let Some(m) = &metadata {
        validate_metadata(m)?;
    }
    let captured_at = match captured_at.as_deref() {
        None => None,
        Some(t) => Some(
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .ok()
                .and_then(|t| u64::try_from(t.unix_timestamp()).ok())
                .ok_or_else(|| reject(ApiError::BadRequest("capturedAt must be an RFC 3339 time.".into())))?,
        ),
    };
    let record = match state.sessions.image(&access.session_key, image_id).await? {
        Some(r) if visible_to(access, &r) => r,
        _ => return Err(reject(ApiError::NotFound)),
    };
    if record.uploaded_at.is_some() {
        // Registering twice (a retry) is harmless and returns the same image.
        return info(state, &record, true).await;
    }
    let blob = state.blobs.get(&record.blob_key).await?;
    let Some((meta, bytes)) = blob.filter(|(meta, _)| meta.size == record.size) else {
        return Err(refuse(UploadProblem::Incomplete));
    };
    let declared = record.content_type.clone();
    let stored_type_ok = meta.content_type.is_empty() || meta.content_type == declared;
    let expected_hash = record.sha256.clone();
    let inspected = tokio::task::spawn_blocking(move || {
        let hash_ok = expected_hash.is_none_or(|h| h == hex::encode(sha2::Sha256::digest(&bytes)));
        verify::inspect(&bytes, &declared).map(|i| (i, hash_ok))
    })
    .await
    .map_err(|_| ApiError::Internal)?;
    let inspected = match inspected {
        Ok((i, true)) if stored_type_ok => i,
        outcome => {
            // A checksum mismatch is a damaged transfer; anything else means
            // the bytes are not the image they claim to be.
            let (problem, reason) = match outcome {
                Ok((_, false)) => (UploadProblem::Incomplete, "sha256 mismatch".to_owned()),
                Ok(_) => (UploadProblem::NotAnImage, "stored content type differs".to_owned()),
                Err(e) => (UploadProblem::NotAnImage, e.to_string()),
            };
            tracing::warn!(
                session.id_hash = log_id(&access.session_key),
                image.id = image_id,
                %reason,
                "upload rejected and discarded"
            );
            state.blobs.delete(&record.blob_key).await?;
            state.sessions.remove_image(&access.session_key, image_id).await?;
            return Err(refuse(problem));
        }
    };
    let next = ImageRecord {
        width: inspected.width,
        height: inspected.height,
        uploaded_at: Some(unix_now()),
        captured_at,
        metadata: metadata.unwrap_or_default(),
        ..record.clone()
    };
    if !state.sessions.replace_image(&access.session_key, &record, &next).await? {
        // A concurrent retry registered it first; report the winner's view.
        return match state.sessions.image(&access.session_key, image_id).await? {
            Some(current) => info(state, &current, true).await,
            None => Err(reject(ApiError::NotFound)),
        };
    }
    tracing::info!(session.id_hash = log_id(&access.session_key), image.id = image_id, "image registered");
    events::publish(state, access, SessionEvent::ImageAdded(info(state, &next, false).await?)).await;
    info(state, &next, true).await
}

/// The session's uploaded images the caller may see, with fresh preview URLs.
pub async fn list(state: &AppState, access: &Access) -> Result<Vec<ImageInfo>, ApiError> {
    let records = state.sessions.images(&access.session_key).await?;
    let mut out = Vec::new();
    for record in records.iter().filter(|r| r.uploaded_at.is_some() && visible_to(access, r)) {
        out.push(info(state, record, true).await?);
    }
    Ok(out)
}

/// Replaces an image's metadata (desktop only). Retries on a concurrent change.
pub async fn update_metadata(
    state: &AppState,
    access: &Access,
    image_id: &str,
    metadata: ImageMetadata,
) -> Result<ImageInfo, ApiError> {
    access.require_desktop()?;
    validate_metadata(&metadata)?;
    for _ in 0..8 {
        let current = match state.sessions.image(&access.session_key, image_id).await? {
            Some(r) if r.uploaded_at.is_some() => r,
            _ => return Err(reject(ApiError::NotFound)),
        };
        if matches!(current.status, ImageStatus::Committing | ImageStatus::Committed { .. }) {
            return Err(reject(ApiError::BadRequest(
                "This photo is filed and can no longer be changed.".into(),
            )));
        }
        let next = ImageRecord { metadata: metadata.clone(), ..current.clone() };
        if state.sessions.replace_image(&access.session_key, &current, &next).await? {
            events::publish(state, access, SessionEvent::ImageUpdated(info(state, &next, false).await?))
                .await;
            return info(state, &next, true).await;
        }
    }
    Err(reject(ApiError::Unavailable))
}

/// Removes an image and its bytes (desktop only).
pub async fn delete(state: &AppState, access: &Access, image_id: &str) -> Result<(), ApiError> {
    access.require_desktop()?;
    let Some(record) = state.sessions.image(&access.session_key, image_id).await? else {
        return Err(reject(ApiError::NotFound));
    };
    if matches!(record.status, ImageStatus::Committing) {
        // It may be in the patient's record already; the commit decides.
        return Err(reject(ApiError::Forbidden));
    }
    state.blobs.delete(&record.blob_key).await?;
    if let Some(original) = &record.original {
        state.blobs.delete(&original.blob_key).await?;
    }
    if state.sessions.remove_image(&access.session_key, image_id).await? {
        events::publish(state, access, SessionEvent::ImageRemoved { image_id: image_id.to_owned() }).await;
    }
    Ok(())
}

/// An image as events carry it (no preview URL).
pub async fn info_of(state: &AppState, record: &ImageRecord) -> Result<ImageInfo, ApiError> {
    info(state, record, false).await
}

async fn info(state: &AppState, record: &ImageRecord, with_preview: bool) -> Result<ImageInfo, ApiError> {
    let preview_url =
        if with_preview { Some(state.blobs.presign_get(&record.blob_key, PREVIEW_TTL).await?) } else { None };
    Ok(ImageInfo {
        image_id: record.image_id.clone(),
        source: record.source,
        content_type: record.content_type.clone(),
        bytes: record.size,
        width: record.width,
        height: record.height,
        uploaded_at: rfc3339(record.uploaded_at.unwrap_or(record.created_at)),
        metadata: record.metadata.clone(),
        status: record.status.clone(),
        edited: record.original.is_some(),
        preview_url,
    })
}

/// Makes `replacement` (an edit of `image_id`, uploaded and registered like
/// any photo) the image's current version. The first original is kept for
/// revert; an earlier edit's bytes are deleted. Metadata stays on the image.
pub async fn replace_version(
    state: &AppState,
    access: &Access,
    image_id: &str,
    replacement_id: &str,
) -> Result<ImageInfo, ApiError> {
    access.require_desktop()?;
    let (Some(current), Some(edit)) = (
        state.sessions.image(&access.session_key, image_id).await?,
        state.sessions.image(&access.session_key, replacement_id).await?,
    ) else {
        return Err(reject(ApiError::NotFound));
    };
    if edit.uploaded_at.is_none() || edit.status != ImageStatus::Uploaded || image_id == replacement_id {
        return Err(reject(ApiError::BadRequest("The edited photo has not been uploaded.".into())));
    }
    if !matches!(current.status, ImageStatus::Uploaded | ImageStatus::Failed { .. }) {
        return Err(reject(ApiError::Forbidden));
    }
    let original = current.original.clone().unwrap_or_else(|| OriginalVersion {
        blob_key: current.blob_key.clone(),
        content_type: current.content_type.clone(),
        size: current.size,
        width: current.width,
        height: current.height,
    });
    let next = ImageRecord {
        blob_key: edit.blob_key.clone(),
        content_type: edit.content_type.clone(),
        size: edit.size,
        width: edit.width,
        height: edit.height,
        original: Some(original),
        ..current.clone()
    };
    if !state.sessions.replace_image(&access.session_key, &current, &next).await? {
        return Err(reject(ApiError::BadRequest("The photo changed meanwhile. Try again.".into())));
    }
    // The replacement's record goes; its bytes now belong to the image.
    state.sessions.remove_image(&access.session_key, replacement_id).await?;
    events::publish(state, access, SessionEvent::ImageRemoved { image_id: replacement_id.to_owned() }).await;
    if current.original.is_some() {
        state.blobs.delete(&current.blob_key).await?; // the previous edit
    }
    events::publish(state, access, SessionEvent::ImageUpdated(info(state, &next, false).await?)).await;
    info(state, &next, true).await
}

/// Puts back the photo as first uploaded, deleting the edit.
pub async fn revert_version(
    state: &AppState,
    access: &Access,
    image_id: &str,
) -> Result<ImageInfo, ApiError> {
    access.require_desktop()?;
    let Some(current) = state.sessions.image(&access.session_key, image_id).await? else {
        return Err(reject(ApiError::NotFound));
    };
    let Some(original) = current.original.clone() else {
        return info(state, &current, true).await;
    };
    if !matches!(current.status, ImageStatus::Uploaded | ImageStatus::Failed { .. }) {
        return Err(reject(ApiError::Forbidden));
    }
    let next = ImageRecord {
        blob_key: original.blob_key,
        content_type: original.content_type,
        size: original.size,
        width: original.width,
        height: original.height,
        original: None,
        ..current.clone()
    };
    if !state.sessions.replace_image(&access.session_key, &current, &next).await? {
        return Err(reject(ApiError::BadRequest("The photo changed meanwhile. Try again.".into())));
    }
    state.blobs.delete(&current.blob_key).await?;
    events::publish(state, access, SessionEvent::ImageUpdated(info(state, &next, false).await?)).await;
    info(state, &next, true).await
}
