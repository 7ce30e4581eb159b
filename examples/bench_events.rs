//! Benchmarks of the real-time path, against a running app wired to Redis.
//! `scripts/bench.sh` builds, starts and measures; BENCHMARKS.md has results.
//!
//! - `latency`: BENCH_SESSIONS desktop sessions each hold an SSE stream;
//!   BENCH_SAMPLES uploads are registered round-robin across them, and each
//!   sample is the time from sending the registration to its `image-added`
//!   event arriving on that session's stream.
//! - `streams`: opens BENCH_STREAMS streams (one session each) and reports
//!   the servers' resident memory (BENCH_PIDS, comma-separated) as they grow;
//!   BENCH_HOLD_SECS keeps them open afterwards (the cluster soak opens more
//!   from a second process meanwhile).
//! - `commit`: one session registers BENCH_PHOTOS photos of about 1 MB and
//!   commits them; reports the commit's time and the servers' peak RSS growth
//!   during it (BENCH_RUNS runs).
//!
//! Where: BENCH_BASE_URL, or for a cluster BENCH_STREAM_URLS and
//! BENCH_REGISTER_URLS (comma-separated; session k streams on the k-th of the
//! first and registers on the k-th of the second, round robin, so a list
//! rotated by one puts the two on different instances). With
//! BENCH_SANDBOX_URL set, sessions are opened as Evolution opens them (a
//! signed launch context from that ALEX sandbox) instead of by the
//! development launch. BENCH_INSECURE_TLS accepts the cluster's self-signed
//! certificate; BENCH_LOCAL_ADDR picks the client's source address (one
//! address has about 28,000 ports towards one proxy port).

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

fn urls(name: &str) -> Option<Vec<String>> {
    let list = std::env::var(name).ok()?;
    Some(
        list.split(',')
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty())
            .collect(),
    )
}

/// Where session `k` streams and registers.
#[derive(Clone)]
struct Target {
    stream: Vec<String>,
    register: Vec<String>,
    sandbox: Option<String>,
}

impl Target {
    fn from_env() -> Target {
        let base = std::env::var("BENCH_BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:3950".into());
        Target {
            stream: urls("BENCH_STREAM_URLS").unwrap_or_else(|| vec![base.clone()]),
            register: urls("BENCH_REGISTER_URLS").unwrap_or_else(|| vec![base]),
            sandbox: std::env::var("BENCH_SANDBOX_URL").ok(),
        }
    }

    fn stream_at(&self, k: usize) -> &str {
        &self.stream[k % self.stream.len()]
    }

    fn register_at(&self, k: usize) -> &str {
        &self.register[k % self.register.len()]
    }
}

/// Opens desktop session `i` on `base`: Evolution's signed launch when the
/// target has a sandbox, else the development launch.
async fn launch(http: &reqwest::Client, target: &Target, base: &str, i: usize) -> String {
    let url = match &target.sandbox {
        Some(sandbox) => {
            // The sandbox's sample patient: every launch is a session of its own.
            let body = json!({"patientId": "14e52e16edb7a435bfa05e307afd008b", "facilityId": "F2N060-E"});
            let ctx: Value = http
                .post(format!("{sandbox}/launch-context"))
                .json(&body)
                .send()
                .await
                .expect("launch context")
                .json()
                .await
                .expect("launch context json");
            let (c, s) =
                (ctx["context"].as_str().expect("context"), ctx["signature"].as_str().expect("signature"));
            format!("{base}/medtech-images/launch?context={c}&signature={s}")
        }
        None => format!("{base}/medtech-images?patientId=bench{i:08}&facilityId=F2N060-E"),
    };
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

/// A photo-sized JPEG of about 1 MB: noise over a gradient, quality 95, so
/// it compresses like a real photo rather than a flat test card.
fn photo_jpeg(seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state & 0x1f) as u8
    };
    let img = image::RgbImage::from_fn(1280, 960, |x, y| {
        image::Rgb([(x / 6) as u8 ^ noise(), (y / 5) as u8 ^ noise(), ((x + y) / 10) as u8 ^ noise()])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95).encode_image(&img).expect("encode");
    out
}

