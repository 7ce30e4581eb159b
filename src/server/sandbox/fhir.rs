//! The sandbox's FHIR endpoints: Patient reads, and Media and
//! DocumentReference creation with ALEX's rules.
//!
//! Searches take the parameters ALEX documents; in strict search mode
//! ([`Sandbox::strict_search`]) any other parameter is refused with 400
//! `not-supported`, as a strict FHIR server does.

use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use super::data::{patient, patient_by_nhi, SandboxPatient, FACILITIES, NHI_SYSTEM};
use super::{outcome, Refusal, Sandbox, Stored, MOUNT};
use crate::server::support::clock::{rfc3339, unix_now};

/// DocumentReference attachments larger than this are refused (ALEX's 8 MB).
pub const DOCUMENT_MAX_BYTES: usize = 8 * 1024 * 1024;

fn patient_resource(p: &SandboxPatient) -> Value {
    let mut resource = json!({
        "resourceType": "Patient",
        "id": p.id,
        "name": [{"family": p.family, "given": [p.given]}],
        "birthDate": p.birth_date,
    });
    if !p.nhi.is_empty() {
        resource["identifier"] = json!([{"system": NHI_SYSTEM, "value": p.nhi}]);
    }
    resource
}

/// The search parameters ALEX documents for `kind`, plus the paging the
/// sandbox's own `next` links carry (`_offset`) and `_count`.
fn documented_params(kind: &str) -> &'static [&'static str] {
    match kind {
        "Patient" => &["identifier"],
        _ => &["patient.identifier", "_offset", "_count"],
    }
}

/// In strict search mode, a refusal of the first parameter ALEX does not
/// document for `kind`: 400 `not-supported`, naming the parameter only.
fn undocumented(
    sandbox: &Sandbox,
    q: &std::collections::HashMap<String, String>,
    kind: &str,
) -> Option<Response> {
    if !sandbox.strict_search() {
        return None;
    }
    let allowed = documented_params(kind);
    let mut unknown: Vec<&str> = q.keys().map(String::as_str).filter(|k| !allowed.contains(k)).collect();
    unknown.sort_unstable();
    let first = unknown.first()?;
    sandbox.count_refused_search();
    let name: String = first.chars().take(64).collect();
    Some(outcome(
        StatusCode::BAD_REQUEST,
        "not-supported",
        &format!("The search parameter '{name}' is not supported for {kind}."),
    ))
}

fn fhir_json(status: StatusCode, body: &Value) -> Response {
    (status, [("content-type", "application/fhir+json")], body.to_string()).into_response()
}

/// Common checks: token, then facility. Returns the facility.
pub(super) fn guard(sandbox: &Sandbox, headers: &HeaderMap) -> Result<String, Refusal> {
    sandbox.authorize(headers)?;
    let facility = headers.get("mt-facilityid").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if FACILITIES.contains(&facility) {
        Ok(facility.to_owned())
    } else {
        Err(Refusal::new(StatusCode::FORBIDDEN, "forbidden", "Practice Facility not found"))
    }
}

/// `GET /FHIR/Patient/{id}`
pub async fn read_patient(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = guard(&sandbox, &headers) {
        return r.into_response();
    }
    match patient(&id) {
        Some(p) => fhir_json(StatusCode::OK, &patient_resource(p)),
        None => outcome(StatusCode::NOT_FOUND, "not-found", "Patient not found"),
    }
}

/// `GET /FHIR/Patient?identifier=system|value`; listing every patient is forbidden.
pub async fn search_patients(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if let Err(r) = guard(&sandbox, &headers) {
        return r.into_response();
    }
    if let Some(refusal) = undocumented(&sandbox, &q, "Patient") {
        return refusal;
    }
    let Some(identifier) = q.get("identifier") else {
        return outcome(StatusCode::FORBIDDEN, "forbidden", "Listing all patients is not allowed.");
    };
    let nhi = identifier.strip_prefix(&format!("{NHI_SYSTEM}|")).unwrap_or(identifier);
    let matches: Vec<Value> =
        patient_by_nhi(nhi).into_iter().map(|p| json!({"resource": patient_resource(p)})).collect();
    let entries = if matches.is_empty() {
        vec![json!({"resource": {"resourceType": "OperationOutcome",
            "issue": [{"severity": "information", "code": "not-found", "diagnostics": "No matches"}]}})]
    } else {
        matches
    };
    fhir_json(StatusCode::OK, &json!({"resourceType": "Bundle", "type": "searchset", "entry": entries}))
}

