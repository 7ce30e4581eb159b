//! The launch from Evolution, through a standalone ALEX sandbox: valid,
//! stale, replayed, forged and patient-less contexts.

use crate::common;
use crate::common::{Auth, SandboxServer, TestApp};
use serde_json::{json, Value};

const PATIENT: &str = "14e52e16edb7a435bfa05e307afd008b";

async fn context(sandbox: &SandboxServer, body: Value) -> (String, String) {
    sandbox.launch_context(body).await
}

async fn launch(app: &TestApp, context: &str, signature: &str) -> reqwest::Response {
    app.http
        .get(app.url(&format!("/medtech-images/launch?context={context}&signature={signature}")))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_valid_launch_opens_a_session_for_that_patient() {
    let sandbox = SandboxServer::start().await;
    let app = TestApp::start(sandbox.vars()).await;
    let (c, s) =
        context(&sandbox, json!({"patientId": PATIENT, "facilityId": "F2N060-E", "providerId": "gp-1"}))
            .await;
    let res = launch(&app, &c, &s).await;
    assert_eq!(res.status().as_u16(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    assert_eq!(res.headers()["location"], format!("/medtech-images?session={}", common::session_of(&cookie)));

    let (_, session) = app.session_view(&cookie).await;
    assert_eq!(session["state"], "active");
    assert_eq!(session["patientLabel"], "Aroha Testpatient · NHI ZZZ0016");
    assert_eq!(session["devLaunch"], false);

    // The phone sees initials and three NHI characters only.
    let (_, grant) = app.post("/api/medtech/session/mobile-token", json!({}), &Auth::Cookie(cookie)).await;
    let phone = Auth::Bearer(grant["mobileUrl"].as_str().unwrap().split("t=").nth(1).unwrap().to_owned());
    let (_, link) = app.post("/api/medtech/session/token", json!({}), &phone).await;
    assert_eq!(link["patientBanner"], "A.T. · NHI ···016 · F2N060-E");

    // The same context cannot launch twice.
    let replay = launch(&app, &c, &s).await;
    assert_eq!(replay.status().as_u16(), 403);
    assert!(replay.text().await.unwrap().contains("already been used"));
}

#[tokio::test]
async fn stale_forged_and_patientless_launches_are_refused_with_a_reason() {
    let sandbox = SandboxServer::start().await;
    let app = TestApp::start(sandbox.vars()).await;

    let (c, s) =
        context(&sandbox, json!({"patientId": PATIENT, "facilityId": "F2N060-E", "ageSeconds": 600})).await;
    let stale = launch(&app, &c, &s).await;
    assert_eq!(stale.status().as_u16(), 403);
    assert!(stale.headers().get("set-cookie").is_none());
    assert!(stale.text().await.unwrap().contains("expired"));

    let (c, _) = context(&sandbox, json!({"patientId": PATIENT, "facilityId": "F2N060-E"})).await;
    let forged = launch(&app, &c, &"0".repeat(64)).await;
    assert_eq!(forged.status().as_u16(), 403);
    assert!(forged.text().await.unwrap().contains("not valid"));

    let (c, s) = context(&sandbox, json!({"patientId": null, "facilityId": "F2N060-E"})).await;
    let none = launch(&app, &c, &s).await;
    assert!(none.headers().get("set-cookie").is_none());
    assert!(none.text().await.unwrap().contains("No patient was open"));

    let missing = app.http.get(app.url("/medtech-images/launch")).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 400);
}

#[tokio::test]
async fn the_banner_falls_back_when_the_patient_cannot_be_read() {
    let sandbox = SandboxServer::start().await;
    let app = TestApp::start(sandbox.vars()).await;
    let (c, s) = context(&sandbox, json!({"patientId": PATIENT, "facilityId": "F2N060-E"})).await;
    // The context resolves; the patient read then fails (not retryable).
    sandbox.fault(json!({"count": 1})).await;
    sandbox.fault(json!({"count": 1, "status": 403})).await;
    let res = launch(&app, &c, &s).await;
    assert_eq!(res.status().as_u16(), 303, "the launch still succeeds");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let (_, session) = app.session_view(&cookie).await;
    assert_eq!(session["patientLabel"], "Patient ···008b");
}

#[tokio::test]
async fn the_sandbox_runs_alone_and_several_apps_share_it() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_clinical-images"))
        .arg("alex-sandbox")
        .env("ALEX_SANDBOX_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}/sandbox/alex");
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if http.get(format!("{base}/stats")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "the standalone sandbox answered");
    let vars: Vec<(String, String)> = [
        ("ALEX_BASE_URL", format!("{base}/FHIR")),
        ("ALEX_TOKEN_URL", format!("{base}/oauth2/v2.0/token")),
        ("ALEX_CLIENT_ID", "sandbox-client".into()),
        ("ALEX_CLIENT_SECRET", "sandbox-secret".into()),
        ("ALEX_SCOPE", "api://sandbox/.default".into()),
        ("ALEX_FACILITY_ID", "F2N060-E".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for _ in 0..2 {
        let app = TestApp::start(vars.clone()).await;
        let (_, health) = app.health_detail().await;
        assert_eq!(health["alex"], json!({"backend": "alex", "ok": true, "detail": "reachable"}));
    }
    let stats: Value = http.get(format!("{base}/stats")).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["tokenGrants"], 2, "each app instance obtained its own token");
    child.kill().unwrap();
    let _ = child.wait();
}

#[tokio::test]
async fn a_replay_with_the_signature_re_cased_is_still_a_replay() {
    let sandbox = SandboxServer::start().await;
    let app = TestApp::start(sandbox.vars()).await;
    let (c, s) = context(&sandbox, json!({"patientId": PATIENT, "facilityId": "F2N060-E"})).await;
    assert_eq!(launch(&app, &c, &s).await.status().as_u16(), 303);
    // Hex decodes either case, so ALEX accepts the upper-cased signature.
    assert_ne!(s, s.to_uppercase());
    let replay = launch(&app, &c, &s.to_uppercase()).await;
    assert_eq!(replay.status().as_u16(), 403);
    assert!(replay.headers().get("set-cookie").is_none());
    assert!(replay.text().await.unwrap().contains("already been used"));
}
