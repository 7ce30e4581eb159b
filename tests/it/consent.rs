//! Consent with every photo (CONSENT_RULE): a photo without it is not
//! filed and the GP is told why; the consent reaches the record in words an
//! Inbox reader understands (the Media note, the scan caption) and the audit.

use crate::common::{statuses, Auth, SandboxServer, TestApp};
use base64::Engine;
use serde_json::{json, Value};

const PATIENT: &str = "14e52e16edb7a435bfa05e307afd008b";

async fn app_with(sandbox: &SandboxServer, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = sandbox.vars();
    vars.push(("CONSENT_RULE".into(), "required".into()));
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    TestApp::start(vars).await
}

/// Two photos, the first with consent, the second without.
async fn two_photos(app: &TestApp, desktop: &Auth) -> (String, String) {
    let mut ids = Vec::new();
    for size in [14, 16] {
        ids.push(app.add_photo(desktop, size).await);
    }
    let consent = json!({"scope": "teaching", "givenBy": "guardian", "how": "written"});
    let metadata =
        json!({"imageId": ids[0], "metadata": {"description": "Wound, day 3", "consent": consent}});
    let (status, image) = app.post("/api/medtech/session/images/metadata", metadata, desktop).await;
    assert_eq!(status, 200, "{image}");
    assert_eq!(image["metadata"]["consent"], consent, "the consent is kept as given");
    (ids[0].clone(), ids[1].clone())
}

fn result(report: &Value, id: &str) -> Value {
    report["results"].as_array().unwrap().iter().find(|r| r["imageId"] == id).unwrap().clone()
}

const NOTE: &str =
    "Consent: clinical record and de-identified teaching; written; given by a parent or guardian";

#[tokio::test]
async fn by_default_a_photo_without_consent_is_not_filed_and_the_gp_is_told_why() {
    let sandbox = SandboxServer::start().await;
    let mut vars = sandbox.vars();
    // Empty reads as unset: the product's default, not the tests' `optional`.
    vars.push(("CONSENT_RULE".into(), String::new()));
    let app = TestApp::start(vars).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let (with, without) = two_photos(&app, &desktop).await;
    let report = app.commit(&desktop, None).await;
    assert_eq!(result(&report, &with)["status"], "committed", "{report}");
    let refused = result(&report, &without);
    assert_eq!(refused["status"], "failed");
    assert!(refused["message"].as_str().unwrap().contains("no recorded consent"), "{refused}");
    assert_eq!(refused["retryable"], false);
    assert_eq!(sandbox.json("/inbox.json").await.as_array().unwrap().len(), 1, "only the consented photo");
}

#[tokio::test]
async fn consent_reaches_the_media_note_and_the_audit() {
    let sandbox = SandboxServer::start().await;
    let app = app_with(&sandbox, &[]).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let (with, without) = two_photos(&app, &desktop).await;
    let report = app.commit(&desktop, None).await;
    assert_eq!(statuses(&report).iter().filter(|s| **s == "committed").count(), 1, "{report}");
    assert_eq!(result(&report, &without)["status"], "failed");
    let filed = sandbox.filed(&with).await;
    let notes: Vec<&str> = filed[0]["resource"]["note"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(notes, ["Wound, day 3", NOTE]);
    // The audit shows what was recorded.
    let audit = app.state.sessions.recent_audit(10).await.unwrap();
    let entry = audit.iter().find(|r| r["imageId"] == with.as_str()).unwrap();
    assert_eq!(entry["consent"], NOTE);
    // Consent recorded afterwards: the photo is filed.
    let consent = json!({"scope": "record", "givenBy": "patient", "how": "verbal"});
    let metadata = json!({"imageId": without, "metadata": {"consent": consent}});
    assert_eq!(app.post("/api/medtech/session/images/metadata", metadata, &desktop).await.0, 200);
    let again = app.commit(&desktop, Some(vec![without.as_str()])).await;
    assert_eq!(statuses(&again), ["committed"], "{again}");
    let notes = sandbox.filed(&without).await[0]["resource"]["note"].clone();
    assert_eq!(notes, json!([{"text": "Consent: clinical record only; verbal; given by the patient"}]));
}

#[tokio::test]
async fn consent_reaches_the_scan_caption() {
    let sandbox = SandboxServer::start().await;
    let app = app_with(&sandbox, &[("ALEX_COMMIT_MODE", "scan")]).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let (with, without) = two_photos(&app, &desktop).await;
    let report = app.commit(&desktop, None).await;
    assert_eq!(result(&report, &with)["status"], "committed", "{report}");
    assert_eq!(result(&report, &without)["status"], "failed");
    let filed = sandbox.filed(&with).await;
    let data = filed[0]["resource"]["content"][0]["attachment"]["data"].as_str().unwrap();
    let pdf = base64::engine::general_purpose::STANDARD.decode(data).unwrap();
    let text = lopdf::Document::load_mem(&pdf).unwrap().extract_text(&[1]).unwrap();
    let squashed: String = text.split_whitespace().collect();
    let note: String = NOTE.split_whitespace().collect();
    assert!(squashed.contains(&note), "{text}");
}

#[tokio::test]
async fn an_unknown_consent_value_is_refused() {
    let sandbox = SandboxServer::start().await;
    let app = app_with(&sandbox, &[]).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let id = app.add_photo(&desktop, 12).await;
    let bad = json!({"imageId": id, "metadata": {"consent": {"scope": "everything", "givenBy": "patient", "how": "verbal"}}});
    let (status, _) = app.post("/api/medtech/session/images/metadata", bad, &desktop).await;
    assert_eq!(status, 400);
    let partial = json!({"imageId": id, "metadata": {"consent": {"scope": "record"}}});
    assert_eq!(app.post("/api/medtech/session/images/metadata", partial, &desktop).await.0, 400);
}
