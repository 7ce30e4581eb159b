//! ALEX: the sandbox's rules over HTTP, and commits from the app through the
//! real client (tokens, retries, 401 refresh, error mapping, exactly once).

use crate::common::{jpeg, service_vars, statuses, Auth, SandboxServer, TestApp};
use base64::Engine;
use serde_json::{json, Value};

const PATIENT: &str = "14e52e16edb7a435bfa05e307afd008b";

fn media(identifier: Option<&str>, patient: &str, bytes: &[u8]) -> Value {
    let mut m = json!({
        "resourceType": "Media",
        "status": "completed",
        "subject": {"reference": format!("Patient/{patient}")},
        "content": {"contentType": "image/jpeg", "data": base64::engine::general_purpose::STANDARD.encode(bytes)},
    });
    if let Some(id) = identifier {
        m["identifier"] = json!([{"system": "urn:test", "value": id}]);
    }
    m
}

async fn post(
    sandbox: &SandboxServer,
    path: &str,
    token: &str,
    facility: &str,
    body: &Value,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let res = reqwest::Client::new()
        .post(format!("{}/FHIR/{path}", sandbox.base))
        .bearer_auth(token)
        .header("mt-facilityid", facility)
        .header("content-type", "application/fhir+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, res.json().await.unwrap_or(Value::Null), headers)
}

#[tokio::test]
async fn the_sandbox_enforces_alex_rules() {
    let sandbox = SandboxServer::start().await;
    let t = sandbox.token().await;
    let photo = jpeg(8, 8);

    let (s, body, headers) =
        post(&sandbox, "Media", &t, "F2N060-E", &media(Some("img-1"), PATIENT, &photo)).await;
    assert_eq!(s, 201, "{body}");
    assert!(headers["location"].to_str().unwrap().contains("/Media/"));
    assert_eq!(headers["etag"], "W/\"1\"");

    let (s, body, _) = post(&sandbox, "Media", &t, "F2N060-E", &media(None, PATIENT, &photo)).await;
    assert_eq!(s, 400);
    assert_eq!(body["issue"][0]["code"], "business-rule");
    let (s, body, _) = post(&sandbox, "Media", &t, "NOPE-X", &media(Some("i"), PATIENT, &photo)).await;
    assert_eq!((s, body["issue"][0]["diagnostics"].as_str()), (403, Some("Practice Facility not found")));
    let (s, _, _) =
        post(&sandbox, "Media", &t, "F2N060-E", &media(Some("i"), "unknown-patient", &photo)).await;
    assert_eq!(s, 404);
    let (s, _, _) =
        post(&sandbox, "Media", "expired-or-forged", "F2N060-E", &media(Some("i"), PATIENT, &photo)).await;
    assert_eq!(s, 401);
    let (s, _, _) = post(&sandbox, "Media", &t, "F2N060-E", &media(Some("i"), PATIENT, b"not a jpeg")).await;
    assert_eq!(s, 400, "base64 must decode to the declared type");

    let doc = |content_type: &str, bytes: &[u8]| {
        json!({
            "resourceType": "DocumentReference", "status": "current",
            "identifier": [{"system": "urn:test", "value": "d1"}],
            "subject": {"reference": format!("Patient/{PATIENT}")},
            "content": [{"attachment": {"contentType": content_type,
                "data": base64::engine::general_purpose::STANDARD.encode(bytes)}}],
        })
    };
    let (s, _, _) = post(&sandbox, "DocumentReference", &t, "F2N060-E", &doc("image/jpeg", &photo)).await;
    assert_eq!(s, 400, "DocumentReference takes only PDF or TIFF");
    let (s, _, _) =
        post(&sandbox, "DocumentReference", &t, "F2N060-E", &doc("application/pdf", b"%PDF-1.4 tiny")).await;
    assert_eq!(s, 201);
    let mut big = b"%PDF-1.4".to_vec();
    big.resize(8 * 1024 * 1024 + 1, b' ');
    let (s, _, _) = post(&sandbox, "DocumentReference", &t, "F2N060-E", &doc("application/pdf", &big)).await;
    assert_eq!(s, 413);

    assert_eq!(sandbox.json("/inbox.json").await.as_array().unwrap().len(), 2);

    // Searches go by patient.identifier only, as in ALEX.
    let search = |q: &str| {
        reqwest::Client::new()
            .get(format!("{}/FHIR/Media?{q}", sandbox.base))
            .bearer_auth(&t)
            .header("mt-facilityid", "F2N060-E")
            .send()
    };
    assert_eq!(search(&format!("patient={PATIENT}")).await.unwrap().status().as_u16(), 403);
    let found: Value = search("patient.identifier=https://standards.digital.health.nz/ns/nhi-id%7CZZZ0016")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["entry"].as_array().unwrap().len(), 1);
}

