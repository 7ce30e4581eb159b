//! Earlier filings the sandbox starts with: a few clinical photos of Mere
//! Example (ZZZ0032) over the last year, so the desktop's earlier-photos
//! panel and compare view have something to show in embedded mode. One is
//! filed with its bytes by URL (`Binary/{id}`), as ALEX may answer. They
//! are found by search like any filing, but are not in the inbox, which
//! shows what this app filed.
//!
//! The pictures are small copies of Debian wallpapers (see `earlier/README`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{outcome, Sandbox, Stored};
use crate::server::support::clock::{rfc3339, unix_now};

/// Mere Example, whose earlier photos these are.
pub const PATIENT: &str = "c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8";

const DAY: u64 = 24 * 3600;
const SNOMED: &str = "http://snomed.info/sct";

struct Seed {
    days_ago: u64,
    site: (&'static str, &'static str),
    side: Option<(&'static str, &'static str)>,
    text: &'static str,
    note: &'static str,
    picture: &'static [u8],
    by_url: bool,
}

const SEEDS: &[Seed] = &[
    Seed {
        days_ago: 330,
        site: ("14975008", "Forearm structure"),
        side: Some(("7771000", "Left")),
        text: "Left forearm",
        note: "Eczema, before treatment",
        picture: include_bytes!("earlier/forearm-1.jpg"),
        by_url: false,
    },
    Seed {
        days_ago: 200,
        site: ("72696002", "Knee region structure"),
        side: Some(("24028007", "Right")),
        text: "Right knee region",
        note: "Abrasion after a fall",
        picture: include_bytes!("earlier/knee.jpg"),
        by_url: false,
    },
    Seed {
        days_ago: 120,
        site: ("14975008", "Forearm structure"),
        side: Some(("7771000", "Left")),
        text: "Left forearm",
        note: "Eczema, six weeks of emollient",
        picture: include_bytes!("earlier/forearm-2.jpg"),
        by_url: true,
    },
    Seed {
        days_ago: 45,
        site: ("14975008", "Forearm structure"),
        side: Some(("7771000", "Left")),
        text: "Left forearm",
        note: "Eczema, almost clear",
        picture: include_bytes!("earlier/forearm-3.jpg"),
        by_url: false,
    },
];

/// The filings every sandbox starts with.
pub(super) fn seeded() -> Vec<Stored> {
    let now = unix_now();
    SEEDS
        .iter()
        .enumerate()
        .map(|(i, seed)| {
            let id = format!("earlier-{}", i + 1);
            let at = rfc3339(now.saturating_sub(seed.days_ago * DAY));
            let mut site = json!({
                "coding": [{"system": SNOMED, "code": seed.site.0, "display": seed.site.1}],
                "text": seed.text,
            });
            if let Some((code, display)) = seed.side {
                site["extension"] = json!([{
                    "url": "https://other-vendor.example/fhir/laterality",
                    "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": code, "display": display}]},
                }]);
            }
            let content = if seed.by_url {
                json!({"contentType": "image/jpeg", "url": format!("Binary/{id}"), "title": seed.note})
            } else {
                json!({"contentType": "image/jpeg", "data": STANDARD.encode(seed.picture), "title": seed.note})
            };
            let resource = json!({
                "resourceType": "Media",
                "id": id,
                "status": "completed",
                "identifier": [{"system": "https://other-vendor.example/fhir/photo", "value": id}],
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/media-type", "code": "image"}]},
                "subject": {"reference": format!("Patient/{PATIENT}")},
                "createdDateTime": at,
                "bodySite": site,
                "note": [{"text": seed.note}],
                "content": content,
                "meta": {"versionId": "1", "lastUpdated": at},
            });
            Stored {
                id,
                resource_type: "Media",
                patient_id: PATIENT.to_owned(),
                facility: "F2N060-E".to_owned(),
                received_at: at,
                resource,
                content: ("image/jpeg".to_owned(), seed.picture.to_vec()),
                seeded: true,
            }
        })
        .collect()
}

/// `GET /FHIR/Binary/{id}`: a filing's bytes, for a `content.url`.
pub async fn binary(State(sandbox): State<Sandbox>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = super::fhir::guard(&sandbox, &headers) {
        return r.into_response();
    }
    match sandbox.resources().into_iter().find(|s| s.id == id) {
        Some(s) => ([("content-type", s.content.0)], s.content.1).into_response(),
        None => outcome(StatusCode::NOT_FOUND, "not-found", "Binary not found"),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filing {
    patient_id: String,
    resource: Value,
    #[serde(default)]
    content_type: Option<String>,
    /// The bytes, base64, that `Binary/{id}` serves.
    #[serde(default)]
    data: Option<String>,
}

/// `POST /earlier` `{patientId, resource, contentType?, data?}`: an earlier
/// filing as another app made it, stored as given (for tests: a
/// `content.url` elsewhere, an unreadable picture). Answers its id.
pub async fn add(State(sandbox): State<Sandbox>, Json(filing): Json<Filing>) -> Response {
    let kind = match filing.resource["resourceType"].as_str() {
        Some("Media") => "Media",
        Some("DocumentReference") => "DocumentReference",
        _ => return outcome(StatusCode::BAD_REQUEST, "invalid", "Media or DocumentReference only."),
    };
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut resource = filing.resource;
    resource["id"] = json!(id);
    let bytes = filing.data.and_then(|d| STANDARD.decode(d).ok()).unwrap_or_default();
    sandbox.store(Stored {
        id: id.clone(),
        resource_type: kind,
        patient_id: filing.patient_id,
        facility: "F2N060-E".to_owned(),
        received_at: rfc3339(unix_now()),
        resource,
        content: (filing.content_type.unwrap_or_else(|| "application/octet-stream".into()), bytes),
        seeded: true,
    });
    Json(json!({"id": id})).into_response()
}
