//! The ALEX sandbox: a stand-in for the parts of Medtech's ALEX the app uses.
//! Mounted at `/sandbox/alex` in embedded mode; tests also serve it alone on
//! its own port and point app instances at it.
//!
//! It enforces the documented rules (`shared/reference/alex.md`) rather than
//! answering "201" to everything: a bad client secret is refused, tokens
//! expire, `mt-facilityid` must name a known facility, `identifier.value` is
//! mandatory, patients must exist, attachments must decode to their declared
//! type, and DocumentReference takes only PDF or TIFF up to 8 MB. Faults can
//! be injected, and a read-only inbox shows what a practice would see.
//!
//! In strict search mode (`strict_search`, or `POST /search-mode`), searches
//! with any parameter ALEX does not document are refused with 400
//! `not-supported`, as a strict FHIR server refuses them.

mod data;
mod fhir;
mod launch;
mod pages;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::server::support::ids::random_token;

pub use self::data::{SandboxPatient, PATIENTS, PATIENT_WITHOUT_NHI};

/// Where the sandbox is mounted in the app.
pub const MOUNT: &str = "/sandbox/alex";

/// The sandbox's settings.
#[derive(Clone)]
pub struct SandboxConfig {
    pub client_id: String,
    pub client_secret: String,
    pub token_lifetime: Duration,
    /// Origin of the app the launcher sends Evolution launches to.
    pub app_origin: String,
    /// Start in strict search mode: searches with any parameter ALEX does
    /// not document answer 400 `not-supported`. `POST /search-mode` switches it.
    pub strict_search: bool,
}

impl SandboxConfig {
    /// The sandbox's settings from the app's configuration: the one place
    /// they are built, for the mounted sandbox and `alex-sandbox` alike.
    pub fn from_config(config: &crate::server::config::Config) -> SandboxConfig {
        SandboxConfig {
            client_id: config.alex.client_id.clone(),
            client_secret: secrecy::ExposeSecret::expose_secret(&config.alex.client_secret).to_owned(),
            token_lifetime: config.alex.sandbox_token_lifetime,
            app_origin: config.public_origin(),
            strict_search: config.alex.sandbox_strict_search,
        }
    }
}

/// One injected fault.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// Answer with this status instead of handling the request.
    pub status: Option<u16>,
    /// Sleep this long first.
    #[serde(default)]
    pub delay_ms: u64,
    /// `Retry-After` seconds to send with the status.
    pub retry_after: Option<u64>,
    /// Handle the request first, then answer with `status` anyway: a lost
    /// response (the resource exists, the client never hears so).
    #[serde(default)]
    pub after_handling: bool,
    /// Only calls about this patient: its id in the path or the body's
    /// `subject`, or its NHI in the query. Unset: any call. Scoped faults let
    /// parallel tests, each with its own patient, share one sandbox.
    pub patient_id: Option<String>,
    /// Only calls whose path contains this (`/Patient/`, `/Media`, …).
    pub path: Option<String>,
}

impl Fault {
    fn matches(&self, path_and_query: &str, body: &[u8]) -> bool {
        if self.path.as_deref().is_some_and(|p| !path_and_query.contains(p)) {
            return false;
        }
        let Some(id) = &self.patient_id else { return true };
        let decoded: String = url::form_urlencoded::parse(path_and_query.as_bytes())
            .map(|(k, v)| format!("{k}={v}&"))
            .collect();
        let nhi = data::patient(id).map(|p| p.nhi).filter(|n| !n.is_empty());
        path_and_query.contains(id.as_str())
            || nhi.is_some_and(|n| decoded.contains(n))
            || serde_json::from_slice::<Value>(body)
                .is_ok_and(|b| b["subject"]["reference"].as_str() == Some(&format!("Patient/{id}")))
    }
}

/// A resource the sandbox accepted.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: String,
    pub resource_type: &'static str,
    pub patient_id: String,
    pub facility: String,
    pub received_at: String,
    pub resource: Value,
    /// The decoded attachment.
    pub content: (String, Vec<u8>),
}

struct Inner {
    config: SandboxConfig,
    tokens: Mutex<HashMap<String, Instant>>,
    token_grants: AtomicUsize,
    faults: Mutex<VecDeque<Fault>>,
    outage: Mutex<Option<Outage>>,
    resources: Mutex<Vec<Stored>>,
    launch: launch::Contexts,
    strict_search: AtomicBool,
    searches_refused: AtomicUsize,
}

