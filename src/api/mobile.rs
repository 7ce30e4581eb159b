//! Phone links: minting a QR code (desktop) and checking one (phone).

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use super::CallerClient;
use crate::model::{ApiError, MobileGrant, MobileLink};

/// `POST /api/medtech/session/mobile-token` (desktop cookie) → [`MobileGrant`].
/// Revokes the previous token.
#[server(prefix = "/api", endpoint = "medtech/session/mobile-token", input = Json, client = CallerClient)]
pub async fn create_mobile_token() -> Result<MobileGrant, ApiError> {
    use crate::server::{
        http::caller::{caller, Caller, Desktop},
        services::phone_links,
    };

    let Caller { state, access } = caller::<Desktop>().await?;
    phone_links::mint(&state, &access).await
}

/// `POST /api/medtech/session/token` (`Authorization: Bearer <token>`) `{phoneId?}` → [`MobileLink`].
/// `phoneId` is a random id the phone's tab keeps, so the desktop can count phones.
#[server(prefix = "/api", endpoint = "medtech/session/token", input = Json, client = CallerClient)]
pub async fn validate_mobile_token(
    #[server(rename = "phoneId")]
    #[server(default)]
    phone_id: Option<String>,
) -> Result<MobileLink, ApiError> {
    use crate::server::{
        http::caller::{caller, Caller, Headers},
        services::phone_links,
    };

    let Caller { state, access: headers } = caller::<Headers>().await?;
    phone_links::validate(&state, &headers, phone_id.as_deref()).await
}
