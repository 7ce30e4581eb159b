//! The development launch: `GET /medtech-images?patientId=…&facilityId=…[&providerId=…]`.
//!
//! Allowed only when `DEV_LAUNCH` is on. It creates a session, sets the
//! cookie and redirects (303) to the clean URL, so ids never stay in the
//! address bar or history. The Evolution launch (ALEX issue) sits beside it.

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::sessions::{self, Launch};
use super::state::AppState;

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

fn page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Clinical Images</title></head>\
         <body><h1>Cannot open Clinical Images</h1><p>{message}</p>\
         <p><a href=\"{DESKTOP_PATH}\">Continue</a></p></body></html>"
    );
    (status, Html(body)).into_response()
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
        return page(
            StatusCode::FORBIDDEN,
            "Development launch is turned off on this server. Launch Clinical Images from the patient in Medtech Evolution.",
        );
    }
    let Ok(q) = serde_urlencoded_query(query) else {
        return page(StatusCode::BAD_REQUEST, "The launch link is malformed.");
    };
    let patient_id = q.patient_id.unwrap_or_default();
    let facility_id = q.facility_id.unwrap_or_else(|| state.config.alex.facility_id.clone());
    let provider_id = q.provider_id.filter(|p| !p.is_empty());
    if !valid_id(&patient_id) || !valid_id(&facility_id) || !provider_id.as_deref().is_none_or(valid_id) {
        return page(
            StatusCode::BAD_REQUEST,
            "The launch link needs a patientId and facilityId made of letters, digits and dashes.",
        );
    }
    let launch = Launch { patient_id, facility_id, provider_id, dev: true };
    match sessions::create(&state, launch).await {
        Ok(cookie) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, DESKTOP_PATH.parse().expect("static path")),
                (header::SET_COOKIE, sessions::set_cookie(&state, &cookie)),
            ],
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "development launch could not create a session");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The session service is unavailable. Try again in a minute.",
            )
        }
    }
}

fn serde_urlencoded_query(query: &str) -> Result<DevLaunchQuery, ()> {
    axum::extract::Query::<DevLaunchQuery>::try_from_uri(&format!("/?{query}").parse().map_err(|_| ())?)
        .map(|q| q.0)
        .map_err(|_| ())
}