/// A whole-service outage: after `after_creates` more resources are filed,
/// every FHIR call answers 503 for `length`, as ALEX's gateway does when the
/// service behind it is down.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Outage {
    #[serde(default)]
    after_creates: usize,
    #[serde(rename = "ms", deserialize_with = "millis")]
    length: Duration,
    #[serde(skip)]
    until: Option<Instant>,
}

fn millis<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_millis)
}

/// Shared sandbox state (cheap to clone).
#[derive(Clone)]
pub struct Sandbox(Arc<Inner>);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A refusal, sent as an OperationOutcome.
pub struct Refusal {
    status: StatusCode,
    code: &'static str,
    diagnostics: String,
}

impl Refusal {
    pub fn new(status: StatusCode, code: &'static str, diagnostics: impl Into<String>) -> Self {
        Self { status, code, diagnostics: diagnostics.into() }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        outcome(self.status, self.code, &self.diagnostics)
    }
}

/// An OperationOutcome response, as ALEX sends errors.
pub fn outcome(status: StatusCode, code: &str, diagnostics: &str) -> Response {
    let body = json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    });
    (status, [("content-type", "application/fhir+json")], body.to_string()).into_response()
}

impl Sandbox {
    /// A fresh sandbox with no tokens, contexts or resources.
    pub fn new(config: SandboxConfig) -> Self {
        Sandbox(Arc::new(Inner {
            strict_search: AtomicBool::new(config.strict_search),
            searches_refused: AtomicUsize::new(0),
            config,
            tokens: Mutex::default(),
            token_grants: AtomicUsize::new(0),
            faults: Mutex::default(),
            outage: Mutex::default(),
            resources: Mutex::default(),
            launch: launch::Contexts::new(),
        }))
    }

    fn token_valid(&self, token: &str) -> bool {
        lock(&self.0.tokens).get(token).is_some_and(|exp| *exp > Instant::now())
    }

    /// Checks `Authorization: Bearer` against issued, unexpired tokens.
    fn authorize(&self, headers: &axum::http::HeaderMap) -> Result<(), Refusal> {
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if token.is_some_and(|t| self.token_valid(t)) {
            Ok(())
        } else {
            Err(Refusal::new(StatusCode::UNAUTHORIZED, "forbidden", "Authorization failed."))
        }
    }

    fn store(&self, stored: Stored) {
        lock(&self.0.resources).push(stored);
    }

    /// Whether searches refuse parameters ALEX does not document.
    pub fn strict_search(&self) -> bool {
        self.0.strict_search.load(Ordering::Relaxed)
    }

    /// Switches strict search mode.
    pub fn set_strict_search(&self, strict: bool) {
        self.0.strict_search.store(strict, Ordering::Relaxed);
    }

    fn count_refused_search(&self) {
        self.0.searches_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Everything accepted so far, oldest first.
    pub fn resources(&self) -> Vec<Stored> {
        lock(&self.0.resources).clone()
    }
}

/// The sandbox's routes, relative to its mount point, ready to nest in any router.
pub fn router<S: Clone + Send + Sync + 'static>(sandbox: Sandbox) -> Router<S> {
    let faulty = Router::new()
        .route("/FHIR/Patient", get(fhir::search_patients))
        .route("/FHIR/Patient/{id}", get(fhir::read_patient))
        .route("/FHIR/Media", post(fhir::create_media).get(fhir::search_media))
        .route("/FHIR/DocumentReference", post(fhir::create_document_reference).get(fhir::search_documents))
        .route("/vendorforms/api/getlaunchcontextstring/{context}/{signature}", get(launch::resolve))
        .layer(middleware::from_fn_with_state(sandbox.clone(), inject_faults))
        .layer(middleware::from_fn_with_state(sandbox.clone(), simulate_outage));
    Router::new()
        .route("/", get(pages::launcher))
        .route("/inbox", get(pages::inbox))
        .route("/inbox.json", get(pages::inbox_json))
        .route("/inbox/{id}/content", get(pages::content))
        .route("/oauth2/v2.0/token", post(token))
        .route("/launch-context", post(launch::create))
        .route("/launch", post(launch::launch_form))
        .route("/faults", post(add_faults))
        .route("/outage", post(add_outage))
        .route("/search-mode", post(set_search_mode))
        .route("/stats", get(stats))
        .merge(faulty)
        .with_state(sandbox)
}

