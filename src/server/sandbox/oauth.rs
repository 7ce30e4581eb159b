//! The sandbox's token endpoint: Azure AD's client-credentials grant, as
//! ALEX's callers use it.

use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::json;

use super::{lock, Sandbox};
use crate::server::support::ids::random_token;

#[derive(Deserialize)]
pub(super) struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    (status, Json(json!({ "error": code, "error_description": description }))).into_response()
}

/// `POST /oauth2/v2.0/token`: the Azure AD client-credentials grant.
pub(super) async fn token(State(sandbox): State<Sandbox>, Form(req): Form<TokenRequest>) -> Response {
    if req.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Use client_credentials.");
    }
    if req.scope.as_deref().is_none_or(|s| !s.ends_with("/.default")) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", "Scope must end in /.default.");
    }
    let cfg = &sandbox.0.config;
    if req.client_id.as_deref() != Some(cfg.client_id.as_str())
        || req.client_secret.as_deref() != Some(cfg.client_secret.as_str())
    {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Client authentication failed.");
    }
    let token = random_token();
    let now = Instant::now();
    {
        let mut tokens = lock(&sandbox.0.tokens);
        tokens.retain(|_, expires| *expires > now);
        tokens.insert(token.clone(), now + cfg.token_lifetime);
    }
    sandbox.0.token_grants.fetch_add(1, Ordering::Relaxed);
    Json(json!({
        "token_type": "Bearer",
        "expires_in": cfg.token_lifetime.as_secs(),
        "access_token": token,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::sandbox::SandboxConfig;
    use axum::body::Body;
    use axum::http::Request;
    use axum::Router;
    use serde_json::Value;
    use std::time::Duration;
    use tower::ServiceExt;

    fn app() -> Router {
        crate::server::sandbox::router::<()>(Sandbox::new(SandboxConfig {
            client_id: "id".into(),
            client_secret: "right".into(),
            token_lifetime: Duration::from_secs(3599),
            app_origin: "http://app".into(),
            strict_search: false,
        }))
    }

    async fn post_form(body: &str) -> (StatusCode, Value) {
        let req = Request::post("/oauth2/v2.0/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body.to_owned()))
            .unwrap();
        let res = app().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 16).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn grants_a_token_for_the_right_secret() {
        let (status, body) = post_form(
            "grant_type=client_credentials&client_id=id&client_secret=right&scope=api%3A%2F%2Fx%2F.default",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["expires_in"], 3599);
        assert!(body["access_token"].as_str().unwrap().len() >= 22);
    }

    #[tokio::test]
    async fn refuses_a_bad_secret() {
        let (status, body) = post_form(
            "grant_type=client_credentials&client_id=id&client_secret=wrong&scope=api%3A%2F%2Fx%2F.default",
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"], "invalid_client");
    }
}
