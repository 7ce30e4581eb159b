//! The upload flow: reserve and presign, verify and register, list, edit
//! metadata, delete. Every function takes a resolved [`Access`], so it acts
//! only inside that credential's session.

use std::time::Duration;

use crate::model::messages::{ALREADY_FILED, BAD_CAPTURED_AT, BAD_SHA256, BEING_FILED, UNKNOWN_BODY_SITE};
use crate::model::{
    body_site, ApiError, ImageInfo, ImageMetadata, ImageSource, ImageStatus, SessionEvent, UploadProblem,
    UploadRequest, UploadTicket, DESCRIPTION_MAX_CHARS,
};
use crate::server::app_state::AppState;
use crate::server::services::auth::{Access, Actor, DesktopAccess};
use crate::server::services::claims::{take_image_claim, with_image_claim};
use crate::server::services::notify;
use crate::server::services::upload_slots::{blob_key, close_slot, delete_blobs, open_slot, upload_key};
use crate::server::services::verify::{self, ACCEPTED_TYPES};
use crate::server::stores::session_store::{ImageRecord, Reserve, ReserveLimits, Updated};
use crate::server::support::clock::{parse_rfc3339, rfc3339, unix_now, unix_now_ms};
use crate::server::support::ids::{log_id, sha256_hex};

/// How long preview URLs live.
const PREVIEW_TTL: Duration = Duration::from_secs(600);

/// An upload refused for `problem`, counted by reason.
fn refused(problem: UploadProblem) -> ApiError {
    metrics::counter!("uploads_refused_total", "reason" => format!("{problem:?}")).increment(1);
    ApiError::Upload(problem)
}

/// Whether this caller may see (and register) this image.
pub(super) fn visible_to(access: &Access, record: &ImageRecord) -> bool {
    match &access.actor {
        Actor::Desktop => true,
        Actor::Phone { token_key, .. } => record.uploader.as_deref() == Some(token_key.as_str()),
    }
}

