//! Health against real dependencies: the embedded defaults, the real Redis
//! and S3 servers, and an S3 endpoint that is down. The detail is read
//! where it is served, on the metrics listener; the public port answers a
//! bare status, from a cached check.

use crate::common;
use crate::common::{service_vars, TestApp};
use serde_json::{json, Value};

async fn healthz(app: &TestApp) -> (u16, Value) {
    app.health_detail().await
}

/// The public readiness probe's status and body.
async fn readyz(app: &TestApp) -> (u16, Value) {
    let res = app.http.get(app.url("/readyz")).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn embedded_mode_is_healthy_with_no_configuration() {
    let app = TestApp::start(vec![]).await;
    let (status, body) = healthz(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mode"], "embedded");
    assert_eq!(body["sessionStore"]["backend"], "memory");
    assert_eq!(body["blobStore"]["backend"], "local-disk");
    assert_eq!(body["alex"]["backend"], "sandbox");
    assert_eq!(body["alex"]["ok"], true, "the app obtains a token from its own sandbox");
}

#[tokio::test]
async fn reports_real_redis_and_s3_as_reachable() {
    let app = TestApp::start(service_vars()).await;
    let (status, body) = healthz(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mode"], "mixed", "ALEX is still the sandbox");
    assert_eq!(
        body["sessionStore"],
        serde_json::json!({"backend": "redis", "ok": true, "detail": "reachable"})
    );
    assert_eq!(body["blobStore"], serde_json::json!({"backend": "s3", "ok": true, "detail": "reachable"}));
}

#[tokio::test]
async fn a_missing_bucket_makes_it_503_without_leaking_the_cause() {
    let mut vars = service_vars();
    // Point at a bucket that does not exist, and do not create it.
    for (k, v) in vars.iter_mut() {
        match k.as_str() {
            "S3_CREATE_BUCKET" => *v = "false".into(),
            "S3_BUCKET" => *v = common::unique("absent").to_lowercase(),
            _ => {}
        }
    }
    let app = TestApp::start(vars).await;
    let (status, body) = healthz(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["blobStore"]["ok"], false);
    assert_eq!(body["blobStore"]["detail"], "unreachable");
    assert_eq!(body["sessionStore"]["ok"], true);
}

fn remote_alex_vars(sandbox: &TestApp, secret: &str) -> Vec<(String, String)> {
    [
        ("ALEX_BASE_URL", format!("{}/sandbox/alex/FHIR", sandbox.base)),
        ("ALEX_TOKEN_URL", format!("{}/sandbox/alex/oauth2/v2.0/token", sandbox.base)),
        ("ALEX_CLIENT_ID", "sandbox-client".to_owned()),
        ("ALEX_CLIENT_SECRET", secret.to_owned()),
        ("ALEX_SCOPE", "api://sandbox/.default".to_owned()),
        ("ALEX_FACILITY_ID", "F2N060-E".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[tokio::test]
async fn remote_alex_is_checked_with_a_real_token_grant() {
    // One app's sandbox stands in for Medtech; a second app is configured
    // against it exactly as it would be against ALEX UAT.
    let alex = TestApp::start(vec![]).await;

    let good = TestApp::start(remote_alex_vars(&alex, "sandbox-secret")).await;
    let (status, body) = healthz(&good).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["alex"], serde_json::json!({"backend": "alex", "ok": true, "detail": "reachable"}));

    let bad = TestApp::start(remote_alex_vars(&alex, "wrong-secret")).await;
    let (status, body) = healthz(&bad).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["alex"]["ok"], false);
    assert!(!body.to_string().contains("wrong-secret"));
}

#[tokio::test]
async fn unreachable_redis_fails_start_up_with_a_clear_error() {
    let vars =
        vec![("REDIS_URL".into(), "redis://127.0.0.1:1/0".into()), ("ALEX_SANDBOX".into(), "true".into())];
    let err = TestApp::try_start(vars).await.err().expect("start-up must fail");
    assert!(err.contains("session store"), "{err}");
}

#[tokio::test]
async fn liveness_and_readiness_are_separate_and_a_stopping_instance_drains() {
    let app = TestApp::start(vec![]).await;
    let live = app.http.get(app.url("/livez")).send().await.unwrap();
    assert_eq!(live.status().as_u16(), 200);
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    assert!(ready.headers().get("connection").is_none(), "kept alive while serving");
    app.state.begin_shutdown();
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503, "a load balancer stops sending traffic");
    assert_eq!(ready.headers()["connection"], "close", "a draining answer ends its connection");
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "draining");
    let live = app.http.get(app.url("/livez")).send().await.unwrap();
    assert_eq!(live.status().as_u16(), 200, "still alive");
    assert_eq!(live.headers()["connection"], "close", "every answer, not only readiness");
}

#[tokio::test]
async fn a_dead_session_store_makes_it_unready_but_still_live() {
    let (mut redis, url) = common::private_redis().await;
    let vars = common::service_vars_with_redis(&url);
    let app = TestApp::start(vars).await;
    assert_eq!(readyz(&app).await.0, 200);
    redis.kill().unwrap();
    let _ = redis.wait();
    // The probe answers from a check at most a second old.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(readyz(&app).await, (503, json!({"status": "unready"})));
    assert_eq!(app.http.get(app.url("/livez")).send().await.unwrap().status().as_u16(), 200);
}

#[tokio::test]
async fn a_flood_of_public_probes_runs_one_backend_check_a_second_and_tells_nothing() {
    let app = TestApp::start(common::service_vars()).await;
    let started = std::time::Instant::now();
    for chunk in (0..800).collect::<Vec<_>>().chunks(50) {
        let probes = chunk.iter().map(|i| {
            let path = ["/readyz", "/healthz", "/livez"][i % 3];
            app.http.get(app.url(path)).send()
        });
        for res in futures::future::join_all(probes).await {
            let res = res.unwrap();
            assert_eq!(res.status().as_u16(), 200);
            let body: Value = res.json().await.unwrap();
            let keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
            assert_eq!(keys, ["status"], "only a status on the public port: {body}");
        }
    }
    let seconds = started.elapsed().as_secs() + 1;
    let checks = app.state.readiness.checks();
    assert!(checks >= 1 && checks <= seconds, "{checks} backend checks in under {seconds} s");
    // The detail is on the metrics listener, checked fresh.
    let (status, detail) = healthz(&app).await;
    assert_eq!(status, 200);
    assert_eq!(detail["sessionStore"]["backend"], "redis");
    assert_eq!(app.state.readiness.checks(), checks, "the detail does not feed the public cache");
}

#[tokio::test]
async fn the_status_panel_is_only_for_an_instance_with_the_sandbox() {
    let sandbox = common::SandboxServer::start().await;
    let production_like = TestApp::start(sandbox.vars()).await;
    let (status, body) = production_like.post("/api/status", json!({}), &common::Auth::None).await;
    assert_eq!(status, 404, "{body}");
    assert!(!body.to_string().contains("redis") && !body.to_string().contains("memory"), "{body}");
    let embedded = TestApp::start(vec![]).await;
    let (status, body) = embedded.post("/api/status", json!({}), &common::Auth::None).await;
    assert_eq!(status, 200);
    assert_eq!(body["mode"], "embedded");
}
