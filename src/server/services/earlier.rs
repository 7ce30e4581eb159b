//! A patient's earlier clinical photos, for the desktop to show beside
//! today's: read from ALEX by the documented search (Media; in scan mode
//! also DocumentReferences typed as photographs), the newest
//! [`LIMIT`], each with a thumbnail made here.
//!
//! Privacy: what is read from ALEX is kept only in the session's own blob
//! folder (a thumbnail, and the picture for when the GP opens it), under
//! `earlier/`. The page gets short-lived signed URLs, the full picture's
//! only when the GP opens it ([`open`]). The folder goes when the session
//! ends, and the sweep removes it once the session has expired. A photo's
//! bytes by URL are read from this ALEX only.

use std::time::Duration;

use futures::{stream, StreamExt};

use crate::model::messages::NO_NHI_FOR_EARLIER;
use crate::model::{ApiError, EarlierPhoto, RetakeGuide};
use crate::server::alex::earlier::{self, Content, Earlier};
use crate::server::alex::CallContext;
use crate::server::app_state::AppState;
use crate::server::config::CommitMode;
use crate::server::services::auth::{Access, DesktopAccess};
use crate::server::services::upload_slots::blob_dir;
use crate::server::support::clock::unix_now;
use crate::server::support::decode::decode_bounded;
use crate::server::support::ids::sha256_hex;

/// Most earlier photos listed: the newest.
pub const LIMIT: usize = 50;
/// A thumbnail's longest edge, in pixels.
const THUMBNAIL_EDGE: u32 = 320;
/// How long a signed URL to an earlier photo works.
const URL_TTL: Duration = Duration::from_secs(300);
/// Photos read from ALEX at once while making thumbnails.
const AT_ONCE: usize = 4;

/// The session's folder of bytes read from ALEX.
pub fn cache_dir(session_key: &str) -> String {
    format!("{}/earlier", blob_dir(session_key))
}

fn cache_key(session_key: &str, resource_type: &str, resource_id: &str, part: &str) -> String {
    let name = &sha256_hex(format!("{resource_type}/{resource_id}").as_bytes())[..32];
    format!("{}/{name}-{part}", cache_dir(session_key))
}

/// `GET /api/medtech/session/earlier-photos`: this patient's earlier
/// photos, newest first, each with a thumbnail URL where one could be made.
pub async fn list(state: &AppState, access: &DesktopAccess) -> Result<Vec<EarlierPhoto>, ApiError> {
    let Some(nhi) = access.session.nhi.clone() else {
        return Err(ApiError::BadRequest(NO_NHI_FOR_EARLIER.into()));
    };
    let ctx = CallContext {
        facility_id: access.session.facility_id.clone(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
    };
    let mut kinds = vec!["Media"];
    if state.config.alex.commit_mode == CommitMode::Scan {
        kinds.push("DocumentReference");
    }
    let subject = format!("Patient/{}", access.session.patient_id);
    let mut found = Vec::new();
    for kind in kinds {
        for resource in state.alex.search_by_nhi(kind, &nhi, &ctx).await? {
            // The search is by NHI; a resource naming another patient is not this one's.
            if resource["subject"]["reference"].as_str().is_some_and(|s| s != subject) {
                continue;
            }
            found.extend(earlier::read(&resource));
        }
    }
    let found = earlier::newest(found, LIMIT);
    // What is cached goes with the session, however it ends.
    state.sweeps.watch(&access.session_key);
    let photos = stream::iter(found)
        .map(|e| with_thumbnail(state, access, &ctx, e))
        .buffered(AT_ONCE)
        .collect::<Vec<_>>()
        .await;
    tracing::info!(listed = photos.len(), correlation_id = %ctx.correlation_id, "earlier photos listed");
    Ok(photos)
}

/// The photo with a signed thumbnail URL: cached already, or read now.
/// A photo that cannot be read or pictured is listed without one.
async fn with_thumbnail(
    state: &AppState,
    access: &DesktopAccess,
    ctx: &CallContext,
    e: Earlier,
) -> EarlierPhoto {
    let mut photo = e.photo;
    let thumb = cache_key(&access.session_key, &photo.resource_type, &photo.resource_id, "thumb");
    let cached = matches!(state.blobs.head(&thumb).await, Ok(Some(_)));
    if !cached && !cache(state, access, ctx, &photo, e.content).await {
        return photo;
    }
    photo.thumbnail_url = state.blobs.presign_get(&thumb, URL_TTL).await.ok();
    photo
}

/// Reads the photo's bytes, makes its thumbnail, and keeps both in the
/// session's folder. False if there is nothing to show.
async fn cache(
    state: &AppState,
    access: &DesktopAccess,
    ctx: &CallContext,
    photo: &EarlierPhoto,
    content: Content,
) -> bool {
    let (content_type, bytes) = match content {
        Content::Inline { content_type, bytes } => (Some(content_type), bytes),
        Content::Url { content_type, url } => match state.alex.attachment(&url, ctx).await {
            Ok(bytes) => (content_type, bytes),
            Err(e) => {
                tracing::warn!(error = %e, correlation_id = %ctx.correlation_id, "an earlier photo could not be read");
                return false;
            }
        },
        Content::Missing => return false,
    };
    let max_pixels = state.config.uploads.max_pixels;
    let made = tokio::task::spawn_blocking(move || {
        let (kind, picture) = earlier::picture(content_type.as_deref(), bytes)?;
        let thumbnail = thumbnail(&picture, max_pixels)?;
        Some((kind, picture, thumbnail))
    })
    .await
    .ok()
    .flatten();
    let Some((kind, picture, thumbnail)) = made else {
        tracing::info!(resource_type = %photo.resource_type, "an earlier photo is not a picture; listed without one");
        return false;
    };
    let key = |part| cache_key(&access.session_key, &photo.resource_type, &photo.resource_id, part);
    let facts = serde_json::to_vec(photo).unwrap_or_default();
    let stored = async {
        state.blobs.put(&key("full"), kind, picture).await?;
        state.blobs.put(&key("facts"), "application/json", facts).await?;
        state.blobs.put(&key("thumb"), "image/jpeg", thumbnail).await
    };
    match stored.await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "an earlier photo's thumbnail could not be kept");
            false
        }
    }
}

