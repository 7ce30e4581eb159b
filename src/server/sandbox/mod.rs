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
mod earlier;
mod faults;
mod fhir;
mod launch;
mod oauth;
mod pages;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub use self::data::{SandboxPatient, PATIENTS, PATIENT_WITHOUT_NHI};
pub use self::faults::Fault;
use self::faults::Outage;

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
    /// An earlier filing the sandbox holds from the start (or a test
    /// added): found by search, not in the inbox.
    pub seeded: bool,
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
            resources: Mutex::new(earlier::seeded()),
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

    /// Everything it holds (the earlier filings first), oldest first.
    pub fn resources(&self) -> Vec<Stored> {
        lock(&self.0.resources).clone()
    }

    /// What this app filed: everything accepted, oldest first.
    pub fn filings(&self) -> Vec<Stored> {
        lock(&self.0.resources).iter().filter(|s| !s.seeded).cloned().collect()
    }
}

/// The sandbox's routes, relative to its mount point, ready to nest in any router.
pub fn router<S: Clone + Send + Sync + 'static>(sandbox: Sandbox) -> Router<S> {
    let faulty = Router::new()
        .route("/FHIR/Patient", get(fhir::search_patients))
        .route("/FHIR/Patient/{id}", get(fhir::read_patient))
        .route("/FHIR/Media", post(fhir::create_media).get(fhir::search_media))
        .route("/FHIR/DocumentReference", post(fhir::create_document_reference).get(fhir::search_documents))
        .route("/FHIR/Binary/{id}", get(earlier::binary))
        .route("/vendorforms/api/getlaunchcontextstring/{context}/{signature}", get(launch::resolve))
        .layer(middleware::from_fn_with_state(sandbox.clone(), faults::inject_faults))
        .layer(middleware::from_fn_with_state(sandbox.clone(), faults::simulate_outage));
    Router::new()
        .route("/", get(pages::launcher))
        .route("/inbox", get(pages::inbox))
        .route("/inbox.json", get(pages::inbox_json))
        .route("/inbox/{id}/content", get(pages::content))
        .route("/oauth2/v2.0/token", post(oauth::token))
        .route("/launch-context", post(launch::create))
        .route("/launch", post(launch::launch_form))
        .route("/faults", post(faults::add_faults))
        .route("/outage", post(faults::add_outage))
        .route("/search-mode", post(set_search_mode))
        .route("/earlier", post(earlier::add))
        .route("/stats", get(stats))
        .merge(faulty)
        .with_state(sandbox)
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

/// `GET /stats`: counters tests assert on (`searchesRefused`: searches
/// refused in strict mode).
async fn stats(State(sandbox): State<Sandbox>) -> Json<Value> {
    Json(json!({
        "tokenGrants": sandbox.0.token_grants.load(Ordering::Relaxed),
        "resources": sandbox.filings().len(),
        "strictSearch": sandbox.strict_search(),
        "searchesRefused": sandbox.0.searches_refused.load(Ordering::Relaxed),
    }))
}
