//! Prometheus metrics, through the `metrics` facade and
//! `metrics-exporter-prometheus` (its renderer; the HTTP listener is ours,
//! on `METRICS_ADDR`, off the public port). Labels never carry an id, a
//! patient detail or a path with ids in it: routes are their patterns.
//!
//! | Metric | Kind | Labels |
//! |---|---|---|
//! | `http_requests_total` | counter | `route` (matched pattern or `unmatched`), `method` (`GET`… or `OTHER`), `status` |
//! | `http_request_duration_seconds` | histogram | `route`, `method` |
//! | `event_streams_open` | gauge | |
//! | `event_streams_refused_total` | counter | (a session at `EVENT_STREAMS_PER_SESSION`) |
//! | `sessions_created_total` | counter | `launch` (`evolution`, `development`) |
//! | `uploads_registered_total` | counter | |
//! | `uploads_refused_total` | counter | `reason` |
//! | `commits_total` | counter | `outcome` (`committed`, `failed`) |
//! | `alex_calls_total` | counter | `status` (HTTP status, or `error`) |
//! | `alex_call_duration_seconds` | histogram | |
//! | `alex_token_refreshes_total` | counter | `outcome` |
//! | `store_errors_total` | counter | `backend` (`redis`, `s3`, `local-disk`) |
//! | `readiness_checks_total` | counter | (backend checks behind `/readyz`, at most one a second) |

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::server::app_state::AppState;

/// Latency buckets, seconds: from a fast API call to a slow ALEX commit.
const BUCKETS: [f64; 12] = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The process's recorder, installed on first use (one per process, so
/// several app instances in one test binary share it).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_duration_seconds".into()), &BUCKETS)
            .expect("fixed, non-empty buckets");
        match builder.install_recorder() {
            Ok(handle) => handle,
            // Another recorder is already global (a test harness): record
            // into one that is only ever rendered, never installed.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// Middleware: counts and times every request by its route pattern.
pub async fn http(req: Request, next: Next) -> Response {
    let _ = handle();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(req.method());
    let started = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    res
}

/// A request's method as a label: the methods HTTP defines, else `OTHER`,
/// so made-up methods cannot add series. (Routes are their matched
/// patterns, else `unmatched`; statuses are three digits: every label is
/// from a bounded set.)
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// The metrics listener's routes: `GET /metrics`, and `GET /healthz` with
/// the detail the public port does not give (mode, version, each dependency).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(|| async { handle().render() }))
        .route("/healthz", get(crate::server::http::health::detail))
        .with_state(state)
}

/// Serves [`router`] on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) {
    if let Err(e) = axum::serve(listener, router(state).into_make_service()).await {
        tracing::error!(error = %e, "metrics listener stopped");
    }
}

/// Counts an open event stream for as long as it lives.
pub struct OpenStream;

impl OpenStream {
    pub fn new() -> Self {
        metrics::gauge!("event_streams_open").increment(1.0);
        OpenStream
    }
}

impl Default for OpenStream {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        metrics::gauge!("event_streams_open").decrement(1.0);
    }
}
