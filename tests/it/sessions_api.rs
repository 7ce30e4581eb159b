//! The session endpoints over HTTP, against real Redis: the development
//! launch, the desktop's session view, and a phone's token check.

use crate::common::{service_vars, session_of, Auth, TestApp};
use clinical_images::server::stores::session_store::TokenRecord;
use clinical_images::server::support::clock::unix_now;
use clinical_images::server::support::ids::{hash_credential, random_token};
use serde_json::{json, Value};

const PATIENT: &str = "14e52e16edb7a435bfa05e307afd008b";

async fn dev_launch(app: &TestApp) -> String {
    let res = app
        .http
        .get(app.url(&format!("/medtech-images?patientId={PATIENT}&facilityId=F2N060-E")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"));
    let cookie = cookie.split(';').next().unwrap().to_owned();
    assert_eq!(res.headers()["location"], format!("/medtech-images?session={}", session_of(&cookie)));
    cookie
}

async fn call(app: &TestApp, endpoint: &str, header: Option<(&str, &str)>) -> (u16, Value) {
    let auth = match header {
        None => Auth::None,
        Some(("cookie", c)) => Auth::Cookie(c.to_owned()),
        Some((_, bearer)) => Auth::Bearer(bearer.trim_start_matches("Bearer ").to_owned()),
    };
    app.post(endpoint, json!({}), &auth).await
}

#[tokio::test]
async fn dev_launch_creates_a_session_the_desktop_can_see() {
    let app = TestApp::start(service_vars()).await;
    let cookie = dev_launch(&app).await;

    let (status, body) = app.session_view(&cookie).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "active");
    assert_eq!(body["patientLabel"], "Patient ···008b");
    assert_eq!(body["facilityId"], "F2N060-E");
    assert_eq!(body["devLaunch"], true);

    let (_, body) = call(&app, "/api/medtech/session", None).await;
    assert_eq!(body, json!({"state": "missing", "problem": "notLaunched"}));
    // The cookie of a session that does not exist, under the name of one that does.
    let forged = format!("ci_session_{}=forged", session_of(&cookie));
    let (_, body) = app.session_view(&forged).await;
    assert_eq!(body, json!({"state": "missing", "problem": "expired"}));
}

#[tokio::test]
async fn dev_launch_is_refused_when_disabled() {
    let mut vars = service_vars();
    vars.push(("DEV_LAUNCH".into(), "false".into()));
    let app = TestApp::start(vars).await;
    let res = app.http.get(app.url(&format!("/medtech-images?patientId={PATIENT}"))).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert!(res.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn dev_launch_rejects_malformed_ids() {
    let app = TestApp::start(vec![]).await;
    let res = app.http.get(app.url("/medtech-images?patientId=%3Cscript%3E")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
}

#[tokio::test]
async fn phone_tokens_are_checked_by_hash_and_see_only_a_masked_banner() {
    let app = TestApp::start(service_vars()).await;
    let cookie = dev_launch(&app).await;
    let session_key = crate::common::session_key(&cookie);
    let token = random_token();
    let record = TokenRecord { session_key, created_at: unix_now(), revoked: false };
    let ttl = app.state.config.session.mobile_token_ttl;
    app.state.sessions.put_token(&hash_credential(&token), &record, ttl).await.unwrap();

    let bearer = format!("Bearer {token}");
    let (status, body) = call(&app, "/api/medtech/session/token", Some(("authorization", &bearer))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["valid"], true);
    assert_eq!(body["patientBanner"], "Patient ···08b · F2N060-E");
    assert!(!body.to_string().contains(PATIENT));

    let (status, body) =
        call(&app, "/api/medtech/session/token", Some(("authorization", "Bearer someone-elses"))).await;
    assert_eq!(status, 401);
    assert_eq!(body, json!({"kind": "token", "detail": "notFound"}));

    let (status, body) = call(&app, "/api/medtech/session/token", None).await;
    assert_eq!(status, 401);
    assert_eq!(body, json!({"kind": "token", "detail": "missing"}));

    // The token is useless once its session is gone.
    app.state.sessions.delete(&record.session_key).await.unwrap();
    let (_, body) = call(&app, "/api/medtech/session/token", Some(("authorization", &bearer))).await;
    assert_eq!(body, json!({"kind": "token", "detail": "expired"}));
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let app = TestApp::start(vec![("FRAME_ANCESTORS".into(), "https://evolution.example".into())]).await;
    let res = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let h = res.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors https://evolution.example"), "{csp}");
    assert!(csp.contains("'wasm-unsafe-eval'") && !csp.contains("'unsafe-eval'"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
}
