//! `/api/medtech/session/token`: a phone checks its QR-code link.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use super::BearerClient;
use crate::model::{ApiError, MobileLink};

/// `POST /api/medtech/session/token` (`Authorization: Bearer <token>`) → [`MobileLink`].
#[server(prefix = "/api", endpoint = "medtech/session/token", input = Json, client = BearerClient)]
pub async fn validate_mobile_token() -> Result<MobileLink, ApiError> {
    use crate::server::{api_error::reject, mobile, state::AppState};

    let state = expect_context::<AppState>();
    let headers: axum::http::HeaderMap = leptos_axum::extract()
        .await
        .map_err(|_| ApiError::Internal)?;
    mobile::validate(&state, &headers)
        .await?
        .map_err(|problem| reject(ApiError::Token(problem)))
}
