//! Launches: how a capture session begins.
//!
//! - Evolution: `GET /medtech-images/launch?context=…&signature=…`. ALEX
//!   resolves the pair; stale, replayed and patient-less contexts are refused
//!   with a page that says what to do. The patient's name and NHI are read
//!   for the banner; if ALEX refuses, the banner falls back to a masked id.
//! - Development: `GET /medtech-images?patientId=…&facilityId=…[&providerId=…]`,
//!   only when `DEV_LAUNCH` is on.
//!
//! Both create a session, set its own cookie and redirect (303) to
//! `/medtech-images?session=<name>`, so ids never stay in the address bar or
//! history, and the page knows which session it was opened for. An earlier
//! session's cookie is left alone: its window keeps working for its own
//! patient. Cookies of sessions that no longer exist are removed.

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::server::alex::{AlexError, CallContext};
use crate::server::app_state::AppState;
use crate::server::services::capture_sessions::{self, Launch};
use crate::server::services::claims::{Claim, ClaimName};
use crate::server::support::clock::unix_now;
use crate::server::support::ids::hash_credential;

/// The desktop page's path.
pub const DESKTOP_PATH: &str = "/medtech-images";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DevLaunchQuery {
    patient_id: Option<String>,
    facility_id: Option<String>,
    provider_id: Option<String>,
}

fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn page(state: &AppState, status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en-NZ\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Clinical Images</title><link rel=\"stylesheet\" href=\"{css}\"></head>\
         <body><main class=\"page page--narrow\"><section class=\"launch\"><h1>Cannot open Clinical Images</h1>\
         <p class=\"notice notice--warn\" role=\"alert\">{message}</p>\
         <p><a href=\"{DESKTOP_PATH}\">Continue</a></p></section></main></body></html>",
        css = state.assets.css_href
    );
    (status, Html(body)).into_response()
}

/// Creates the session, sets its cookie (removing those of sessions that
/// are gone) and redirects (303) to the desktop page named for it.
async fn start_session(state: &AppState, headers: &HeaderMap, launch: Launch) -> Response {
    match capture_sessions::create(state, launch).await {
        Ok(created) => {
            let location = format!("{DESKTOP_PATH}?{}={}", crate::model::SESSION_QUERY, created.name);
            let mut res = StatusCode::SEE_OTHER.into_response();
            let h = res.headers_mut();
            // The name is hex, so this cannot fail.
            h.insert(
                header::LOCATION,
                HeaderValue::from_str(&location).unwrap_or(HeaderValue::from_static("/")),
            );
            h.append(header::SET_COOKIE, capture_sessions::set_cookie(state, &created));
            for dead in capture_sessions::dead_cookies(state, headers).await {
                h.append(header::SET_COOKIE, capture_sessions::clear_cookie(state, &dead));
            }
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "launch could not create a session");
            page(
                state,
                StatusCode::SERVICE_UNAVAILABLE,
                "The session service is unavailable. Try again in a minute.",
            )
        }
    }
}

/// Middleware: handles a development launch, passes every other request on.
pub async fn dev_launch(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::GET || req.uri().path() != DESKTOP_PATH {
        return next.run(req).await;
    }
    let Some(query) = req.uri().query().filter(|q| q.contains("patientId=")) else {
        return next.run(req).await;
    };
    if !state.config.dev_launch {
        return page(&state, StatusCode::FORBIDDEN,
            "Development launch is turned off on this server. Launch Clinical Images from the patient in Medtech Evolution.",
        );
    }
    let Ok(q) = serde_urlencoded_query(query) else {
        return page(&state, StatusCode::BAD_REQUEST, "The launch link is malformed.");
    };
    let patient_id = q.patient_id.unwrap_or_default();
    let facility_id = q.facility_id.unwrap_or_else(|| state.config.alex.facility_id.clone());
    let provider_id = q.provider_id.filter(|p| !p.is_empty());
    if !valid_id(&patient_id) || !valid_id(&facility_id) || !provider_id.as_deref().is_none_or(valid_id) {
        return page(
            &state,
            StatusCode::BAD_REQUEST,
            "The launch link needs a patientId and facilityId made of letters, digits and dashes.",
        );
    }
    let launch = Launch { patient_id, facility_id, provider_id, dev: true, ..Launch::default() };
    start_session(&state, req.headers(), launch).await
}

