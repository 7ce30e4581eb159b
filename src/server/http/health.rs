//! Health. On the public port, only what a probe needs and nothing about
//! the deployment: `/livez` (the process is up: restart it if not) and
//! `/readyz` (alias `/healthz`: send it traffic only when usable), each a
//! bare `{status}`. Readiness is answered from a cached check, at most one
//! backend check per [`READY_FOR`] per instance, so a flood of probes costs
//! the stores nothing. A stopping instance reports not ready, so a load
//! balancer drains it before it goes.
//!
//! The detail (mode, version, each dependency) is on the metrics listener
//! only (`METRICS_ADDR`, `/healthz`), checked fresh. Checks run
//! concurrently, each bounded by a timeout, so a hung dependency makes the
//! report slow by at most that bound rather than forever. Causes go to the
//! log; the report carries only a short summary.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::model::{DependencyReport, HealthReport, Mode};
use crate::server::app_state::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

async fn check<E: std::fmt::Display>(
    name: &'static str,
    backend: &str,
    fut: impl std::future::Future<Output = Result<(), E>>,
) -> DependencyReport {
    let (ok, detail) = match tokio::time::timeout(CHECK_TIMEOUT, fut).await {
        Ok(Ok(())) => (true, "reachable".to_owned()),
        Ok(Err(e)) => {
            tracing::warn!(dependency = name, backend, error = %e, "health check failed");
            (false, "unreachable".to_owned())
        }
        Err(_) => {
            tracing::warn!(dependency = name, backend, "health check timed out");
            (false, "timed out".to_owned())
        }
    };
    DependencyReport { backend: backend.to_owned(), ok, detail }
}

/// Runs every check and assembles the report.
pub async fn report(state: &AppState) -> HealthReport {
    let (session_store, blob_store, alex) = tokio::join!(
        check("session_store", state.sessions.backend(), state.sessions.ping()),
        check("blob_store", state.blobs.backend(), state.blobs.ping()),
        check("alex", state.alex.backend(), state.alex.ping()),
    );
    let embedded =
        [session_store.backend == "memory", blob_store.backend == "local-disk", alex.backend == "sandbox"];
    let mode = match embedded {
        [true, true, true] => Mode::Embedded,
        [false, false, false] => Mode::Production,
        _ => Mode::Mixed,
    };
    let mut report = HealthReport {
        mode,
        status: String::new(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        session_store,
        blob_store,
        alex,
    };
    report.status = if report.is_usable() { "ok" } else { "degraded" }.to_owned();
    report
}

/// How long a readiness check's answer is reused.
pub const READY_FOR: Duration = Duration::from_secs(1);

/// The instance's last readiness check, shared by every probe.
#[derive(Default)]
pub struct Readiness {
    last: tokio::sync::Mutex<Option<(Instant, bool)>>,
    checks: AtomicU64,
}

impl Readiness {
    /// Whether every dependency answered, checked at most once per
    /// [`READY_FOR`]: probes that arrive while a check runs wait for it.
    pub async fn usable(&self, state: &AppState) -> bool {
        let mut last = self.last.lock().await;
        if let Some((at, usable)) = *last {
            if at.elapsed() < READY_FOR {
                return usable;
            }
        }
        self.checks.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("readiness_checks_total").increment(1);
        let usable = report(state).await.is_usable();
        *last = Some((Instant::now(), usable));
        usable
    }

    /// Backend checks run so far (for tests of the cache).
    pub fn checks(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }
}

/// `GET /readyz` (and `/healthz`): `{status: "ready"}` 200 when usable;
/// 503 `unready` when a dependency is down, `draining` while the instance
/// shuts down. Nothing else: the detail is on the metrics listener.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let status = if *state.shutdown.borrow() {
        "draining"
    } else if state.readiness.usable(&state).await {
        "ready"
    } else {
        "unready"
    };
    let code = if status == "ready" { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(serde_json::json!({ "status": status })))
}

/// The metrics listener's `GET /healthz`: the whole report, checked now.
/// 200 when usable, 503 when a dependency is down or the instance drains.
pub async fn detail(State(state): State<AppState>) -> (StatusCode, Json<HealthReport>) {
    let mut report = report(&state).await;
    let draining = *state.shutdown.borrow();
    if draining {
        report.status = "draining".to_owned();
    }
    let ready = report.is_usable() && !draining;
    (if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(report))
}

/// Middleware: once the instance is stopping, every answer closes its
/// connection (HTTP/1.1 `Connection: close`), so no client or proxy sends
/// another request on it while the listener is about to shut.
pub async fn close_when_stopping(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut res = next.run(req).await;
    if state.is_stopping() {
        res.headers_mut()
            .insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    }
    res
}

/// `GET /livez`: 200 while the process serves requests; checks nothing else,
/// so a Redis outage never gets every instance restarted.
pub async fn livez() -> (StatusCode, Json<serde_json::Value>) {
    (StatusCode::OK, Json(serde_json::json!({"status": "live"})))
}
