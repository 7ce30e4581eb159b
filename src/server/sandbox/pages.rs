//! The sandbox's pages: a launcher ("open patient in Evolution") and a
//! read-only inbox of what was filed, as the practice would see it.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use super::data::{all_patients, patient, FACILITIES};
use super::{Sandbox, MOUNT};

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;color:#17212b}\
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #d8dee4;padding:.4rem;text-align:left;vertical-align:top}\
img{max-width:160px;max-height:120px}button{font:inherit;padding:.5rem 1rem;background:#0b6e69;color:#fff;border:0;border-radius:6px}\
label{display:block;margin:.5rem 0}select{font:inherit;min-height:2rem;max-width:100%}code{background:#eef2f6;padding:0 .25rem}";

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>{title} · ALEX sandbox</title>\
         <style>{STYLE}</style></head><body>{body}</body></html>"
    ))
}

/// `GET /`: pick a test patient and open Clinical Images as Evolution would.
pub async fn launcher() -> Html<String> {
    let patients: String = all_patients()
        .map(|p| {
            format!(
                "<option value=\"{}\">{} {} ({})</option>",
                esc(p.id),
                esc(p.given),
                esc(p.family),
                if p.nhi.is_empty() { "no NHI".to_owned() } else { esc(p.nhi) }
            )
        })
        .collect();
    let facilities: String = FACILITIES.iter().map(|f| format!("<option>{f}</option>")).collect();
    page(
        "Launcher",
        &format!(
            "<h1>ALEX sandbox</h1><p>This server runs in embedded mode and answers ALEX calls itself. \
             Pretend to be Medtech Evolution: pick a patient and open Clinical Images, which goes \
             through the real launch path (signed context, vendor-forms lookup).</p>\
             <form method=\"post\" action=\"{MOUNT}/launch\">\
             <label>Patient <select name=\"patientId\">{patients}<option value=\"\">(no patient open)</option></select></label>\
             <label>Facility <select name=\"facilityId\">{facilities}</select></label>\
             <input type=\"hidden\" name=\"providerId\" value=\"sandbox-gp\">\
             <button type=\"submit\">Open in Evolution</button></form>\
             <p><a href=\"{MOUNT}/inbox\">Inbox: what has been filed</a> · <a href=\"/\">Clinical Images</a></p>"
        ),
    )
}

fn summary(resource: &Value) -> (String, String) {
    let site = resource["bodySite"]["text"].as_str().unwrap_or("").to_owned();
    let text =
        resource["note"][0]["text"].as_str().or(resource["description"].as_str()).unwrap_or("").to_owned();
    (site, text)
}

/// `GET /inbox`: every filed resource, newest first, with its image.
pub async fn inbox(State(sandbox): State<Sandbox>) -> Html<String> {
    let mut rows = String::new();
    for s in sandbox.filings().iter().rev() {
        let (site, text) = summary(&s.resource);
        let preview = if s.content.0.starts_with("image/") && s.content.0 != "image/tiff" {
            format!(
                "<img alt=\"filed image\" src=\"data:{};base64,{}\">",
                s.content.0,
                STANDARD.encode(&s.content.1)
            )
        } else {
            format!("<a href=\"{MOUNT}/inbox/{}/content\">Open {}</a>", s.id, esc(&s.content.0))
        };
        let patient = match patient(&s.patient_id).map(|p| p.nhi) {
            Some("") => "no NHI",
            Some(nhi) => nhi,
            None => "?",
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}<br><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{preview}</td></tr>",
            esc(&s.received_at),
            s.resource_type,
            esc(&s.id),
            esc(patient),
            esc(&site),
            esc(&text),
        ));
    }
    if rows.is_empty() {
        rows = "<tr><td colspan=\"6\">Nothing has been filed yet.</td></tr>".into();
    }
    page(
        "Inbox",
        &format!(
            "<h1>Inbox</h1><table><thead><tr><th>Received</th><th>Resource</th><th>NHI</th><th>Site</th>\
             <th>Description</th><th>Content</th></tr></thead><tbody>{rows}</tbody></table>\
             <p><a href=\"{MOUNT}\">Launcher</a></p>"
        ),
    )
}

/// `GET /inbox.json`: the same, for tests and scripts.
pub async fn inbox_json(State(sandbox): State<Sandbox>) -> Json<Value> {
    let list: Vec<Value> = sandbox
        .filings()
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "resourceType": s.resource_type,
                "patientId": s.patient_id,
                "facility": s.facility,
                "receivedAt": s.received_at,
                "resource": s.resource,
            })
        })
        .collect();
    Json(Value::Array(list))
}

/// `GET /inbox/{id}/content`: a filed attachment's bytes.
pub async fn content(State(sandbox): State<Sandbox>, Path(id): Path<String>) -> Response {
    match sandbox.resources().into_iter().find(|s| s.id == id) {
        Some(s) => ([(header::CONTENT_TYPE, s.content.0)], s.content.1).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