fn serde_urlencoded_query(query: &str) -> Result<DevLaunchQuery, ()> {
    axum::extract::Query::<DevLaunchQuery>::try_from_uri(&format!("/?{query}").parse().map_err(|_| ())?)
        .map(|q| q.0)
        .map_err(|_| ())
}

#[derive(Deserialize)]
pub struct EvolutionQuery {
    context: Option<String>,
    signature: Option<String>,
}

/// Clock skew tolerated on a context's `createdTime`, seconds.
const SKEW_SECS: i64 = 60;

/// `GET /medtech-images/launch?context=…&signature=…`: the launch from Evolution.
pub async fn evolution(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<EvolutionQuery>,
) -> Response {
    const RELAUNCH: &str = "Launch Clinical Images again from the patient in Medtech Evolution.";
    let (Some(context), Some(signature)) =
        (q.context.filter(|c| !c.is_empty()), q.signature.filter(|s| !s.is_empty()))
    else {
        return page(&state, StatusCode::BAD_REQUEST, &format!("The launch link is incomplete. {RELAUNCH}"));
    };
    // A context is good for one launch: claim it before anything else. The
    // claim is keyed on the context alone, so the same context with its
    // signature re-cased, re-encoded or replaced is still the same launch,
    // and it lasts as long as the context could pass the staleness check.
    let max_age = state.config.session.launch_max_age;
    let context_hash = hash_credential(&context);
    let window = max_age + std::time::Duration::from_secs(2 * SKEW_SECS as u64);
    let claim = match Claim::take(&state, ClaimName::Launch { context_hash: &context_hash }, window).await {
        Ok(Some(claim)) => claim,
        Ok(None) => {
            return page(
                &state,
                StatusCode::FORBIDDEN,
                &format!("This launch link has already been used. {RELAUNCH}"),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "launch could not be recorded");
            return page(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                "The session service is unavailable. Try again in a minute.",
            );
        }
    };
    let ctx = CallContext {
        facility_id: state.config.alex.facility_id.clone(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
    };
    let resolved = match state.alex.launch_context(&context, &signature, &ctx).await {
        Ok(r) => r,
        Err(e @ (AlexError::Rejected { .. } | AlexError::Malformed(_))) => {
            tracing::warn!(error = %e, correlation_id = %ctx.correlation_id, "launch context refused");
            return page(
                &state,
                StatusCode::FORBIDDEN,
                &format!("The launch link from Medtech Evolution is not valid. {RELAUNCH}"),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, correlation_id = %ctx.correlation_id, "launch context could not be resolved");
            // Not the link's fault: let the GP use it again once Medtech answers.
            if let Err(e) = claim.release(&state).await {
                tracing::warn!(error = %e, "launch claim could not be released");
            }
            return page(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                "Medtech could not be reached to check the launch. Try again in a minute.",
            );
        }
    };
    let created =
        time::OffsetDateTime::parse(&resolved.created_time, &time::format_description::well_known::Rfc3339)
            .map(|t| t.unix_timestamp())
            .unwrap_or(0);
    let age = unix_now() as i64 - created;
    if age > max_age.as_secs() as i64 || age < -SKEW_SECS {
        return page(&state, StatusCode::FORBIDDEN, &format!("This launch link has expired. {RELAUNCH}"));
    }
    let Some(patient_id) = resolved.patient_id.filter(|p| !p.is_empty()) else {
        return page(
            &state,
            StatusCode::OK,
            "No patient was open in Medtech Evolution. Open the patient first, then launch Clinical Images.",
        );
    };
    let ctx = CallContext { facility_id: resolved.facility_code.clone(), ..ctx };
    let patient = match state.alex.patient(&patient_id, &ctx).await {
        Ok(p) => Some(p),
        Err(e) => {
            // The banner falls back to a masked id; the launch still succeeds.
            tracing::warn!(error = %e, correlation_id = %ctx.correlation_id, "patient read for the banner failed");
            None
        }
    };
    let launch = Launch {
        patient_id,
        facility_id: resolved.facility_code,
        provider_id: resolved.provider_id,
        dev: false,
        patient_name: patient.as_ref().map(|p| p.name.clone()).filter(|n| !n.is_empty()),
        nhi: patient.and_then(|p| p.nhi),
    };
    start_session(&state, &headers, launch).await
}