/// Presigns and uploads (with the ticket's signed headers, as a phone
/// does); returns the image id, ready to register.
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
    let mut put = http.put(ticket["uploadUrl"].as_str().expect("url")).header("content-type", "image/jpeg");
    for pair in ticket["headers"].as_array().into_iter().flatten() {
        let (k, v) = (pair[0].as_str().unwrap_or_default(), pair[1].as_str().unwrap_or_default());
        if !["content-length", "host", "content-type"].iter().any(|h| k.eq_ignore_ascii_case(h)) {
            put = put.header(k, v);
        }
    }
    let status = put.body(photo.to_vec()).send().await.expect("put").status();
    assert!(status.is_success(), "PUT {status}");
    ticket["imageId"].as_str().expect("id").to_owned()
}

async fn register(http: &reqwest::Client, base: &str, cookie: &str, id: &str) {
    let res = http
        .post(format!("{base}/api/medtech/session/images"))
        .header("cookie", cookie)
        .json(&json!({"imageId": id}))
        .send()
        .await
        .expect("register");
    assert!(res.status().is_success(), "register {}", res.status());
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

async fn latency(http: reqwest::Client, target: Target) {
    let sessions = env_or("BENCH_SESSIONS", 1000);
    let samples = env_or("BENCH_SAMPLES", 1000);
    let concurrency = env_or("BENCH_CONCURRENCY", 4);
    let cookies: Vec<String> = stream::iter(0..sessions)
        .map(|k| {
            let (http, target) = (&http, &target);
            async move { launch(http, target, target.register_at(k), k).await }
        })
        .buffered(64)
        .collect()
        .await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let opened = Arc::new(AtomicUsize::new(0));
    stream::iter(cookies.iter().enumerate())
        .for_each_concurrent(64, |(k, c)| {
            let (http, base, tx, opened) =
                (http.clone(), target.stream_at(k).to_owned(), tx.clone(), opened.clone());
            async move {
                let res = open_stream(&http, &base, c).await;
                opened.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(watch(res, tx));
            }
        })
        .await;
    println!(
        "{} sessions, each holding an open event stream (streams on {:?}, registrations on {:?})",
        opened.load(Ordering::Relaxed),
        target.stream,
        target.register
    );

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
    let answered: Arc<Mutex<Vec<Duration>>> = Arc::default();
    stream::iter(0..samples)
        .for_each_concurrent(concurrency, |n| {
            let (http, sent, photo, answered) = (http.clone(), sent.clone(), photo.clone(), answered.clone());
            let k = n % sessions;
            let (cookie, base) = (cookies[k].clone(), target.register_at(k).to_owned());
            async move {
                let id = upload(&http, &base, &cookie, &photo).await;
                let t0 = Instant::now();
                sent.lock().await.insert(id.clone(), t0);
                register(&http, &base, &cookie, &id).await;
                answered.lock().await.push(t0.elapsed());
            }
        })
        .await;
    let mut got = collector.await.expect("collector");
    got.sort();
    let mut answered = std::mem::take(&mut *answered.lock().await);
    answered.sort();
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
    println!(
        "register answered (its own response, for comparison): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms",
        ms(percentile(&answered, 0.50)),
        ms(percentile(&answered, 0.90)),
        ms(percentile(&answered, 0.99)),
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

/// BENCH_PIDS (or BENCH_PID): the server processes whose memory is read.
fn pids() -> Vec<String> {
    let list =
        std::env::var("BENCH_PIDS").or_else(|_| std::env::var("BENCH_PID")).expect("BENCH_PIDS: server pids");
    list.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect()
}

fn rss_line(pids: &[String]) -> String {
    pids.iter().map(|p| format!("{:.1}", rss_mib(p))).collect::<Vec<_>>().join(" / ")
}

async fn streams(http: reqwest::Client, target: Target) {
    let total = env_or("BENCH_STREAMS", 10_000);
    let offset = env_or("BENCH_LAUNCH_OFFSET", 1_000_000);
    let pids = pids();
    println!("server RSS before: {} MiB", rss_line(&pids));
    let mut held = Vec::with_capacity(total);
    let step = 1000.min(total);
    for start in (0..total).step_by(step) {
        let batch: Vec<reqwest::Response> = stream::iter(start..(start + step).min(total))
            .map(|k| {
                let (http, target) = (http.clone(), target.clone());
                async move {
                    let base = target.stream_at(k);
                    let cookie = launch(&http, &target, base, offset + k).await;
                    open_stream(&http, base, &cookie).await
                }
            })
            .buffer_unordered(100)
            .collect()
            .await;
        held.extend(batch);
        tokio::time::sleep(Duration::from_millis(300)).await;
        println!("{:>6} open streams: server RSS {} MiB", held.len(), rss_line(&pids));
    }
    let base = target.stream_at(0);
    let t0 = Instant::now();
    let health = http.get(format!("{base}/healthz")).send().await.expect("healthz");
    println!("with {} streams open, /healthz answered {} in {:?}", held.len(), health.status(), t0.elapsed());
    let hold = env_or("BENCH_HOLD_SECS", 0);
    if hold > 0 {
        println!("holding {} streams for {hold} s", held.len());
        tokio::time::sleep(Duration::from_secs(hold as u64)).await;
        let alive = held.len();
        println!("held {alive} streams");
    }
}

/// P6: BENCH_PHOTOS photos of about 1 MB, registered on one session, then
/// committed in one call; the time of that call and the servers' peak RSS
/// growth while it runs (sampled every 2 ms).
async fn commit(http: reqwest::Client, target: Target) {
    let photos = env_or("BENCH_PHOTOS", 10);
    let runs = env_or("BENCH_RUNS", 3);
    let pids = pids();
    let base = target.register_at(0).to_owned();
    let mut times = Vec::new();
    for run in 0..runs {
        let cookie = launch(&http, &target, &base, run).await;
        let mut bytes = 0;
        for n in 0..photos {
            let photo = photo_jpeg((run * photos + n + 1) as u32);
            bytes += photo.len();
            let id = upload(&http, &base, &cookie, &photo).await;
            register(&http, &base, &cookie, &id).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before: Vec<f64> = pids.iter().map(|p| rss_mib(p)).collect();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = tokio::spawn({
            let (pids, done) = (pids.clone(), done.clone());
            async move {
                let mut peak: Vec<f64> = pids.iter().map(|p| rss_mib(p)).collect();
                while !done.load(Ordering::Relaxed) {
                    for (p, pid) in peak.iter_mut().zip(&pids) {
                        *p = p.max(rss_mib(pid));
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                peak
            }
        });
        let t0 = Instant::now();
        let res = http
            .post(format!("{base}/api/medtech/attachments/commit"))
            .header("cookie", &cookie)
            .json(&json!({}))
            .send()
            .await
            .expect("commit");
        let status = res.status();
        let report: Value = res.json().await.expect("commit report");
        let took = t0.elapsed();
        done.store(true, Ordering::Relaxed);
        let peak = sampler.await.expect("sampler");
        let committed = report["results"]
            .as_array()
            .map_or(0, |r| r.iter().filter(|r| r["status"] == "committed").count());
        assert!(status.is_success() && committed == photos, "commit: {status} {report}");
        let growth: Vec<String> = peak.iter().zip(&before).map(|(p, b)| format!("{:.1}", p - b)).collect();
        println!(
            "run {}: {photos} photos, {:.1} MB in all: commit {:.0} ms; server RSS {} MiB before, peak growth {} MiB",
            run + 1,
            bytes as f64 / 1e6,
            took.as_secs_f64() * 1000.0,
            before.iter().map(|b| format!("{b:.1}")).collect::<Vec<_>>().join(" / "),
            growth.join(" / ")
        );
        times.push(took);
    }
    times.sort();
    println!(
        "commit of {photos} photos: median {:.0} ms over {runs} runs",
        percentile(&times, 0.5).as_secs_f64() * 1000.0
    );
}

#[tokio::main]
async fn main() {
    let target = Target::from_env();
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256)
        .danger_accept_invalid_certs(std::env::var("BENCH_INSECURE_TLS").is_ok_and(|v| v == "true"));
    if let Ok(addr) = std::env::var("BENCH_LOCAL_ADDR") {
        builder = builder.local_address(addr.parse::<std::net::IpAddr>().expect("BENCH_LOCAL_ADDR"));
    }
    let http = builder.build().expect("client");
    match std::env::args().nth(1).as_deref() {
        Some("latency") => latency(http, target).await,
        Some("streams") => streams(http, target).await,
        Some("commit") => commit(http, target).await,
        _ => eprintln!("usage: bench_events latency|streams|commit"),
    }
}
