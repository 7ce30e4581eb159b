//! Redis restarting under a running instance (issue 33): the first request
//! afterwards must not fail because the old connection was dead.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::common::{Auth, TestApp};

/// A Redis with an append-only file, so what it held survives a restart.
fn start_redis(port: u16, dir: &std::path::Path) -> Child {
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
        .args(["--appendonly", "yes", "--appendfsync", "always"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (installed by scripts/test.sh)")
}

async fn wait_for(url: &str) {
    for _ in 0..100 {
        let client = redis::Client::open(url).unwrap();
        if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
            if redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("redis at {url} did not come up");
}

#[tokio::test]
async fn the_first_requests_after_a_redis_restart_succeed() {
    let dir = std::env::temp_dir().join(crate::common::unique("redis-restart"));
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("redis://127.0.0.1:{port}/0");
    let mut redis = start_redis(port, &dir);
    wait_for(&url).await;
    let app =
        TestApp::start(vec![("REDIS_URL".into(), url.clone()), ("ALEX_SANDBOX".into(), "true".into())]).await;
    let desktop = Auth::Cookie(app.launch("14e52e16edb7a435bfa05e307afd008b").await);
    assert_eq!(app.get("/api/medtech/session/images", &desktop).await.0, 200);

    // Redis goes away and comes back while the instance is idle.
    redis.kill().unwrap();
    redis.wait().unwrap();
    let mut redis = start_redis(port, &dir);
    wait_for(&url).await;

    // The first request finds the old connection dead; it is answered
    // anyway, on a new one. So is the next, and a write.
    assert_eq!(app.get("/api/medtech/session/images", &desktop).await.0, 200, "the first request");
    assert_eq!(app.get("/api/medtech/session/images", &desktop).await.0, 200);
    let ticket = json!({"contentType": "image/jpeg", "size": 1000});
    assert_eq!(app.post("/api/medtech/session/presigned-url", ticket, &desktop).await.0, 200);
    let _ = redis.kill();
    let _ = redis.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