#[derive(Deserialize)]
struct FaultRequest {
    count: usize,
    #[serde(flatten)]
    fault: Fault,
}

/// `POST /faults` `{count, status?, delayMs?, retryAfter?, afterHandling?, patientId?, path?}`:
/// the next `count` matching FHIR calls misbehave.
async fn add_faults(State(sandbox): State<Sandbox>, Json(req): Json<FaultRequest>) -> StatusCode {
    lock(&sandbox.0.faults).extend(std::iter::repeat_n(req.fault, req.count));
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct SearchMode {
    strict: bool,
}

/// `POST /search-mode` `{strict}`: from now on, searches with parameters ALEX
/// does not document are refused (`true`) or answered (`false`).
async fn set_search_mode(State(sandbox): State<Sandbox>, Json(mode): Json<SearchMode>) -> StatusCode {
    sandbox.set_strict_search(mode.strict);
    StatusCode::NO_CONTENT
}

/// `POST /outage` `{ms, afterCreates?}`: once `afterCreates` more resources
/// are filed (0: at once), every FHIR call answers 503 for `ms`.
async fn add_outage(State(sandbox): State<Sandbox>, Json(mut outage): Json<Outage>) -> StatusCode {
    if outage.after_creates == 0 {
        outage.until = Some(Instant::now() + outage.length);
    }
    *lock(&sandbox.0.outage) = Some(outage);
    StatusCode::NO_CONTENT
}

async fn simulate_outage(State(sandbox): State<Sandbox>, req: Request, next: Next) -> Response {
    let now = Instant::now();
    {
        let mut outage = lock(&sandbox.0.outage);
        match outage.as_ref().and_then(|o| o.until) {
            Some(until) if now < until => {
                return outage_response();
            }
            Some(_) => *outage = None,
            None => {}
        }
    }
    let creates = req.method() == axum::http::Method::POST;
    let res = next.run(req).await;
    if creates && res.status() == StatusCode::CREATED {
        if let Some(o) = lock(&sandbox.0.outage).as_mut().filter(|o| o.until.is_none()) {
            o.after_creates = o.after_creates.saturating_sub(1);
            if o.after_creates == 0 {
                o.until = Some(Instant::now() + o.length);
            }
        }
    }
    res
}

fn outage_response() -> Response {
    let mut res = outcome(StatusCode::SERVICE_UNAVAILABLE, "transient", "The service is unavailable.");
    res.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("1"));
    res
}

async fn inject_faults(State(sandbox): State<Sandbox>, req: Request, next: Next) -> Response {
    if lock(&sandbox.0.faults).is_empty() {
        return next.run(req).await;
    }
    let path = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 64 << 20).await.unwrap_or_default();
    let fault = {
        let mut faults = lock(&sandbox.0.faults);
        let at = faults.iter().position(|f| f.matches(&path, &body));
        at.and_then(|i| faults.remove(i))
    };
    let req = Request::from_parts(parts, axum::body::Body::from(body));
    let Some(fault) = fault else { return next.run(req).await };
    if fault.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
    }
    match fault.status.and_then(|s| StatusCode::from_u16(s).ok()) {
        Some(status) => {
            if fault.after_handling {
                let _ = next.run(req).await;
            }
            let mut res = outcome(status, "transient", "Injected fault.");
            if let Some(secs) = fault.retry_after {
                if let Ok(v) = secs.to_string().parse() {
                    res.headers_mut().insert("retry-after", v);
                }
            }
            res
        }
        None => next.run(req).await,
    }
}

/// `GET /stats`: counters tests assert on (`searchesRefused`: searches
/// refused in strict mode).
async fn stats(State(sandbox): State<Sandbox>) -> Json<Value> {
    Json(json!({
        "tokenGrants": sandbox.0.token_grants.load(Ordering::Relaxed),
        "resources": lock(&sandbox.0.resources).len(),
        "strictSearch": sandbox.strict_search(),
        "searchesRefused": sandbox.0.searches_refused.load(Ordering::Relaxed),
    }))
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

/// `POST /oauth2/v2.0/token`: the Azure AD client-credentials grant.
async fn token(State(sandbox): State<Sandbox>, Form(req): Form<TokenRequest>) -> Response {
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
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    fn app() -> Router {
        router::<()>(Sandbox::new(SandboxConfig {
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
