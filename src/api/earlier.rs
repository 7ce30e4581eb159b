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
