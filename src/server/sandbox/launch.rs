//! Evolution's launch, simulated: signed launch contexts, and the
//! vendor-forms endpoint that resolves them.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;

use super::{lock, outcome, Sandbox};
use crate::server::alex::LaunchContext;
use crate::server::support::clock::{rfc3339, unix_now};
use crate::server::support::ids::random_token;

/// Issued contexts and the key that signs them.
pub struct Contexts {
    key: [u8; 32],
    issued: Mutex<HashMap<String, LaunchContext>>,
}

impl Contexts {
    pub fn new() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random number generator failed");
        Self { key, issued: Mutex::default() }
    }

    fn sign(&self, context: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(context.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn verify(&self, context: &str, signature: &str) -> bool {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(context.as_bytes());
        hex::decode(signature).is_ok_and(|sig| mac.verify_slice(&sig).is_ok())
    }
}

/// `POST /launch-context` input: what Evolution knows when a GP clicks the app.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchRequest {
    pub patient_id: Option<String>,
    pub facility_id: String,
    pub provider_id: Option<String>,
    /// Backdates the context, so tests can launch with a stale one.
    #[serde(default)]
    pub age_seconds: u64,
}

fn issue(sandbox: &Sandbox, req: LaunchRequest) -> (String, String, String) {
    let context = random_token();
    let record = LaunchContext {
        patient_id: req.patient_id.filter(|p| !p.is_empty()),
        facility_code: req.facility_id,
        provider_id: req.provider_id.filter(|p| !p.is_empty()),
        created_time: rfc3339(unix_now().saturating_sub(req.age_seconds)),
    };
    lock(&sandbox.0.launch.issued).insert(context.clone(), record);
    let signature = sandbox.0.launch.sign(&context);
    let url = format!(
        "{}/medtech-images/launch?context={context}&signature={signature}",
        sandbox.0.config.app_origin.trim_end_matches('/')
    );
    (context, signature, url)
}

/// `POST /launch-context` `{patientId, facilityId, providerId?}` → `{context, signature, launchUrl}`.
pub async fn create(
    State(sandbox): State<Sandbox>,
    Json(req): Json<LaunchRequest>,
) -> Json<serde_json::Value> {
    let (context, signature, launch_url) = issue(&sandbox, req);
    Json(json!({"context": context, "signature": signature, "launchUrl": launch_url}))
}

/// `POST /launch` (the launcher page's form): "Open in Evolution", then off to the app.
pub async fn launch_form(State(sandbox): State<Sandbox>, Form(req): Form<LaunchRequest>) -> Response {
    let (_, _, url) = issue(&sandbox, req);
    (StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response()
}

/// `GET /vendorforms/api/getlaunchcontextstring/{context}/{signature}`
pub async fn resolve(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    Path((context, signature)): Path<(String, String)>,
) -> Response {
    if let Err(r) = sandbox.authorize(&headers) {
        return r.into_response();
    }
    if !sandbox.0.launch.verify(&context, &signature) {
        return outcome(StatusCode::FORBIDDEN, "forbidden", "Launch context signature is invalid.");
    }
    match lock(&sandbox.0.launch.issued).get(&context) {
        Some(ctx) => Json(ctx.clone()).into_response(),
        None => outcome(StatusCode::NOT_FOUND, "not-found", "Launch context not found."),
    }
}
