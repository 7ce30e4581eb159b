//! Time limits through the whole app (`server::http::limits`): a request
//! held by a stalled store is cut and answered like any outage, a commit
//! that outlasts the deadline still files everything, and a body that stops
//! arriving is refused instead of holding its connection.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{self, Auth, SandboxServer, TestApp};

const PATIENT: &str = "14e52e16edb7a435bfa05e307afd008b";

/// A TCP gate in front of Redis that the test can stall: stalled, it holds
/// every byte in both directions without closing anything, as a hung
/// network or a wedged server looks to the app.
async fn stalling_gate(target: String) -> (String, tokio::sync::watch::Sender<bool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stalled_tx, stalled_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else { continue };
            let (ri, wi) = inbound.into_split();
            let (ro, wo) = outbound.into_split();
            tokio::spawn(pipe(ri, wo, stalled_rx.clone()));
            tokio::spawn(pipe(ro, wi, stalled_rx.clone()));
        }
    });
    (addr, stalled_tx)
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut stalled: tokio::sync::watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stalled.wait_for(|s| !s).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

async fn timed_out_count(app: &TestApp) -> u64 {
    let text = reqwest::get(format!("{}/metrics", app.metrics_listener().await))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("http_requests_timed_out_total "))
        .map_or(0, |v| v.trim().parse::<f64>().unwrap() as u64)
}

#[tokio::test]
async fn a_request_held_by_a_stalled_store_is_cut_and_answered_as_an_outage() {
    let redis = common::redis_url();
    let target = redis.trim_start_matches("redis://").split('/').next().unwrap().to_owned();
    let (gate, stalled) = stalling_gate(target).await;
    let app = TestApp::start(vec![
        ("REDIS_URL".into(), format!("redis://{gate}/0")),
        ("ALEX_SANDBOX".into(), "true".into()),
        ("ALEX_TIMEOUT_SECS".into(), "1".into()),
        ("REQUEST_TIMEOUT_SECS".into(), "1".into()),
    ])
    .await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    assert_eq!(app.get("/api/medtech/session/images", &desktop).await.0, 200);
    let before = timed_out_count(&app).await;

    stalled.send_replace(true);
    let res = desktop.apply(app.http.get(app.url("/api/medtech/session/images"))).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 503);
    assert!(res.headers().contains_key("retry-after"), "the client is told when to retry");
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.json::<serde_json::Value>().await.unwrap(), json!({"kind": "unavailable"}));
    // Cut by the deadline, not by the store's own (longer) response timeout.
    assert_eq!(timed_out_count(&app).await, before + 1);

    stalled.send_replace(false);
    assert_eq!(app.get("/api/medtech/session/images", &desktop).await.0, 200, "the stall over, it answers");
}

#[tokio::test]
async fn a_commit_that_outlasts_the_deadline_still_files_every_photo() {
    let sandbox = SandboxServer::start().await;
    let mut vars = sandbox.vars();
    vars.extend([("ALEX_TIMEOUT_SECS".into(), "1".into()), ("REQUEST_TIMEOUT_SECS".into(), "1".into())]);
    let app = TestApp::start(vars).await;
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(app.add_photo(&desktop, 64).await);
    }
    // Each photo's calls to ALEX take most of a second: the commit as a
    // whole takes longer than any other request may.
    sandbox.fault(json!({"count": 6, "delayMs": 600, "path": "/Media"})).await;
    let report = app.commit(&desktop, None).await;
    assert_eq!(common::statuses(&report), ["committed"; 3], "{report}");
    for id in &ids {
        assert_eq!(sandbox.filed(id).await.len(), 1, "filed exactly once");
    }
}

/// Sends a request head and the first bytes of its body, then stalls; the
/// head of the server's answer.
async fn stall_after(addr: &str, head: String) -> String {
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(30), conn.read(&mut answer))
        .await
        .expect("the server answers a stalled body rather than wait for it")
        .unwrap();
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_refused_and_its_connection_freed() {
    let app = TestApp::start(vec![("REQUEST_BODY_TIMEOUT_SECS".into(), "1".into())]).await;
    let addr = app.url("").trim_start_matches("http://").to_owned();

    // An API call.
    let answer = stall_after(
        &addr,
        format!(
            "POST /api/medtech/session/images/metadata HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"imageId\":"
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""kind":"badRequest""#), "{answer}");

    // A photo's upload to local disk: exempt from the request deadline, but
    // not from a stall.
    let desktop = Auth::Cookie(app.launch(PATIENT).await);
    let request = json!({"contentType": "image/jpeg", "size": 5000});
    let (status, ticket) = app.post("/api/medtech/session/presigned-url", request, &desktop).await;
    assert_eq!(status, 200, "{ticket}");
    let url = reqwest::Url::parse(ticket["uploadUrl"].as_str().unwrap()).unwrap();
    let target = format!("{}?{}", url.path(), url.query().unwrap_or(""));
    let answer = stall_after(
        &addr,
        format!(
            "PUT {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: image/jpeg\r\nContent-Length: 5000\r\n\r\nxx"
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}