/// A desktop session on `app` holding `n` uploaded images with metadata.
async fn session_with_images(app: &TestApp, n: usize, facility: &str) -> (Auth, Vec<(String, Vec<u8>)>) {
    let desktop = Auth::Cookie(app.launch_at(PATIENT, facility).await);
    let mut images = Vec::new();
    for i in 0..n {
        let photo = jpeg(20 + i as u32, 10);
        let ticket = app.upload(&desktop, "image/jpeg", photo.clone()).await;
        let id = ticket["imageId"].as_str().unwrap().to_owned();
        let meta =
            json!({"laterality": "left", "bodySite": "14975008", "description": format!("Rash day {i}")});
        let (s, body) =
            app.post("/api/medtech/session/images", json!({"imageId": id, "metadata": meta}), &desktop).await;
        assert_eq!(s, 200, "{body}");
        images.push((id, photo));
    }
    (desktop, images)
}

#[tokio::test]
async fn commits_carry_the_clinical_metadata_and_the_exact_bytes() {
    let sandbox = SandboxServer::start().await;
    let mut vars = service_vars();
    vars.extend(sandbox.vars());
    let app = TestApp::start(vars).await;
    let (desktop, images) = session_with_images(&app, 2, "F2N060-E").await;

    let report = app.commit(&desktop, None).await;
    assert_eq!(statuses(&report), ["committed", "committed"]);
    assert!(uuid::Uuid::parse_str(report["correlationId"].as_str().unwrap()).is_ok());

    let inbox = sandbox.json("/inbox.json").await;
    let inbox = inbox.as_array().unwrap();
    assert_eq!(inbox.len(), 2);
    for (id, photo) in &images {
        let entry = inbox.iter().find(|e| e["resource"]["identifier"][0]["value"] == id.as_str());
        let m = &entry.expect("each image was filed under its own identifier")["resource"];
        assert_eq!(m["subject"]["reference"], format!("Patient/{PATIENT}"));
        assert_eq!(
            m["bodySite"]["coding"][0],
            json!({"system": "http://snomed.info/sct", "code": "14975008", "display": "Forearm structure"})
        );
        assert_eq!(m["bodySite"]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"], "7771000");
        assert_eq!(
            m["bodySite"]["extension"][0]["url"],
            "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-laterality-qualifier"
        );
        assert_eq!(m["bodySite"]["text"], "Left forearm");
        assert!(m["note"][0]["text"].as_str().unwrap().starts_with("Rash day"));
        let data =
            base64::engine::general_purpose::STANDARD.decode(m["content"]["data"].as_str().unwrap()).unwrap();
        assert!(&data == photo, "the committed bytes are the uploaded bytes");
        use sha1::Digest;
        let hash = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(photo));
        assert_eq!(m["content"]["hash"], hash.as_str());
        assert_eq!(m["content"]["size"], photo.len());
    }

    // Committed images are reported, never posted again; their blobs are gone.
    let again = app.commit(&desktop, None).await;
    assert_eq!(statuses(&again), ["committed", "committed"]);
    assert_eq!(sandbox.json("/inbox.json").await.as_array().unwrap().len(), 2);
    let (_, list) = app.get("/api/medtech/session/images", &desktop).await;
    for image in list.as_array().unwrap() {
        assert_eq!(image["status"]["state"], "committed");
        // Its bytes are gone, so no preview URL points at them.
        assert_eq!(image["previewUrl"], Value::Null, "a committed image has no preview");
    }
    let records = app.state.sessions.images(&session_key(&desktop)).await.unwrap();
    assert_eq!(records.len(), 2, "the session's records");
    for record in records {
        assert_eq!(app.state.blobs.head(&record.blob_key).await.unwrap(), None, "blob deleted after commit");
    }
    let audit = app.state.sessions.recent_audit(10).await.unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0]["correlationId"], report["correlationId"]);
}