/// Checks metadata against the verified lists and limits.
pub fn validate_metadata(metadata: &ImageMetadata) -> Result<(), ApiError> {
    if let Some(code) = &metadata.body_site {
        if body_site(code).is_none() {
            return Err(ApiError::BadRequest(UNKNOWN_BODY_SITE.into()));
        }
    }
    if let Some(text) = &metadata.description {
        if text.chars().count() > DESCRIPTION_MAX_CHARS {
            return Err(ApiError::BadRequest(format!(
                "The description is longer than {DESCRIPTION_MAX_CHARS} characters."
            )));
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
        return Err(refused(UploadProblem::UnsupportedType));
    }
    if req.size == 0 || req.size > state.config.uploads.max_bytes {
        return Err(refused(UploadProblem::TooLarge));
    }
    let sha256 = req.sha256.as_deref().map(str::to_ascii_lowercase);
    if sha256.as_deref().is_some_and(|h| h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(ApiError::BadRequest(BAD_SHA256.into()));
    }
    let image_id = uuid::Uuid::new_v4().to_string();
    let (source, uploader) = match &access.actor {
        Actor::Desktop => (ImageSource::Desktop, None),
        Actor::Phone { token_key, .. } => (ImageSource::Mobile, Some(token_key.clone())),
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
        picked_ms: req.picked_at,
        uploaded_at: None,
        metadata: ImageMetadata::default(),
        status: ImageStatus::Uploaded,
        blob_key: blob_key(&access.session_key, &image_id),
        captured_at: None,
        sha256,
        original: None,
        version: 0,
    };
    let uploads = &state.config.uploads;
    let limits = ReserveLimits {
        max_images: uploads.max_images_per_session,
        max_pending: uploads.max_pending_per_phone,
        reservation_ttl: uploads.reservation_ttl(),
    };
    match state.sessions.reserve_image(&access.session_key, &record, limits, access.time_left()).await? {
        Reserve::Reserved => {}
        Reserve::LimitReached => return Err(refused(UploadProblem::TooManyImages)),
        Reserve::TooManyPending => return Err(refused(UploadProblem::TooManyPending)),
    }
    let ttl = state.config.uploads.url_ttl;
    // The URL writes beside the stored key, never to it: what a late PUT
    // writes is never shown or filed, and is swept. The slot is open until
    // it is registered, refused or removed (or its URL expires).
    let upload = upload_key(&record.blob_key);
    open_slot(state, &upload, ttl).await?;
    state.sweeps.watch(&access.session_key);
    let signed = state.blobs.presign_put(&upload, &req.content_type, req.size, ttl).await?;
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
        Some(t) => Some(parse_rfc3339(t).ok_or_else(|| ApiError::BadRequest(BAD_CAPTURED_AT.into()))?),
    };
    // One registration per image does the work: the image's claim is taken
    // before a byte is read or decoded; duplicates wait for it, then answer
    // with what the first registered.
    let waited_until = tokio::time::Instant::now() + state.config.rate_limit.verify_queue;
    let claim = loop {
        let record = match state.sessions.image(&access.session_key, image_id).await? {
            Some(r) if visible_to(access, &r) => r,
            _ => return Err(ApiError::NotFound),
        };
        if record.uploaded_at.is_some() {
            // Registering twice (a retry) is harmless and returns the same image.
            return info(state, &record, true).await;
        }
        if let Some(claim) = take_image_claim(state, access, image_id).await? {
            break claim;
        }
        if tokio::time::Instant::now() >= waited_until {
            return Err(ApiError::Unavailable);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    claim.around(state, register_claimed(state, access, image_id, metadata, captured_at, waited_until)).await
}

/// Registers an image under its claim: re-reads it, then verifies its
/// bytes in one of the instance's verification places (503 if none frees
/// up before `queue_until`).
async fn register_claimed(
    state: &AppState,
    access: &Access,
    image_id: &str,
    metadata: Option<ImageMetadata>,
    captured_at: Option<u64>,
    queue_until: tokio::time::Instant,
) -> Result<ImageInfo, ApiError> {
    let record = match state.sessions.image(&access.session_key, image_id).await? {
        Some(r) if visible_to(access, &r) => r,
        _ => return Err(ApiError::NotFound),
    };
    if record.uploaded_at.is_some() {
        return info(state, &record, true).await;
    }
    let Ok(Ok(_place)) =
        tokio::time::timeout_at(queue_until, state.verify_slots.clone().acquire_owned()).await
    else {
        metrics::counter!("uploads_refused_total", "reason" => "Busy").increment(1);
        tracing::warn!(image.id = image_id, "registration waited too long for a verification place");
        return Err(ApiError::Unavailable);
    };
    state.verifications.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let upload = upload_key(&record.blob_key);
    let blob = state.blobs.get(&upload).await?;
    let Some((meta, bytes)) = blob.filter(|(meta, _)| meta.size == record.size) else {
        return Err(refused(UploadProblem::Incomplete));
    };
    let declared = record.content_type.clone();
    let stored_type_ok = meta.content_type.is_empty() || meta.content_type == declared;
    let expected_hash = record.sha256.clone();
    let max_pixels = state.config.uploads.max_pixels;
    let inspected = tokio::task::spawn_blocking(move || {
        let digest = sha256_hex(&bytes);
        let hash_ok = expected_hash.is_none_or(|h| h == digest);
        verify::inspect(&bytes, &declared, max_pixels).map(|i| (i, hash_ok, digest, bytes))
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "upload verification task failed");
        ApiError::Internal
    })?;
    let (inspected, digest, bytes) = match inspected {
        Ok((i, true, digest, bytes)) if stored_type_ok => (i, digest, bytes),
        outcome => {
            // A checksum mismatch is a damaged transfer; anything else means
            // the bytes are not the image they claim to be.
            let (problem, reason) = match outcome {
                Ok((_, false, _, _)) => (UploadProblem::Incomplete, "sha256 mismatch".to_owned()),
                Ok(_) => (UploadProblem::NotAnImage, "stored content type differs".to_owned()),
                Err(e @ verify::VerifyError::TooManyPixels { .. }) => {
                    (UploadProblem::TooManyPixels, e.to_string())
                }
                Err(e) => (UploadProblem::NotAnImage, e.to_string()),
            };
            tracing::warn!(
                session.id_hash = log_id(&access.session_key),
                image.id = image_id,
                %reason,
                "upload rejected and discarded"
            );
            state.blobs.delete(&upload).await?;
            state.sessions.remove_image(&access.session_key, image_id).await?;
            close_slot(state, &upload).await?;
            return Err(refused(problem));
        }
    };
    // The verified bytes become the stored image; the upload key is not
    // read again, so nothing written there later is ever shown or filed.
    state.blobs.put(&record.blob_key, &record.content_type, bytes).await?;
    // The digest of the bytes as verified: commit files only these bytes,
    // whatever is later written to the (still signed) upload URL.
    let next = ImageRecord {
        width: inspected.width,
        height: inspected.height,
        uploaded_at: Some(unix_now()),
        captured_at,
        metadata: metadata.unwrap_or_default(),
        sha256: Some(digest),
        ..record.clone()
    };
    if !state.sessions.replace_image(&access.session_key, &record, &next).await? {
        // A concurrent retry registered it first; report the winner's view.
        return match state.sessions.image(&access.session_key, image_id).await? {
            Some(current) => info(state, &current, true).await,
            None => Err(ApiError::NotFound),
        };
    }
    // The desktops' streams replay from the session's history: the photo's
    // arrival must be in it.
    notify::publish_durably(state, access, SessionEvent::ImageAdded(info(state, &next, false).await?))
        .await?;
    // A registration is acknowledged only once the replicas hold it and its
    // event (one WAIT covers both), so a failover cannot lose a photo the
    // phone was told is safe, nor its arrival on the desktop. If they do not
    // answer in time, the phone is answered 503 and retries; the upload is
    // kept until then, in case the registration is lost after all.
    let replicated = state.sessions.replicated().await;
    if replicated.is_ok() {
        close_slot(state, &upload).await?;
        state.blobs.delete(&upload).await?;
    }
    tracing::info!(session.id_hash = log_id(&access.session_key), image.id = image_id, "image registered");
    metrics::counter!("uploads_registered_total").increment(1);
    replicated?;
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
    access: &DesktopAccess,
    image_id: &str,
    metadata: ImageMetadata,
) -> Result<ImageInfo, ApiError> {
    validate_metadata(&metadata)?;
    // Under the image's claim: no commit reads the record meanwhile.
    let work = update_metadata_claimed(state, access, image_id, metadata);
    with_image_claim(state, access, image_id, ApiError::BadRequest(BEING_FILED.into()), work).await
}

async fn update_metadata_claimed(
    state: &AppState,
    access: &Access,
    image_id: &str,
    metadata: ImageMetadata,
) -> Result<ImageInfo, ApiError> {
    let change = |current: &ImageRecord| {
        let open = current.uploaded_at.is_some()
            && !matches!(current.status, ImageStatus::Committing | ImageStatus::Committed { .. });
        open.then(|| ImageRecord { metadata: metadata.clone(), ..current.clone() })
    };
    match state.sessions.update_image(&access.session_key, image_id, &change).await? {
        Updated::Done(next) => {
            notify::publish(state, access, SessionEvent::ImageUpdated(info(state, &next, false).await?))
                .await;
            info(state, &next, true).await
        }
        Updated::Refused(current) if current.uploaded_at.is_some() => {
            Err(ApiError::BadRequest(ALREADY_FILED.into()))
        }
        Updated::Refused(_) | Updated::Missing => Err(ApiError::NotFound),
    }
}

/// Removes an image and its bytes (desktop only).
pub async fn delete(state: &AppState, access: &DesktopAccess, image_id: &str) -> Result<(), ApiError> {
    // The commit's own claim: while a commit holds it, the photo may be
    // reaching the patient's record, so it cannot go; and while this holds
    // it, no commit can start on it. The record is read under the claim.
    with_image_claim(state, access, image_id, ApiError::Forbidden, remove_claimed(state, access, image_id))
        .await
}

/// Removes an image under its claim. A `committing` one stays: a commit that
/// stopped half-way (an instance lost) may have filed it; committing again settles it.
async fn remove_claimed(state: &AppState, access: &Access, image_id: &str) -> Result<(), ApiError> {
    let Some(record) = state.sessions.image(&access.session_key, image_id).await? else {
        return Err(ApiError::NotFound);
    };
    if matches!(record.status, ImageStatus::Committing) {
        return Err(ApiError::Forbidden);
    }
    delete_blobs(state, &record).await?;
    if state.sessions.remove_image(&access.session_key, image_id).await? {
        notify::publish(state, access, SessionEvent::ImageRemoved { image_id: image_id.to_owned() }).await;
    }
    Ok(())
}

/// An image as events carry it (no preview URL).
pub async fn info_of(state: &AppState, record: &ImageRecord) -> Result<ImageInfo, ApiError> {
    info(state, record, false).await
}

pub(super) async fn info(
    state: &AppState,
    record: &ImageRecord,
    with_preview: bool,
) -> Result<ImageInfo, ApiError> {
    // A committed image's bytes are deleted once filed: no URL points at them.
    let committed = matches!(record.status, ImageStatus::Committed { .. });
    let preview_url = if with_preview && !committed {
        Some(state.blobs.presign_get(&record.blob_key, PREVIEW_TTL).await?)
    } else {
        None
    };
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
        revision: revision(record),
    })
}

/// The revision of what a commit would file: the bytes (their digest) and
/// the details. A status change is not a revision.
pub fn revision(record: &ImageRecord) -> String {
    let metadata = serde_json::to_string(&record.metadata).unwrap_or_default();
    let digest = sha256_hex(
        format!("{}\n{}\n{metadata}", record.sha256.as_deref().unwrap_or(""), record.blob_key).as_bytes(),
    );
    digest[..16].to_owned()
}
