//! `/api/medtech/session/earlier-photos`: the patient's earlier photos.

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json};

use super::CallerClient;
use crate::model::{ApiError, EarlierPhoto};

/// `GET /api/medtech/session/earlier-photos` (desktop session) →
/// `[EarlierPhoto]`: this patient's earlier photos in ALEX, newest first,
/// each with a short-lived thumbnail URL. 503 when ALEX cannot be searched.
#[server(prefix = "/api", endpoint = "medtech/session/earlier-photos", input = GetUrl, client = CallerClient)]
pub async fn earlier_photos() -> Result<Vec<EarlierPhoto>, ApiError> {
    use crate::server::{
        http::caller::{caller, Caller, Desktop},
        services::earlier,
    };

    let Caller { state, access } = caller::<Desktop>().await?;
    earlier::list(&state, &access).await
}

/// `POST /api/medtech/session/earlier-photos/open` (desktop session)
/// `{resourceType, resourceId}` → a signed URL to the full picture of an
/// earlier photo this session listed, valid for minutes.
#[server(prefix = "/api", endpoint = "medtech/session/earlier-photos/open", input = Json, client = CallerClient)]
pub async fn open_earlier_photo(
    #[server(rename = "resourceType")] resource_type: String,
    #[server(rename = "resourceId")] resource_id: String,
) -> Result<String, ApiError> {
    use crate::server::{
        http::caller::{caller, Caller, Desktop},
        services::earlier,
    };

    let Caller { state, access } = caller::<Desktop>().await?;
    earlier::open(&state, &access, &resource_type, &resource_id).await
}

/// `POST /api/medtech/session/retake` (desktop session)
/// `{resourceType, resourceId}` → `null`: asks the phone for a photo like
/// this earlier one, for ten minutes.
#[server(prefix = "/api", endpoint = "medtech/session/retake", input = Json, client = CallerClient)]
pub async fn request_retake(
    #[server(rename = "resourceType")] resource_type: String,
    #[server(rename = "resourceId")] resource_id: String,
) -> Result<(), ApiError> {
    use crate::server::{
        http::caller::{caller, Caller, Desktop},
        services::earlier,
    };

    let Caller { state, access } = caller::<Desktop>().await?;
    earlier::request_retake(&state, &access, &resource_type, &resource_id).await
}

/// `GET /api/medtech/session/retake-guide` (the phone's bearer only) →
/// [`RetakeGuide`] or `null`: the earlier photo to line the new one up with.
#[server(name = RetakeGuideCall, prefix = "/api", endpoint = "medtech/session/retake-guide", input = GetUrl, client = CallerClient)]
pub async fn retake_guide() -> Result<Option<crate::model::RetakeGuide>, ApiError> {
    use crate::server::{
        http::caller::{caller, Caller, Phone},
        services::earlier,
    };

    let Caller { state, access } = caller::<Phone>().await?;
    earlier::retake_guide(&state, &access).await
}
