//! The upload flow: presign → PUT (to the blob store) → register; list, edit, delete.

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json};

use super::CallerClient;
use crate::model::{ApiError, ImageInfo, ImageMetadata, UploadRequest, UploadTicket};

/// `POST /api/medtech/session/presigned-url` (cookie or bearer)
/// `{contentType, size, sha256?}` → [`UploadTicket`].
#[server(prefix = "/api", endpoint = "medtech/session/presigned-url", input = Json, client = CallerClient)]
pub async fn presign_upload(#[server(flatten)] request: UploadRequest) -> Result<UploadTicket, ApiError> {
    use crate::server::{
        http::caller::{caller, Caller, DesktopOrPhone},
        services::images,
    };

    let Caller { state, access } = caller::<DesktopOrPhone>().await?;
    images::presign(&state, &access, request).await
}

/// `POST /api/medtech/session/uploads/cancel` (cookie or bearer) `{imageId}` → `null`.
/// An upload never registered is dropped: its bytes are deleted at once and
/// its reservation freed (a photo removed or discarded before it was sent).
#[server(prefix = "/api", endpoint = "medtech/session/uploads/cancel", input = Json, client = CallerClient)]
pub async fn cancel_upload(#[server(rename = "imageId")] image_id: String) -> Result<(), ApiError> {
    use crate::server::{
        http::caller::{caller, Caller, DesktopOrPhone},
        services::upload_slots,
    };

    let Caller { state, access } = caller::<DesktopOrPhone>().await?;
    upload_slots::cancel(&state, &access, &image_id).await
}

/// `POST /api/medtech/session/images` (cookie or bearer) `{imageId, metadata?, capturedAt?}` → [`ImageInfo`].
/// `capturedAt` (RFC 3339) is the EXIF capture time the client read before stripping metadata.
#[server(prefix = "/api", endpoint = "medtech/session/images", input = Json, client = CallerClient)]
pub async fn register_image(
    #[server(rename = "imageId")] image_id: String,
    #[server(default)] metadata: Option<ImageMetadata>,
    #[server(rename = "capturedAt")]
    #[server(default)]
    captured_at: Option<String>,
) -> Result<ImageInfo, ApiError> {
    use crate::server::{
        http::caller::{caller, Caller, DesktopOrPhone},
        services::images,
    };

    let Caller { state, access } = caller::<DesktopOrPhone>().await?;
    images::register(&state, &access, &image_id, metadata, captured_at).await
}

/// `GET /api/medtech/session/images` (cookie: all images; bearer: that phone's) → `[ImageInfo]`.
#[server(prefix = "/api", endpoint = "medtech/session/images", input = GetUrl, client = CallerClient)]
pub async fn list_images() -> Result<Vec<ImageInfo>, ApiError> {
    use crate::server::{
        http::caller::{caller, Caller, DesktopOrPhone},
        services::images,
    };

    let Caller { state, access } = caller::<DesktopOrPhone>().await?;
    images::list(&state, &access).await
}

/// `POST /api/medtech/session/images/metadata` (cookie) `{imageId, metadata}` → [`ImageInfo`].
#[server(prefix = "/api", endpoint = "medtech/session/images/metadata", input = Json, client = CallerClient)]
pub async fn update_image_metadata(
    #[server(rename = "imageId")] image_id: String,
    metadata: ImageMetadata,
) -> Result<ImageInfo, ApiError> {
    use crate::server::{
        http::caller::{caller, Caller, Desktop},
        services::images,
    };

    let Caller { state, access } = caller::<Desktop>().await?;
    images::update_metadata(&state, &access, &image_id, metadata).await
}

/// `POST /api/medtech/session/images/delete` (cookie) `{imageId}` → `null`.
#[server(prefix = "/api", endpoint = "medtech/session/images/delete", input = Json, client = CallerClient)]
pub async fn delete_image(#[server(rename = "imageId")] image_id: String) -> Result<(), ApiError> {
    use crate::server::{
        http::caller::{caller, Caller, Desktop},
        services::images,
    };

    let Caller { state, access } = caller::<Desktop>().await?;
    images::delete(&state, &access, &image_id).await
}

/// `POST /api/medtech/session/images/version` (cookie) `{imageId, replacementId}` → [`ImageInfo`].
/// The edit (uploaded and registered as `replacementId`) becomes the image's
/// current version; the photo as first uploaded is kept until commit.
#[server(prefix = "/api", endpoint = "medtech/session/images/version", input = Json, client = CallerClient)]
pub async fn replace_image_version(
    #[server(rename = "imageId")] image_id: String,
    #[server(rename = "replacementId")] replacement_id: String,
) -> Result<ImageInfo, ApiError> {
    use crate::server::{
        http::caller::{caller, Caller, Desktop},
        services::edits,
    };

    let Caller { state, access } = caller::<Desktop>().await?;
    edits::replace_version(&state, &access, &image_id, &replacement_id).await
}

/// `POST /api/medtech/session/images/revert` (cookie) `{imageId}` → [`ImageInfo`]: back to the photo as uploaded.
#[server(prefix = "/api", endpoint = "medtech/session/images/revert", input = Json, client = CallerClient)]
pub async fn revert_image_version(
    #[server(rename = "imageId")] image_id: String,
) -> Result<ImageInfo, ApiError> {
    use crate::server::{
        http::caller::{caller, Caller, Desktop},
        services::edits,
    };

    let Caller { state, access } = caller::<Desktop>().await?;
    edits::revert_version(&state, &access, &image_id).await
}
