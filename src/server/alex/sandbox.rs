//! The ALEX sandbox: a stand-in for the parts of Medtech's ALEX the app uses,
//! mounted at `/alex-sandbox` in embedded mode and runnable alone in tests.
//!
//! It enforces the documented rules rather than answering "200 OK" to
//! everything: a bad client secret is refused, and tokens expire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::server::ids::random_token;

/// Where the sandbox is mounted in the app.
pub const MOUNT: &str = "/alex-sandbox";

/// The sandbox's settings.
#[derive(Clone)]
pub struct SandboxConfig {
    pub client_id: String,
    pub client_secret: String,
    pub token_lifetime: Duration,
}

#[derive(Clone)]
struct Sandbox {
    config: SandboxConfig,
    tokens: Arc<Mutex<HashMap<String, Instant>>>,
}

/// The sandbox's routes, relative to its mount point, ready to nest in any router.
pub fn router<S: Clone + Send + Sync + 'static>(config: SandboxConfig) -> Router<S> {
    let sandbox = Sandbox { config, tokens: Arc::default() };
    Router::new().route("/", get(launcher)).route("/oauth2/v2.0/token", post(token)).with_state(sandbox)
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    (status, Json(json!({ "error": code, "error_description": description }))).into_response()
}

async fn token(State(sandbox): State<Sandbox>, Form(req): Form<TokenRequest>) -> Response {
    if req.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Use client_credentials.");
    }
    if req.scope.as_deref().is_none_or(|s| !s.ends_with("/.default")) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", "Scope must end in /.default.");
    }
    let cfg = &sandbox.config;
    if req.client_id.as_deref() != Some(cfg.client_id.as_str())
        || req.client_secret.as_deref() != Some(cfg.client_secret.as_str())
    {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Client authentication failed.");
    }
    let token = random_token();
    let now = Instant::now();
    {
        let mut tokens = sandbox.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.retain(|_, expires| *expires > now);
        tokens.insert(token.clone(), now + cfg.token_lifetime);
    }
    Json(json!({
        "token_type": "Bearer",
        "expires_in": cfg.token_lifetime.as_secs(),
        "access_token": token,
    }))
    .into_response()
}

async fn launcher() -> Html<&'static str> {
    Html(include_str!("sandbox_launcher.html"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    fn app() -> Router {
        router::<()>(SandboxConfig {
            client_id: "id".into(),
            client_secret: "right".into(),
            token_lifetime: Duration::from_secs(3599),
        })
    }

    async fn post_form(body: &str) -> (StatusCode, serde_json::Value) {
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
