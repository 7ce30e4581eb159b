//! Injected faults and whole-service outages: how tests make the sandbox
//! misbehave as ALEX does (slow, 5xx, lost responses, a gateway outage).

use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::{data, lock, outcome, Sandbox};

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

/// A whole-service outage: after `after_creates` more resources are filed,
/// every FHIR call answers 503 for `length`, as ALEX's gateway does when the
/// service behind it is down.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Outage {
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

#[derive(Deserialize)]
pub(super) struct FaultRequest {
    count: usize,
    #[serde(flatten)]
    fault: Fault,
}

/// `POST /faults` `{count, status?, delayMs?, retryAfter?, afterHandling?, patientId?, path?}`:
/// the next `count` matching FHIR calls misbehave.
pub(super) async fn add_faults(State(sandbox): State<Sandbox>, Json(req): Json<FaultRequest>) -> StatusCode {
    lock(&sandbox.0.faults).extend(std::iter::repeat_n(req.fault, req.count));
    StatusCode::NO_CONTENT
}

/// `POST /outage` `{ms, afterCreates?}`: once `afterCreates` more resources
/// are filed (0: at once), every FHIR call answers 503 for `ms`.
pub(super) async fn add_outage(State(sandbox): State<Sandbox>, Json(mut outage): Json<Outage>) -> StatusCode {
    if outage.after_creates == 0 {
        outage.until = Some(Instant::now() + outage.length);
    }
    *lock(&sandbox.0.outage) = Some(outage);
    StatusCode::NO_CONTENT
}

pub(super) async fn simulate_outage(State(sandbox): State<Sandbox>, req: Request, next: Next) -> Response {
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

pub(super) async fn inject_faults(State(sandbox): State<Sandbox>, req: Request, next: Next) -> Response {
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