/// A JPEG of at most [`THUMBNAIL_EDGE`] on its longest side.
fn thumbnail(picture: &[u8], max_pixels: u64) -> Option<Vec<u8>> {
    let image = decode_bounded(picture, max_pixels).ok()?;
    let small = image.thumbnail(THUMBNAIL_EDGE, THUMBNAIL_EDGE).to_rgb8();
    let mut out = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&small).ok()?;
    Some(out.into_inner())
}

/// `POST /api/medtech/session/earlier-photos/open`: a signed URL to the
/// full picture of an earlier photo this session listed. Nothing is read
/// from ALEX: a photo not listed (and so not cached) here is not found.
pub async fn open(
    state: &AppState,
    access: &DesktopAccess,
    resource_type: &str,
    resource_id: &str,
) -> Result<String, ApiError> {
    let key = cache_key(&access.session_key, resource_type, resource_id, "full");
    if state.blobs.head(&key).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    Ok(state.blobs.presign_get(&key, URL_TTL).await?)
}

/// How long a "Retake on phone" request stands.
const RETAKE_FOR: Duration = Duration::from_secs(600);
/// How long the phone's URL of the guide works.
const GUIDE_URL_TTL: Duration = Duration::from_secs(120);

fn retake_key(session_key: &str) -> String {
    format!("{}/retake", cache_dir(session_key))
}

/// `POST /api/medtech/session/retake`: the GP asks the phone for a photo
/// like this earlier one (listed by this session). It stands for
/// [`RETAKE_FOR`], or until the GP asks for another.
pub async fn request_retake(
    state: &AppState,
    access: &DesktopAccess,
    resource_type: &str,
    resource_id: &str,
) -> Result<(), ApiError> {
    let facts = cache_key(&access.session_key, resource_type, resource_id, "facts");
    let Some((_, facts)) = state.blobs.get(&facts).await? else { return Err(ApiError::NotFound) };
    let mut request: serde_json::Value = serde_json::from_slice(&facts).map_err(|_| ApiError::NotFound)?;
    request["setAt"] = serde_json::json!(unix_now());
    state
        .blobs
        .put(&retake_key(&access.session_key), "application/json", request.to_string().into_bytes())
        .await?;
    Ok(())
}

/// `GET /api/medtech/session/retake-guide` (the phone's link only): the
/// standing retake request, if any, with a signed URL of the earlier photo
/// that works for [`GUIDE_URL_TTL`]. The phone shows it over the camera and
/// keeps nothing.
/// The caller is the phone (`caller::<Phone>`).
pub async fn retake_guide(state: &AppState, access: &Access) -> Result<Option<RetakeGuide>, ApiError> {
    let Some((_, request)) = state.blobs.get(&retake_key(&access.session_key)).await? else {
        return Ok(None);
    };
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(&request) else { return Ok(None) };
    let set_at = request["setAt"].as_u64().unwrap_or(0);
    if unix_now().saturating_sub(set_at) > RETAKE_FOR.as_secs() {
        return Ok(None);
    }
    let Ok(photo) = serde_json::from_value::<EarlierPhoto>(request) else { return Ok(None) };
    let full = cache_key(&access.session_key, &photo.resource_type, &photo.resource_id, "full");
    if state.blobs.head(&full).await?.is_none() {
        return Ok(None);
    }
    Ok(Some(RetakeGuide {
        url: state.blobs.presign_get(&full, GUIDE_URL_TTL).await?,
        date: photo.date,
        body_site: photo.body_site,
        laterality: photo.laterality,
        site_text: photo.site_text,
    }))
}
