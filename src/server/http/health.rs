//! Health: `/livez` (the process is up: restart it if not), `/readyz` and
//! `/healthz` (the mode and the state of each dependency: send it traffic
//! only when usable). A stopping instance reports not ready, so a load
//! balancer drains it before it goes.
//!
//! Checks run concurrently, each bounded by a timeout, so a hung dependency
//! makes the report slow by at most that bound rather than forever. Causes go
//! to the log; the report carries only a short summary.

use std::time::Duration;

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

/// `GET /readyz` (and `/healthz`): 200 when usable, 503 when a dependency is
/// down or the instance is shutting down.
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<HealthReport>) {
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
    (StatusCode::OK, Json(serde_json::json!({"status": "live", "version": env!("CARGO_PKG_VERSION")})))
}
