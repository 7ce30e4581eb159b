//! ALEX as a strict FHIR server: searches with parameters ALEX does not
//! document are refused (400 `not-supported`). The look before a re-post
//! falls back to the documented `patient.identifier` search, and a patient
//! without an NHI, who cannot be searched, is never posted twice.

use crate::common::{statuses, Auth, SandboxServer, TestApp};
use clinical_images::server::sandbox::PATIENT_WITHOUT_NHI;
use serde_json::{json, Value};

const PATIENT: &str = "14e52e16edb7a435bfa05e307afd008b";
const NHI: &str = "https%3A%2F%2Fstandards.digital.health.nz%2Fns%2Fnhi-id%7CZZZ0016";

async fn search_mode(sandbox: &SandboxServer, strict: bool) {
    let res = reqwest::Client::new()
        .post(format!("{}/search-mode", sandbox.base))
        .json(&json!({"strict": strict}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    assert_eq!(sandbox.json("/stats").await["strictSearch"], strict);
}

/// The Media POST lands, but its answer is a 503.
async fn lose_the_next_media_answer(sandbox: &SandboxServer, patient: &str) {
    sandbox
        .fault(json!({"count": 1, "status": 503, "afterHandling": true, "retryAfter": 0,
            "path": "/Media", "patientId": patient}))
        .await;
}

/// A patient with six photos already filed (more than one search page), then
/// two more photos whose answers are lost, one commit after the other, in
/// one app process: each ends committed, filed exactly once. Returns how
/// many searches the sandbox refused.
async fn lost_answers_are_found(strict: bool) -> u64 {
    let sandbox = SandboxServer::start().await;
    search_mode(&sandbox, strict).await;
    let app = TestApp::start(sandbox.vars()).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    for i in 0..6 {
        app.add_photo(&desktop, 12 + i).await;
    }
    assert!(statuses(&app.commit(&desktop, None).await).iter().all(|s| *s == "committed"));

    for size in [20, 22] {
        let id = app.add_photo(&desktop, size).await;
        lose_the_next_media_answer(&sandbox, PATIENT).await;
        let report = app.commit(&desktop, Some(vec![id.as_str()])).await;
        assert_eq!(statuses(&report), ["committed"], "{report}");
        let ours = sandbox.filed(&id).await;
        assert_eq!(ours.len(), 1, "exactly one Media for the image");
        assert_eq!(report["results"][0]["resourceId"], ours[0]["id"]);
    }
    assert_eq!(sandbox.json("/inbox.json").await.as_array().unwrap().len(), 8);
    sandbox.json("/stats").await["searchesRefused"].as_u64().unwrap()
}

#[tokio::test]
async fn a_strict_alex_refuses_undocumented_search_parameters() {
    let sandbox = SandboxServer::start().await;
    let app = TestApp::start(sandbox.vars()).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(app.add_photo(&desktop, 12 + i).await);
    }
    assert!(statuses(&app.commit(&desktop, None).await).iter().all(|s| *s == "committed"));
    search_mode(&sandbox, true).await;

    let t = sandbox.token().await;
    let http = reqwest::Client::new();
    let get = |url: String| async {
        let res = http.get(url).bearer_auth(&t).header("mt-facilityid", "F2N060-E").send().await.unwrap();
        (res.status().as_u16(), res.json::<Value>().await.unwrap())
    };
    let fhir = format!("{}/FHIR", sandbox.base);
    let (s, refused) = get(format!("{fhir}/Media?patient.identifier={NHI}&identifier={}", ids[3])).await;
    assert_eq!((s, &refused["resourceType"]), (400, &json!("OperationOutcome")));
    assert_eq!(refused["issue"][0]["code"], "not-supported");
    let (s, refused) = get(format!("{fhir}/Media?identifier={}", ids[3])).await;
    assert_eq!((s, refused["issue"][0]["code"].as_str()), (400, Some("not-supported")));
    let (s, refused) = get(format!("{fhir}/Patient?identifier={NHI}&name=Aroha")).await;
    assert_eq!((s, refused["issue"][0]["code"].as_str()), (400, Some("not-supported")));
    // Still forbidden, as in ALEX, whatever the mode.
    assert_eq!(get(format!("{fhir}/Media?patient={PATIENT}")).await.0, 403);

    // The documented searches work, and so do the sandbox's own next links.
    let (s, patients) = get(format!("{fhir}/Patient?identifier={NHI}")).await;
    assert_eq!((s, patients["entry"][0]["resource"]["id"].as_str()), (200, Some(PATIENT)));
    let (s, first) = get(format!("{fhir}/Media?patient.identifier={NHI}")).await;
    assert_eq!((s, first["entry"].as_array().unwrap().len()), (200, 5));
    let (s, second) = get(first["link"][0]["url"].as_str().expect("a next link").to_owned()).await;
    assert_eq!((s, second["entry"].as_array().unwrap().len()), (200, 2));
    assert_eq!(sandbox.json("/stats").await["searchesRefused"], 3);

    // Switched back, the narrowed search answers again.
    search_mode(&sandbox, false).await;
    let (s, narrowed) = get(format!("{fhir}/Media?patient.identifier={NHI}&identifier={}", ids[3])).await;
    assert_eq!((s, narrowed["entry"].as_array().unwrap().len()), (200, 1));
}

#[tokio::test]
async fn with_a_strict_alex_a_lost_answer_is_found_by_the_documented_search() {
    // The narrowed look is refused once; the client falls back to the
    // documented search (paged), and keeps to it for the next image.
    assert_eq!(lost_answers_are_found(true).await, 1, "refused once, then remembered");
}

#[tokio::test]
async fn with_a_lenient_alex_a_lost_answer_is_found_by_the_narrowed_search() {
    assert_eq!(lost_answers_are_found(false).await, 0);
}

#[tokio::test]
async fn a_patient_without_an_nhi_is_never_posted_twice() {
    let sandbox = SandboxServer::start().await;
    let app = TestApp::start(sandbox.vars()).await;
    let patient = PATIENT_WITHOUT_NHI.id;
    let desktop = Auth::Cookie(app.launch(patient).await);

    // The first post needs no look: it files.
    let first = app.add_photo(&desktop, 16).await;
    assert_eq!(statuses(&app.commit(&desktop, Some(vec![first.as_str()])).await), ["committed"]);

    // Filed, answer lost: nothing can tell whether it landed, so it is not sent again.
    let lost = app.add_photo(&desktop, 18).await;
    lose_the_next_media_answer(&sandbox, patient).await;
    let report = app.commit(&desktop, Some(vec![lost.as_str()])).await;
    let r = &report["results"][0];
    assert_eq!(r["status"], "failed", "{report}");
    let message = r["message"].as_str().unwrap();
    assert!(message.contains("no NHI") && message.contains("was not sent again"), "{message}");
    assert_eq!(sandbox.filed(&lost).await.len(), 1, "posted once");
    // Committed again: it looks again, and so again refuses; never a blind post.
    let again = app.commit(&desktop, Some(vec![lost.as_str()])).await;
    assert_eq!(again["results"][0]["status"], "failed", "{again}");
    assert!(again["results"][0]["message"].as_str().unwrap().contains("no NHI"), "{again}");
    assert_eq!(sandbox.filed(&lost).await.len(), 1, "still posted once");
    let (_, list) = app.get("/api/medtech/session/images", &desktop).await;
    let status = &list.as_array().unwrap().iter().find(|i| i["imageId"] == lost.as_str()).unwrap()["status"];
    assert_eq!(status["state"], "failed");
    assert!(status["message"].as_str().unwrap().contains("no NHI"), "{status}");

    // Refused outright (503, nothing filed): still not posted again blind.
    let busy = app.add_photo(&desktop, 20).await;
    sandbox
        .fault(json!({"count": 1, "status": 503, "retryAfter": 0, "path": "/Media", "patientId": patient}))
        .await;
    let report = app.commit(&desktop, Some(vec![busy.as_str()])).await;
    assert_eq!(report["results"][0]["status"], "failed", "{report}");
    assert!(report["results"][0]["message"].as_str().unwrap().contains("no NHI"));
    assert!(sandbox.filed(&busy).await.is_empty(), "no second post after the 503");
    assert_eq!(sandbox.json("/inbox.json").await.as_array().unwrap().len(), 2);
}
