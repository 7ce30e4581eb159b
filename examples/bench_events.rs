//! Benchmarks of the real-time path, against a running app wired to Redis.
//! `scripts/bench.sh` builds, starts and measures; BENCHMARKS.md has results.
//!
//! - `latency`: BENCH_SESSIONS desktop sessions each hold an SSE stream;
//!   BENCH_SAMPLES uploads are registered round-robin across them, and each
//!   sample is the time from sending the registration to its `image-added`
//!   event arriving on that session's stream.
//! - `streams`: opens BENCH_STREAMS streams (one session each) and reports
//!   the server's resident memory (BENCH_PID) as they grow.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Mutex};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn launch(http: &reqwest::Client, base: &str, i: usize) -> String {
    let url = format!("{base}/medtech-images?patientId=bench{i:08}&facilityId=F2N060-E");
    let res = http.get(url).send().await.expect("launch");
    let cookie = res.headers()["set-cookie"].to_str().expect("cookie");
    cookie.split(';').next().expect("cookie value").to_owned()
}

async fn open_stream(http: &reqwest::Client, base: &str, cookie: &str) -> reqwest::Response {
    let res = http
        .get(format!("{base}/api/medtech/session/events"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("stream");
    assert_eq!(res.status().as_u16(), 200);
    res
}

/// Reads a stream and reports each `image-added` with its arrival time.
async fn watch(mut res: reqwest::Response, tx: mpsc::UnboundedSender<(String, Instant)>) {
    let mut buf = String::new();
    while let Ok(Some(chunk)) = res.chunk().await {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if !block.contains("event: image-added") {
                continue;
            }
            let now = Instant::now();
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) {
                if let Ok(v) = serde_json::from_str::<Value>(data) {
                    if let Some(id) = v["data"]["imageId"].as_str() {
                        let _ = tx.send((id.to_owned(), now));
                    }
                }
            }
        }
    }
}

fn jpeg() -> Vec<u8> {
    let mut out = Vec::new();
    image::RgbImage::from_fn(32, 32, |x, y| image::Rgb([x as u8 * 8, y as u8 * 8, 128]))
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Jpeg)
        .expect("encode");
    out
}

/// Presigns and uploads; returns the image id, ready to register.
async fn upload(http: &reqwest::Client, base: &str, cookie: &str, photo: &[u8]) -> String {
    let ticket: Value = http
        .post(format!("{base}/api/medtech/session/presigned-url"))
        .header("cookie", cookie)
        .json(&json!({"contentType": "image/jpeg", "size": photo.len()}))
        .send()
        .await
        .expect("presign")
        .json()
        .await
        .expect("ticket");
    let put = http.put(ticket["uploadUrl"].as_str().expect("url")).header("content-type", "image/jpeg");
    assert!(put.body(photo.to_vec()).send().await.expect("put").status().is_success());
    ticket["imageId"].as_str().expect("id").to_owned()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

async fn latency(http: reqwest::Client, base: String) {
    let sessions = env_or("BENCH_SESSIONS", 1000);
    let samples = env_or("BENCH_SAMPLES", 1000);
    let concurrency = env_or("BENCH_CONCURRENCY", 4);
    let cookies: Vec<String> =
        stream::iter(0..sessions).map(|i| launch(&http, &base, i)).buffered(64).collect().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let opened = Arc::new(AtomicUsize::new(0));
    stream::iter(cookies.iter())
        .for_each_concurrent(64, |c| {
            let (http, base, tx, opened) = (http.clone(), base.clone(), tx.clone(), opened.clone());
            async move {
                let res = open_stream(&http, &base, c).await;
                opened.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(watch(res, tx));
            }
        })
        .await;
    println!("{} sessions, each holding an open event stream", opened.load(Ordering::Relaxed));

    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let photo = jpeg();
    let collector = tokio::spawn({
        let sent = sent.clone();
        async move {
            let mut out = Vec::with_capacity(samples);
            while out.len() < samples {
                let Ok(Some((id, at))) = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await
                else {
                    break;
                };
                if let Some(t0) = sent.lock().await.remove(&id) {
                    out.push(at.duration_since(t0));
                }
            }
            out
        }
    });
    stream::iter(0..samples)
        .for_each_concurrent(concurrency, |k| {
            let (http, base, sent, photo) = (http.clone(), base.clone(), sent.clone(), photo.clone());
            let cookie = cookies[k % sessions].clone();
            async move {
                let id = upload(&http, &base, &cookie, &photo).await;
                sent.lock().await.insert(id.clone(), Instant::now());
                let res = http
                    .post(format!("{base}/api/medtech/session/images"))
                    .header("cookie", &cookie)
                    .json(&json!({"imageId": id}))
                    .send()
                    .await
                    .expect("register");
                assert!(res.status().is_success());
            }
        })
        .await;
    let mut got = collector.await.expect("collector");
    got.sort();
    assert!(!got.is_empty(), "no events arrived");
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "register → SSE event over {} samples ({} concurrent): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        got.len(),
        concurrency,
        ms(percentile(&got, 0.50)),
        ms(percentile(&got, 0.90)),
        ms(percentile(&got, 0.99)),
        ms(*got.last().expect("samples")),
    );
}

fn rss_mib(pid: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

async fn streams(http: reqwest::Client, base: String) {
    let total = env_or("BENCH_STREAMS", 10_000);
    let pid = std::env::var("BENCH_PID").expect("BENCH_PID: the server's process id");
    println!("server RSS before: {:.1} MiB", rss_mib(&pid));
    let mut held = Vec::with_capacity(total);
    let step = 1000.min(total);
    for start in (0..total).step_by(step) {
        let batch: Vec<reqwest::Response> = stream::iter(start..(start + step).min(total))
            .map(|i| {
                let (http, base) = (http.clone(), base.clone());
                async move {
                    let cookie = launch(&http, &base, 1_000_000 + i).await;
                    open_stream(&http, &base, &cookie).await
                }
            })
            .buffer_unordered(100)
            .collect()
            .await;
        held.extend(batch);
        tokio::time::sleep(Duration::from_millis(300)).await;
        println!("{:>6} open streams: server RSS {:.1} MiB", held.len(), rss_mib(&pid));
    }
    let t0 = Instant::now();
    let health = http.get(format!("{base}/healthz")).send().await.expect("healthz");
    println!("with {} streams open, /healthz answered {} in {:?}", held.len(), health.status(), t0.elapsed());
}

#[tokio::main]
async fn main() {
    let base = std::env::var("BENCH_BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:3950".into());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    match std::env::args().nth(1).as_deref() {
        Some("latency") => latency(http, base).await,
        Some("streams") => streams(http, base).await,
        _ => eprintln!("usage: bench_events latency|streams"),
    }
}