fn magic_matches(content_type: &str, bytes: &[u8]) -> bool {
    match content_type {
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "application/pdf" => bytes.starts_with(b"%PDF-"),
        "image/tiff" => bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*"),
        _ => false,
    }
}

/// Shared rules of both create endpoints; returns the stored record's parts.
fn accept(
    sandbox: &Sandbox,
    headers: &HeaderMap,
    body: &Value,
    resource_type: &'static str,
    attachment: &Value,
    allowed: &[&str],
) -> Result<Stored, Refusal> {
    let facility = guard(sandbox, headers)?;
    if body["resourceType"] != resource_type {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "resourceType does not match the endpoint.",
        ));
    }
    if body["identifier"][0]["value"].as_str().is_none_or(str::is_empty) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "business-rule",
            "The mandatory Identifier.value with the reference number is missing",
        ));
    }
    let patient_id =
        body["subject"]["reference"].as_str().and_then(|r| r.strip_prefix("Patient/")).unwrap_or("");
    if patient(patient_id).is_none() {
        return Err(Refusal::new(StatusCode::NOT_FOUND, "not-found", "Patient not found"));
    }
    let content_type = attachment["contentType"].as_str().unwrap_or("");
    if !allowed.contains(&content_type) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("{resource_type} accepts only {}.", allowed.join(" or ")),
        ));
    }
    let Some(bytes) = attachment["data"].as_str().and_then(|d| STANDARD.decode(d).ok()) else {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, "invalid", "Attachment data is not valid base64."));
    };
    if !magic_matches(content_type, &bytes) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "Attachment data does not match its contentType.",
        ));
    }
    if resource_type == "DocumentReference" && bytes.len() > DOCUMENT_MAX_BYTES {
        return Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-costly",
            "The attachment exceeds 8 MB.",
        ));
    }
    Ok(Stored {
        id: uuid::Uuid::new_v4().simple().to_string(),
        resource_type,
        patient_id: patient_id.to_owned(),
        facility,
        received_at: rfc3339(unix_now()),
        resource: body.clone(),
        content: (content_type.to_owned(), bytes),
        seeded: false,
    })
}

fn created(sandbox: &Sandbox, mut stored: Stored) -> Response {
    stored.resource["id"] = json!(stored.id);
    stored.resource["meta"] = json!({"versionId": "1", "lastUpdated": stored.received_at});
    let location = format!("{MOUNT}/FHIR/{}/{}/_history/1", stored.resource_type, stored.id);
    let body = stored.resource.to_string();
    sandbox.store(stored);
    (
        StatusCode::CREATED,
        [("content-type", "application/fhir+json"), ("location", location.as_str()), ("etag", "W/\"1\"")],
        body,
    )
        .into_response()
}

/// `POST /FHIR/Media`
pub async fn create_media(State(sandbox): State<Sandbox>, headers: HeaderMap, body: String) -> Response {
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return outcome(StatusCode::BAD_REQUEST, "structure", "The body is not JSON.");
    };
    match accept(&sandbox, &headers, &body, "Media", &body["content"], &["image/jpeg", "image/png"]) {
        Ok(stored) => created(&sandbox, stored),
        Err(r) => r.into_response(),
    }
}

/// `POST /FHIR/DocumentReference` (PDF or TIFF, at most 8 MB: the Inbox Scan folder).
pub async fn create_document_reference(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return outcome(StatusCode::BAD_REQUEST, "structure", "The body is not JSON.");
    };
    let attachment = body["content"][0]["attachment"].clone();
    match accept(
        &sandbox,
        &headers,
        &body,
        "DocumentReference",
        &attachment,
        &["application/pdf", "image/tiff"],
    ) {
        Ok(stored) => created(&sandbox, stored),
        Err(r) => r.into_response(),
    }
}