#[tokio::test]
async fn transient_failures_retry_to_exactly_one_resource() {
    let sandbox = SandboxServer::start().await;
    let app = TestApp::start(sandbox.vars()).await;
    let (desktop, _) = session_with_images(&app, 1, "F2N060-E").await;
    sandbox.fault(json!({"count": 2, "status": 503, "retryAfter": 0})).await;
    let report = app.commit(&desktop, None).await;
    assert_eq!(statuses(&report), ["committed"]);
    assert_eq!(sandbox.json("/inbox.json").await.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_401_mid_commit_refreshes_the_token_once() {
    let sandbox = SandboxServer::start().await;
    let app = TestApp::start(sandbox.vars()).await;
    let (desktop, _) = session_with_images(&app, 2, "F2N060-E").await;
    // First image gets a token; then the sandbox rejects the next call once.
    sandbox.fault(json!({"count": 1})).await;
    sandbox.fault(json!({"count": 1, "status": 401})).await;
    let report = app.commit(&desktop, None).await;
    assert_eq!(statuses(&report), ["committed", "committed"]);
    assert_eq!(sandbox.json("/stats").await["tokenGrants"], 2, "one grant, one refresh");
}

#[tokio::test]
async fn refusals_map_to_gp_messages_without_retrying() {
    let sandbox = SandboxServer::start().await;
    let app = TestApp::start(sandbox.vars()).await;
    let (desktop, _) = session_with_images(&app, 1, "UNKNOWN-F").await;
    let report = app.commit(&desktop, None).await;
    let r = &report["results"][0];
    assert_eq!(r["status"], "failed");
    assert_eq!(r["retryable"], false);
    assert!(r["message"].as_str().unwrap().contains("practice (facility)"), "{r}");
    let (_, list) = app.get("/api/medtech/session/images", &desktop).await;
    assert_eq!(list[0]["status"]["state"], "failed");

    sandbox.fault(json!({"count": 1, "status": 400, "path": "/Media"})).await;
    let (desktop, _) = session_with_images(&app, 1, "F2N060-E").await;
    let report = app.commit(&desktop, None).await;
    assert_eq!(report["results"][0]["status"], "failed");
    assert!(sandbox.json("/inbox.json").await.as_array().unwrap().is_empty(), "a 400 is never retried");
}

#[tokio::test]
async fn partial_failure_then_retry_gives_each_image_once() {
    let sandbox = SandboxServer::start().await;
    let app = TestApp::start(sandbox.vars()).await;
    let (desktop, images) = session_with_images(&app, 3, "F2N060-E").await;
    sandbox.fault(json!({"count": 1})).await;
    sandbox.fault(json!({"count": 1, "status": 422})).await;
    let report = app.commit(&desktop, None).await;
    assert_eq!(statuses(&report), ["committed", "failed", "committed"]);
    let retry = app.commit(&desktop, Some(vec![images[1].0.as_str()])).await;
    assert_eq!(statuses(&retry), ["committed"]);
    let inbox = sandbox.json("/inbox.json").await;
    let mut ids: Vec<&str> = inbox
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["identifier"][0]["value"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut expected: Vec<&str> = images.iter().map(|(id, _)| id.as_str()).collect();
    expected.sort();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn concurrent_commits_post_each_image_once() {
    let sandbox = SandboxServer::start().await;
    let mut vars = service_vars();
    vars.extend(sandbox.vars());
    let a = TestApp::start(vars.clone()).await;
    let b = TestApp::start(vars).await;
    let (desktop, images) = session_with_images(&a, 3, "F2N060-E").await;
    // Slow the sandbox down so the two commits overlap.
    sandbox.fault(json!({"count": 6, "delayMs": 150})).await;
    let (one, two) = tokio::join!(a.commit(&desktop, None), b.commit(&desktop, None));
    let done = |r: &Value| statuses(r).iter().filter(|s| **s == "committed").count();
    assert!(done(&one) + done(&two) >= images.len());
    assert_eq!(sandbox.json("/inbox.json").await.as_array().unwrap().len(), images.len());
}

#[tokio::test]
async fn concurrent_commits_share_one_token_request() {
    let sandbox = SandboxServer::start().await;
    let app = TestApp::start(sandbox.vars()).await;
    let mut sessions = Vec::new();
    for _ in 0..20 {
        sessions.push(session_with_images(&app, 1, "F2N060-E").await.0);
    }
    let reports = futures::future::join_all(sessions.iter().map(|d| app.commit(d, None))).await;
    assert!(reports.iter().all(|r| statuses(r) == ["committed"]));
    assert_eq!(sandbox.json("/stats").await["tokenGrants"], 1);
}

#[tokio::test]
async fn a_phone_cannot_commit() {
    let app = TestApp::start(vec![]).await;
    let (desktop, _) = session_with_images(&app, 1, "F2N060-E").await;
    let (_, grant) = app.post("/api/medtech/session/mobile-token", json!({}), &desktop).await;
    let phone = Auth::Bearer(grant["mobileUrl"].as_str().unwrap().split("t=").nth(1).unwrap().to_owned());
    let (s, _) = app.post("/api/medtech/attachments/commit", json!({}), &phone).await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn scan_mode_files_a_captioned_pdf_document_reference() {
    let sandbox = SandboxServer::start().await;
    let mut vars = sandbox.vars();
    vars.push(("ALEX_COMMIT_MODE".into(), "scan".into()));
    let app = TestApp::start(vars).await;
    let (desktop, images) = session_with_images(&app, 1, "F2N060-E").await;
    let report = app.commit(&desktop, None).await;
    assert_eq!(statuses(&report), ["committed"], "{report}");

    let inbox = sandbox.json("/inbox.json").await;
    let entry = &inbox[0];
    assert_eq!(entry["resourceType"], "DocumentReference");
    let doc = &entry["resource"];
    assert_eq!(doc["type"]["coding"][0]["code"], "72170-4");
    assert_eq!(doc["identifier"][0]["value"], images[0].0.as_str());
    let attachment = &doc["content"][0]["attachment"];
    assert_eq!(attachment["contentType"], "application/pdf");
    let pdf = base64::engine::general_purpose::STANDARD.decode(attachment["data"].as_str().unwrap()).unwrap();
    assert!(pdf.len() <= 8 * 1024 * 1024);
    let parsed = lopdf::Document::load_mem(&pdf).expect("the PDF parses");
    let text = parsed.extract_text(&[1]).unwrap();
    assert!(text.contains("Site: Left forearm") && text.contains("Rash day 0"), "{text}");
    assert!(
        pdf.windows(images[0].1.len()).any(|w| w == images[0].1.as_slice()),
        "the JPEG is embedded unchanged"
    );
}

#[tokio::test]
async fn an_expired_token_is_refreshed_early() {
    let sandbox = SandboxServer::start_with_token_lifetime(std::time::Duration::from_secs(61)).await;
    let app = TestApp::start(sandbox.vars()).await;
    let (desktop, _) = session_with_images(&app, 2, "F2N060-E").await;
    app.commit(&desktop, None).await;
    assert_eq!(sandbox.json("/stats").await["tokenGrants"], 1);
    // Refresh is due 60 s before expiry, so one second from now.
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let (desktop2, _) = session_with_images(&app, 1, "F2N060-E").await;
    app.commit(&desktop2, None).await;
    assert_eq!(sandbox.json("/stats").await["tokenGrants"], 2, "refreshed before the token expired");
}

fn session_key(auth: &Auth) -> clinical_images::server::stores::session_store::SessionKey {
    let Auth::Cookie(c) = auth else { panic!("desktop cookie expected") };
    crate::common::session_key(c)
}

#[tokio::test]
async fn the_capture_time_becomes_created_date_time() {
    let sandbox = SandboxServer::start().await;
    let app = TestApp::start(sandbox.vars()).await;
    let cookie = app.launch(PATIENT).await;
    let desktop = Auth::Cookie(cookie);
    let ticket = app.upload(&desktop, "image/jpeg", jpeg(10, 10)).await;
    let body = json!({"imageId": ticket["imageId"], "capturedAt": "2026-11-20T09:15:00Z"});
    let (s, _) = app.post("/api/medtech/session/images", body, &desktop).await;
    assert_eq!(s, 200);
    let bad = json!({"imageId": ticket["imageId"], "capturedAt": "last Tuesday"});
    assert_eq!(app.post("/api/medtech/session/images", bad, &desktop).await.0, 400);
    app.commit(&desktop, None).await;
    let inbox = sandbox.json("/inbox.json").await;
    assert_eq!(inbox[0]["resource"]["createdDateTime"], "2026-11-20T09:15:00Z");
    assert_eq!(inbox[0]["resource"]["operator"], Value::Null, "no provider on a development launch");
}

#[tokio::test]
async fn scan_mode_can_file_a_tiff() {
    let sandbox = SandboxServer::start().await;
    let mut vars = sandbox.vars();
    vars.push(("ALEX_COMMIT_MODE".into(), "scan".into()));
    vars.push(("ALEX_SCAN_FORMAT".into(), "tiff".into()));
    let app = TestApp::start(vars).await;
    let (desktop, _) = session_with_images(&app, 1, "F2N060-E").await;
    assert_eq!(statuses(&app.commit(&desktop, None).await), ["committed"]);
    let inbox = sandbox.json("/inbox.json").await;
    let attachment = &inbox[0]["resource"]["content"][0]["attachment"];
    assert_eq!(attachment["contentType"], "image/tiff");
    assert!(attachment["title"].as_str().unwrap().ends_with(".tif"));
}

/// A session opened the way Evolution opens it (so it knows the patient's NHI).
async fn evolution_session(app: &TestApp, sandbox: &SandboxServer) -> Auth {
    let (context, signature) = sandbox
        .launch_context(json!({"patientId": PATIENT, "facilityId": "F2N060-E", "providerId": "gp-7"}))
        .await;
    let url = format!("/medtech-images/launch?context={context}&signature={signature}");
    let res = app.http.get(app.url(&url)).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    Auth::Cookie(res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned())
}

/// A sandbox, an app pointed at it, and an Evolution-launched session holding one registered image.
async fn evolution_session_with_one_image() -> (SandboxServer, TestApp, Auth) {
    let sandbox = SandboxServer::start().await;
    let app = TestApp::start(sandbox.vars()).await;
    let desktop = evolution_session(&app, &sandbox).await;
    let ticket = app.upload(&desktop, "image/jpeg", jpeg(16, 16)).await;
    assert_eq!(app.register(&desktop, ticket["imageId"].as_str().unwrap()).await.0, 200);
    (sandbox, app, desktop)
}

#[tokio::test]
async fn a_lost_response_never_becomes_a_duplicate() {
    let (sandbox, app, desktop) = evolution_session_with_one_image().await;

    // ALEX files the Media, but the answer is a 503: the retry must find it, not post again.
    sandbox.fault(json!({"count": 1, "status": 503, "afterHandling": true, "retryAfter": 0})).await;
    let report = app.commit(&desktop, None).await;
    assert_eq!(statuses(&report), ["committed"]);
    let inbox = sandbox.json("/inbox.json").await;
    assert_eq!(inbox.as_array().unwrap().len(), 1);
    assert_eq!(report["results"][0]["resourceId"], inbox[0]["id"]);
    assert_eq!(inbox[0]["resource"]["operator"]["reference"], "Practitioner/gp-7");
}

#[tokio::test]
async fn a_commit_that_gave_up_is_reconciled_on_retry() {
    let (sandbox, app, desktop) = evolution_session_with_one_image().await;

    // Filed, but answered 503 with a Retry-After past the retry budget: the commit gives up.
    sandbox.fault(json!({"count": 1, "status": 503, "afterHandling": true, "retryAfter": 40})).await;
    let first = app.commit(&desktop, None).await;
    assert_eq!(first["results"][0]["status"], "failed");
    assert_eq!(first["results"][0]["retryable"], true);
    // The GP retries: the earlier attempt is found, nothing is posted twice.
    let second = app.commit(&desktop, None).await;
    assert_eq!(statuses(&second), ["committed"]);
    assert_eq!(sandbox.json("/inbox.json").await.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_commit_rule_holds_back_photos_without_details() {
    let sandbox = SandboxServer::start().await;
    let mut vars = sandbox.vars();
    vars.push(("COMMIT_RULE".into(), "bodySiteOrDescription".into()));
    let app = TestApp::start(vars).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let ticket = app.upload(&desktop, "image/jpeg", jpeg(12, 12)).await;
        let id = ticket["imageId"].as_str().unwrap().to_owned();
        assert_eq!(app.register(&desktop, &id).await.0, 200);
        ids.push(id);
    }
    let described = json!({"imageId": ids[0], "metadata": {"description": "Wound, day 3"}});
    assert_eq!(app.post("/api/medtech/session/images/metadata", described, &desktop).await.0, 200);
    let report = app.commit(&desktop, None).await;
    let result =
        |id: &str| report["results"].as_array().unwrap().iter().find(|r| r["imageId"] == id).unwrap().clone();
    assert_eq!(result(&ids[0])["status"], "committed");
    assert_eq!(result(&ids[1])["status"], "failed");
    assert_eq!(result(&ids[1])["message"], "Add a body site or a description.");
    assert_eq!(
        sandbox.json("/inbox.json").await.as_array().unwrap().len(),
        1,
        "only the described photo is filed"
    );
}

#[tokio::test]
async fn a_lost_response_without_an_nhi_still_ends_with_exactly_one_resource() {
    // The patient read at launch fails, so the session knows no NHI.
    let sandbox = SandboxServer::start().await;
    let app = TestApp::start(sandbox.vars()).await;
    let (context, signature) =
        sandbox.launch_context(json!({"patientId": PATIENT, "facilityId": "F2N060-E"})).await;
    sandbox.fault(json!({"count": 1, "status": 403, "path": "/Patient/"})).await;
    let url = format!("/medtech-images/launch?context={context}&signature={signature}");
    let res = app.http.get(app.url(&url)).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let (_, session) = app.session_view(&cookie).await;
    let desktop = Auth::Cookie(cookie);
    assert_eq!(session["patientLabel"], "Patient ···008b", "no name or NHI known");
    // The patient already has more filings than one search page holds.
    for _ in 0..7 {
        let ticket = app.upload(&desktop, "image/jpeg", jpeg(16, 16)).await;
        assert_eq!(app.register(&desktop, ticket["imageId"].as_str().unwrap()).await.0, 200);
    }
    let first = app.commit(&desktop, None).await;
    assert!(statuses(&first).iter().all(|s| *s == "committed"));
    let ticket = app.upload(&desktop, "image/jpeg", jpeg(18, 18)).await;
    let id = ticket["imageId"].as_str().unwrap().to_owned();
    assert_eq!(app.register(&desktop, &id).await.0, 200);
    // Filed, answer lost: the client looks (reading the patient for its NHI,
    // then every page) before it would post again.
    sandbox
        .fault(json!({"count": 1, "status": 503, "afterHandling": true, "retryAfter": 0, "path": "/Media"}))
        .await;
    let report = app.commit(&desktop, Some(vec![id.as_str()])).await;
    assert_eq!(statuses(&report), ["committed"], "{report}");
    let ours: Vec<Value> = sandbox
        .json("/inbox.json")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resource"]["identifier"][0]["value"] == id.as_str())
        .cloned()
        .collect();
    assert_eq!(ours.len(), 1, "exactly one resource for the image");
    assert_eq!(report["results"][0]["resourceId"], ours[0]["id"]);
}

#[tokio::test]
async fn a_failing_look_never_becomes_a_second_post() {
    let (sandbox, app, desktop) = evolution_session_with_one_image().await;
    // The POST lands but its answer is lost; the look that follows fails.
    sandbox
        .fault(json!({"count": 1, "status": 503, "afterHandling": true, "retryAfter": 0, "path": "/Media"}))
        .await;
    sandbox.fault(json!({"count": 1, "status": 500, "path": "patient.identifier"})).await;
    let first = app.commit(&desktop, None).await;
    assert_eq!(first["results"][0]["status"], "failed", "{first}");
    assert_eq!(first["results"][0]["retryable"], true, "unknown is not 'not filed'");
    assert_eq!(sandbox.json("/inbox.json").await.as_array().unwrap().len(), 1);
    // The retry looks again, finds it, and posts nothing.
    let second = app.commit(&desktop, None).await;
    assert_eq!(statuses(&second), ["committed"]);
    let inbox = sandbox.json("/inbox.json").await;
    assert_eq!(inbox.as_array().unwrap().len(), 1);
    assert_eq!(second["results"][0]["resourceId"], inbox[0]["id"]);
}

#[tokio::test]
async fn searches_page_and_find_resources_by_their_identifier() {
    let sandbox = SandboxServer::start().await;
    // This checks the lenient sandbox's own searches (the `identifier`
    // parameter among them); the strict one is tests/it/alex_strict.rs's.
    let lenient =
        reqwest::Client::new().post(format!("{}/search-mode", sandbox.base)).json(&json!({"strict": false}));
    assert!(lenient.send().await.unwrap().status().is_success());
    let app = TestApp::start(sandbox.vars()).await;
    let (desktop, images) = session_with_images(&app, 7, "F2N060-E").await;
    assert!(statuses(&app.commit(&desktop, None).await).iter().all(|s| *s == "committed"));
    let token = sandbox.token().await;
    let http = reqwest::Client::new();
    let get = |url: String| http.get(url).bearer_auth(&token).header("mt-facilityid", "F2N060-E").send();
    let nhi = "https%3A%2F%2Fstandards.digital.health.nz%2Fns%2Fnhi-id%7CZZZ0016";
    let first: Value = get(format!("{}/FHIR/Media?patient.identifier={nhi}", sandbox.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["entry"].as_array().unwrap().len(), 5, "one page");
    let next = first["link"][0]["url"].as_str().expect("a next link").to_owned();
    let second: Value = get(next).await.unwrap().json().await.unwrap();
    assert_eq!(second["entry"].as_array().unwrap().len(), 2);
    assert!(second.get("link").is_none());
    let wanted = &images[3].0;
    let by_id: Value =
        get(format!("{}/FHIR/Media?identifier={wanted}", sandbox.base)).await.unwrap().json().await.unwrap();
    let entries = by_id["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["resource"]["identifier"][0]["value"], wanted.as_str());
}

#[tokio::test]
async fn the_practice_reads_the_audit_by_session_and_by_patient() {
    let (_sandbox, vars, app) = audited_app().await;
    let (desktop, images) = session_with_images(&app, 2, "F2N060-E").await;
    assert_eq!(statuses(&app.commit(&desktop, None).await), ["committed", "committed"]);

    let (status, audit) = app.post("/api/medtech/attachments/audit", json!({}), &desktop).await;
    assert_eq!(status, 200, "{audit}");
    let entries = audit.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for (entry, (id, _)) in entries.iter().zip(&images) {
        assert_eq!(entry["imageId"], id.as_str());
        assert_eq!(entry["outcome"], "committed");
        assert!(entry["resourceId"].is_string() && entry["correlationId"].is_string());
    }
    // Another session of the same practice sees only its own.
    let (other, _) = session_with_images(&app, 0, "F2N060-E").await;
    assert_eq!(app.post("/api/medtech/attachments/audit", json!({}), &other).await.1, json!([]));

    // IT, on the host: by patient, through the hash, never the id itself.
    let cli =
        |patient: &str| audit_cli(&vars, &app, &["--since", "2026-01-01T00:00:00Z", "--patient", patient]);
    let printed = cli(PATIENT);
    assert_eq!(printed.lines().count(), 2, "{printed}");
    for (id, _) in &images {
        assert!(printed.contains(id.as_str()));
    }
    assert!(!printed.contains(PATIENT), "the audit holds no patient id");
    assert_eq!(cli("5b1f0c7a9e3d4c2b8a6f1e0d9c8b7a65").lines().count(), 0, "another patient has none");
}

#[tokio::test]
async fn refusals_are_one_audit_entry_per_photo_and_never_push_out_a_filing() {
    let (sandbox, vars, app) = audited_app().await;
    // One session files a photo.
    let (filer, filed) = session_with_images(&app, 1, "F2N060-E").await;
    assert_eq!(statuses(&app.commit(&filer, None).await), ["committed"]);
    // Another's photo is refused by ALEX, again and again.
    let (refused, images) = session_with_images(&app, 1, "F2N060-E").await;
    for _ in 0..3 {
        sandbox.fault(json!({"count": 1, "status": 422, "path": "/Media"})).await;
        assert_eq!(statuses(&app.commit(&refused, None).await), ["failed"]);
    }
    let (_, audit) = app.post("/api/medtech/attachments/audit", json!({}), &refused).await;
    let entries = audit.as_array().unwrap();
    assert_eq!(entries.len(), 1, "one entry for one photo: {audit}");
    assert_eq!(entries[0]["imageId"], images[0].0.as_str());
    assert_eq!((entries[0]["outcome"].as_str(), entries[0]["attempts"].as_u64()), (Some("failed"), Some(3)));
    // A flood of refusals as the commit records them, past the old bound.
    let refused_session_key = refused_key(&refused);
    let session = clinical_images::server::support::ids::log_id(&refused_session_key);
    let record = json!({"at": "2026-12-06T00:00:00Z", "session": session, "imageId": images[0].0,
        "outcome": "failed", "correlationId": "flood", "attempts": 1});
    let key = format!("{session}:{}", images[0].0);
    let retention = std::time::Duration::from_secs(3600);
    for _ in 0..10_100 {
        app.state.sessions.append_refusal(&key, &record, retention).await.unwrap();
    }
    // The filing is still readable, through the session and by IT.
    let (_, audit) = app.post("/api/medtech/attachments/audit", json!({}), &filer).await;
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit}");
    assert_eq!(audit[0]["imageId"], filed[0].0.as_str());
    assert_eq!(audit[0]["outcome"], "committed");
    let printed = audit_cli(&vars, &app, &["--since", "2026-01-01T00:00:00Z", "--limit", "100000"]);
    assert!(printed.contains(filed[0].0.as_str()), "the CLI still lists the filing");
    let flood_lines = printed.lines().filter(|l| l.contains(images[0].0.as_str())).count();
    assert_eq!(flood_lines, 1, "the refusals are one record");
}

/// An app on Redis and S3 whose ALEX is a separate sandbox, as in
/// production: its audit is in Redis, where the `audit` command reads it.
async fn audited_app() -> (SandboxServer, Vec<(String, String)>, TestApp) {
    let sandbox = SandboxServer::start().await;
    let mut vars = service_vars();
    vars.extend(sandbox.vars());
    vars.retain(|(k, _)| k != "ALEX_SANDBOX");
    let app = TestApp::start(vars.clone()).await;
    (sandbox, vars, app)
}

/// What `clinical-images audit <args>` prints on the host, configured as `app` is.
fn audit_cli(vars: &[(String, String)], app: &TestApp, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clinical-images"))
        .arg("audit")
        .args(args)
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("PUBLIC_BASE_URL", &app.base)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The Redis key of a desktop session from its cookie.
fn refused_key(auth: &Auth) -> String {
    let Auth::Cookie(c) = auth else { panic!("desktop cookie expected") };
    clinical_images::server::support::ids::hash_credential(c.split_once('=').unwrap().1)
}

/// The value of a Prometheus sample line `name{labels} value` (0 if absent).
fn sample(metrics: &str, name: &str, labels: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| labels.iter().all(|lab| l.contains(lab)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn metrics_move_with_sessions_uploads_commits_and_alex_calls() {
    let sandbox = SandboxServer::start().await;
    let app = TestApp::start(sandbox.vars()).await;
    let metrics_url = format!("{}/metrics", app.metrics_listener().await);
    let scrape = || async { reqwest::get(&metrics_url).await.unwrap().text().await.unwrap() };
    let before = scrape().await;
    let (desktop, _) = session_with_images(&app, 2, "F2N060-E").await;
    let refused = app
        .post("/api/medtech/session/presigned-url", json!({"contentType": "text/html", "size": 5}), &desktop)
        .await;
    assert_eq!(refused.0, 415);
    assert_eq!(statuses(&app.commit(&desktop, None).await), ["committed", "committed"]);
    let after = scrape().await;

    let moved = |name: &str, labels: &[&str]| sample(&after, name, labels) - sample(&before, name, labels);
    assert!(moved("sessions_created_total", &["launch=\"evolution\""]) >= 1.0, "{after}");
    assert!(moved("uploads_registered_total", &[]) >= 2.0);
    assert!(moved("uploads_refused_total", &["reason=\"UnsupportedType\""]) >= 1.0);
    assert!(moved("commits_total", &["outcome=\"committed\""]) >= 2.0);
    assert!(moved("alex_calls_total", &["status=\"201\""]) >= 2.0);
    assert!(moved("alex_token_refreshes_total", &["outcome=\"ok\""]) >= 1.0);
    assert!(
        moved("http_requests_total", &["route=\"/api/medtech/attachments/commit\"", "status=\"200\""]) >= 1.0
    );
    assert!(after.contains("http_request_duration_seconds_bucket"), "latency histograms");
    assert!(after.contains("alex_call_duration_seconds_bucket"));
    assert!(!after.contains(PATIENT), "no patient id in any label");
}

#[tokio::test]
async fn a_redirect_from_alex_is_not_followed_so_a_photo_never_goes_to_another_host() {
    use clinical_images::server::services::capture_sessions::{self, Launch};
    let sandbox = SandboxServer::start().await;
    // An "ALEX" that answers every call with a 307 to another host (the sandbox).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirector = format!("http://{}", listener.local_addr().unwrap());
    let target = sandbox.base.clone();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    let router = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let target = target.clone();
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            (axum::http::StatusCode::TEMPORARY_REDIRECT, [("location", format!("{target}{}", uri.path()))])
        }
    });
    tokio::spawn(std::future::IntoFuture::into_future(axum::serve(listener, router)));
    let mut vars = service_vars();
    vars.extend(sandbox.vars());
    for (k, v) in vars.iter_mut() {
        if k == "ALEX_BASE_URL" {
            *v = format!("{redirector}/FHIR");
        }
    }
    let app = TestApp::start(vars).await;
    // A session as a launch makes it (the launch itself would be redirected too).
    let launch = Launch {
        patient_id: PATIENT.into(),
        facility_id: "F2N060-E".into(),
        nhi: Some("ZZZ0016".into()),
        ..Launch::default()
    };
    let created = capture_sessions::create(&app.state, launch).await.unwrap();
    let desktop = Auth::Cookie(format!("ci_session_{}={}", created.name, created.cookie));
    let ticket = app.upload(&desktop, "image/jpeg", jpeg(16, 16)).await;
    let id = ticket["imageId"].as_str().unwrap();
    assert_eq!(app.register(&desktop, id).await.0, 200);
    let (_, report) = app.post("/api/medtech/attachments/commit", json!({}), &desktop).await;
    assert_eq!(report["results"][0]["status"], "failed", "{report}");
    assert!(hits.load(std::sync::atomic::Ordering::SeqCst) >= 1, "the redirector was asked");
    assert_eq!(
        sandbox.json("/inbox.json").await.as_array().unwrap().len(),
        0,
        "nothing reached the other host"
    );
}