/// Entries per search page: small, so that clients must follow `next`.
pub const PAGE_SIZE: usize = 5;

/// Searches filed resources the way ALEX allows: by `patient.identifier`
/// (the NHI) or, unless in strict search mode, also by the resource's own
/// `identifier` (`system|value`), a standard FHIR parameter ALEX does not
/// document; `patient=` is forbidden, as in ALEX. Results come
/// [`PAGE_SIZE`] at a time with a `next` link (`_offset`).
fn search(
    sandbox: &Sandbox,
    headers: &HeaderMap,
    path: &str,
    q: &std::collections::HashMap<String, String>,
    kind: &str,
) -> Response {
    if let Err(r) = guard(sandbox, headers) {
        return r.into_response();
    }
    if q.contains_key("patient") {
        return outcome(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Search by patient is not allowed; use patient.identifier.",
        );
    }
    if let Some(refusal) = undocumented(sandbox, q, kind) {
        return refusal;
    }
    let by_patient: Option<&'static str> = match q.get("patient.identifier") {
        Some(identifier) => {
            let nhi = identifier.strip_prefix(&format!("{NHI_SYSTEM}|")).unwrap_or(identifier);
            match patient_by_nhi(nhi) {
                Some(p) => Some(p.id),
                None => return bundle(vec![], None),
            }
        }
        None => None,
    };
    let by_identifier = q.get("identifier").map(|i| i.split_once('|').unwrap_or(("", i.as_str())));
    if by_patient.is_none() && by_identifier.is_none() {
        return outcome(
            StatusCode::FORBIDDEN,
            "forbidden",
            "A patient.identifier or identifier is required.",
        );
    }
    let matching: Vec<Value> = sandbox
        .resources()
        .into_iter()
        .filter(|r| r.resource_type == kind && by_patient.is_none_or(|p| r.patient_id == p))
        .filter(|r| {
            by_identifier.is_none_or(|(system, value)| {
                r.resource["identifier"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|i| i["value"] == value && (system.is_empty() || i["system"] == system))
            })
        })
        .map(|r| {
            let mut resource = r.resource;
            resource["id"] = json!(r.id);
            json!({"resource": resource})
        })
        .collect();
    let offset: usize = q.get("_offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let page: Vec<Value> = matching.iter().skip(offset).take(PAGE_SIZE).cloned().collect();
    let next = (offset + PAGE_SIZE < matching.len()).then(|| {
        let mut pairs: Vec<(String, String)> =
            q.iter().filter(|(k, _)| k.as_str() != "_offset").map(|(k, v)| (k.clone(), v.clone())).collect();
        pairs.sort();
        pairs.push(("_offset".into(), (offset + PAGE_SIZE).to_string()));
        let query: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
        format!("http://{host}{path}?{query}")
    });
    bundle(page, next)
}

fn bundle(entries: Vec<Value>, next: Option<String>) -> Response {
    let entries = if entries.is_empty() {
        vec![json!({"resource": {"resourceType": "OperationOutcome",
            "issue": [{"severity": "information", "code": "not-found", "diagnostics": "No matches"}]}})]
    } else {
        entries
    };
    let mut body = json!({"resourceType": "Bundle", "type": "searchset", "entry": entries});
    if let Some(next) = next {
        body["link"] = json!([{"relation": "next", "url": next}]);
    }
    fhir_json(StatusCode::OK, &body)
}

/// `GET /FHIR/Media?patient.identifier=…`
pub async fn search_media(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    search(&sandbox, &headers, uri.path(), &q, "Media")
}

/// `GET /FHIR/DocumentReference?patient.identifier=…`
pub async fn search_documents(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    search(&sandbox, &headers, uri.path(), &q, "DocumentReference")
}
