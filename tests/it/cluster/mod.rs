//! The service shape, for real: Debian's nginx (TLS, the config in
//! `deploy/nginx/`) in front of three app instances (the real binary), one
//! Redis (`deploy/redis/`, AOF), ministack S3 and a standalone ALEX sandbox.
//! Every request goes through nginx. Scenarios, seconds each:
//! - an instance killed mid-stream: the desktop reconnects through nginx to
//!   another instance and, by `Last-Event-ID`, gets exactly what it missed;
//! - a rolling restart (SIGTERM, start, readiness) under uploads and commits
//!   from several sessions: no request fails beyond the client's own retries,
//!   and every photo is filed exactly once;
//! - ALEX down mid-commit: "retry later" for what it could not file, and the
//!   retry files each photo exactly once;
//! - S3 unreachable during uploads (a gate in front of it cuts every
//!   connection): registering answers 503 at once, and the same upload,
//!   retried once S3 is back, finishes and reaches the desktop's stream.
//!
//!
//! Redis restarting and failing over under the same cluster: `failover.rs`.
//!
//! `scripts/cluster.sh` runs these alone; the test command runs them with
//! the rest.

use crate::common;

mod chaos;
mod failover;

/// One cluster at a time in this process: each runs nine processes, and
/// the request counters below are shared.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const PATIENT: &str = "14e52e16edb7a435bfa05e307afd008b";

/// A TCP gate in front of S3 that the test can shut: shut, it closes every
/// open connection and each new one at once, as an unreachable S3 looks to
/// the app (pooled connections included) and to the phone's PUT.
async fn s3_gate(target: &str) -> (String, tokio::sync::watch::Sender<bool>) {
    let target = target.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let (open_tx, open_rx) = tokio::sync::watch::channel(true);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if !*open_rx.borrow() {
                continue; // dropped: closed at once
            }
            let (target, mut open) = (target.clone(), open_rx.clone());
            tokio::spawn(async move {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else { return };
                // As the app's own S3 client does: without it, Nagle holds a
                // response's last small segment for the peer's delayed ACK.
                let _ = (inbound.set_nodelay(true), outbound.set_nodelay(true));
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = open.wait_for(|open| !open) => {}
                }
            });
        }
    });
    (addr, open_tx)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

async fn wait_until(what: &str, mut ok: impl AsyncFnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        if ok().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not become ready");
}

/// What a client sees: nginx's address, and the sandbox (for launches and
/// the inbox). Cheap to clone into load tasks.
#[derive(Clone)]
struct Front {
    http: reqwest::Client,
    /// `https://127.0.0.1:PORT`, nginx.
    base: String,
    sandbox: String,
}

struct Cluster {
    dir: PathBuf,
    front: Front,
    redis_port: u16,
    redis: Child,
    app_ports: Vec<u16>,
    /// Each instance's `METRICS_ADDR` port.
    metrics_ports: Vec<u16>,
    apps: Vec<Option<Child>>,
    app_env: Vec<(String, String)>,
    others: Vec<Child>,
    /// `send(false)` makes S3 unreachable for every instance and client.
    s3_open: tokio::sync::watch::Sender<bool>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: nginx's master then stops its workers too.
        for child in self.apps.iter_mut().flatten().chain(self.others.iter_mut()).chain([&mut self.redis]) {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spawn_redis(dir: &Path, port: u16) -> Child {
    Command::new("redis-server")
        .arg(repo("deploy/redis/clinical-images.conf"))
        .args(["--port", &port.to_string(), "--dir", &dir.display().to_string(), "--bind", "127.0.0.1"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server")
}

/// nginx's size: the test's is small; the soak holds 30,000 streams, each
/// two descriptors in nginx, under a 20,000-descriptor limit per process.
struct Shape {
    nginx_workers: usize,
    worker_connections: usize,
}

/// nginx's `fail_timeout`: how long a server it could not reach is left out.
/// A rolling restart waits this long after an instance is ready again
/// before stopping the next (DEPLOY.md), or nginx may count two out at once.
const FAIL_TIMEOUT_SECS: u64 = 2;

const TEST_SHAPE: Shape = Shape { nginx_workers: 1, worker_connections: 1024 };
const SOAK_SHAPE: Shape = Shape { nginx_workers: 4, worker_connections: 18_000 };

impl Cluster {
    async fn start() -> Cluster {
        Cluster::start_shaped(TEST_SHAPE).await
    }

    async fn start_shaped(shape: Shape) -> Cluster {
        Cluster::start_with(shape, None).await
    }

    /// With `redis`, the instances find Redis by these variables (a
    /// Sentinel set, or a gate) instead of the cluster's own Redis.
    async fn start_with(shape: Shape, redis_vars: Option<Vec<(String, String)>>) -> Cluster {
        let dir = std::env::temp_dir().join(common::unique("cluster"));
        std::fs::create_dir_all(&dir).unwrap();
        let (nginx_port, redis_port, sandbox_port) = (free_port(), free_port(), free_port());
        let app_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let redis = spawn_redis(&dir, redis_port);
        let sandbox = Command::new(env!("CARGO_BIN_EXE_clinical-images"))
            .arg("alex-sandbox")
            .env_clear()
            .env("ALEX_SANDBOX_ADDR", format!("127.0.0.1:{sandbox_port}"))
            .env("RUST_LOG", "warn")
            .spawn()
            .unwrap();
        let sandbox_base = format!("http://127.0.0.1:{sandbox_port}/sandbox/alex");

        // TLS: a certificate made now, for 127.0.0.1.
        let status = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(dir.join("cert.pem"))
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "openssl");
        let upstreams: String = app_ports
            .iter()
            .map(|p| format!("server 127.0.0.1:{p} max_fails=1 fail_timeout={FAIL_TIMEOUT_SECS}s; "))
            .collect();
        let site = std::fs::read_to_string(repo("deploy/nginx/clinical-images.conf"))
            .unwrap()
            .replace("@UPSTREAM_SERVERS@", &upstreams)
            // reuseport: the kernel spreads connections over the workers.
            .replace("@LISTEN@", &format!("127.0.0.1:{nginx_port} reuseport"))
            .replace("@SERVER_NAME@", "127.0.0.1")
            .replace("@CERT@", &dir.join("cert.pem").display().to_string())
            .replace("@CERT_KEY@", &dir.join("key.pem").display().to_string())
            .replace("@ACCESS_LOG@", &dir.join("access.log").display().to_string());
        std::fs::write(dir.join("site.conf"), site).unwrap();
        for temp in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            std::fs::create_dir_all(dir.join(temp)).unwrap();
        }
        let d = dir.display();
        let Shape { nginx_workers, worker_connections } = shape;
        let main = format!(
            "worker_processes {nginx_workers};\nworker_rlimit_nofile 19000;\npid {d}/nginx.pid;\n\
             error_log {d}/nginx-error.log warn;\n\
             events {{ worker_connections {worker_connections}; }}\n\
             http {{\n access_log off;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n\
             include {d}/site.conf;\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), main).unwrap();
        // As root, nginx's workers run as nobody: let them use the temp dirs.
        let _ = Command::new("chmod").args(["-R", "a+rwx"]).arg(&dir).status();
        let nginx = Command::new("nginx")
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-p")
            .arg(&dir)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx (installed by scripts/test.sh)");

        let base = format!("https://127.0.0.1:{nginx_port}");
        let (s3_addr, s3_open) = s3_gate(&common::required_env("TEST_S3_ENDPOINT")).await;
        let mut app_env: Vec<(String, String)> = common::s3_vars();
        for (k, v) in &mut app_env {
            if k == "S3_ENDPOINT" {
                v.clone_from(&s3_addr);
            }
        }
        app_env.extend([
            ("REDIS_URL".into(), format!("redis://127.0.0.1:{redis_port}/0")),
            ("REDIS_KEY_PREFIX".into(), "cluster:".into()),
            ("PUBLIC_BASE_URL".into(), base.clone()),
            ("TRUST_FORWARDED_FOR".into(), "true".into()),
            ("RATE_LIMIT_ADDRESS_BURST".into(), "100000".into()),
            ("RATE_LIMIT_ADDRESS_PER_SECOND".into(), "100000".into()),
            ("RATE_LIMIT_BURST".into(), "100000".into()),
            ("RATE_LIMIT_PER_SECOND".into(), "100000".into()),
            ("SHUTDOWN_GRACE_SECS".into(), "5".into()),
            ("SHUTDOWN_DRAIN_SECS".into(), "1".into()),
            ("COMMIT_RULE".into(), "nothing".into()),
            ("CONSENT_RULE".into(), "optional".into()),
            ("LEPTOS_OUTPUT_NAME".into(), "clinical-images".into()),
            ("RUST_LOG".into(), "warn".into()),
            ("ALEX_BASE_URL".into(), format!("{sandbox_base}/FHIR")),
            ("ALEX_TOKEN_URL".into(), format!("{sandbox_base}/oauth2/v2.0/token")),
            ("ALEX_CLIENT_ID".into(), "sandbox-client".into()),
            ("ALEX_CLIENT_SECRET".into(), "sandbox-secret".into()),
            ("ALEX_SCOPE".into(), "api://sandbox/.default".into()),
            ("ALEX_FACILITY_ID".into(), "F2N060-E".into()),
        ]);
        if let Some(vars) = redis_vars {
            app_env.retain(|(k, _)| k != "REDIS_URL");
            app_env.extend(vars);
        }
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut cluster = Cluster {
            dir,
            front: Front { http, base, sandbox: sandbox_base },
            redis_port,
            redis,
            app_ports: app_ports.clone(),
            metrics_ports: (0..3).map(|_| free_port()).collect(),
            apps: vec![None, None, None],
            app_env,
            others: vec![sandbox, nginx],
            s3_open,
        };
        let redis_url = format!("redis://127.0.0.1:{redis_port}/0");
        wait_until("redis", async || {
            redis::Client::open(redis_url.as_str()).unwrap().get_multiplexed_async_connection().await.is_ok()
        })
        .await;
        let stats = format!("{}/stats", cluster.front.sandbox);
        let probe = cluster.front.http.clone();
        wait_until("sandbox", async || probe.get(&stats).send().await.is_ok()).await;
        for i in 0..3 {
            cluster.start_app(i).await;
        }
        let ready = format!("{}/readyz", cluster.front.base);
        let probe = cluster.front.http.clone();
        wait_until("nginx", async || probe.get(&ready).send().await.is_ok_and(|r| r.status() == 200)).await;
        cluster
    }

    async fn start_app(&mut self, i: usize) {
        let port = self.app_ports[i];
        let child = Command::new(env!("CARGO_BIN_EXE_clinical-images"))
            .env_clear()
            .envs(self.app_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("METRICS_ADDR", format!("127.0.0.1:{}", self.metrics_ports[i]))
            .env("S3_CREATE_BUCKET", if i == 0 { "true" } else { "false" })
            .spawn()
            .unwrap();
        self.apps[i] = Some(child);
        let url = format!("http://127.0.0.1:{port}/readyz");
        let probe = self.front.http.clone();
        wait_until("app instance", async || probe.get(&url).send().await.is_ok_and(|r| r.status() == 200))
            .await;
    }

    fn signal_app(&mut self, i: usize, signal: &str) {
        if let Some(mut child) = self.apps[i].take() {
            let _ = Command::new("kill").args([signal, &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }
}

impl Front {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A desktop session opened as Evolution opens it, through nginx.
    async fn launch(&self) -> String {
        let body = json!({"patientId": PATIENT, "facilityId": "F2N060-E"});
        let (c, s) = common::sandbox_launch_context(&self.http, &self.sandbox, body).await;
        let res = retrying(|| {
            self.http.get(self.url(&format!("/medtech-images/launch?context={c}&signature={s}")))
        })
        .await;
        assert_eq!(res.status().as_u16(), 303);
        let set = res.headers()["set-cookie"].to_str().unwrap();
        assert!(set.starts_with("__Host-ci_session_") && set.contains("Secure"), "{set}");
        set.split(';').next().unwrap().to_owned()
    }

    async fn post(&self, path: &str, body: Value, auth: &Credential) -> reqwest::Response {
        retrying(|| auth.apply(self.http.post(self.url(path)).json(&body))).await
    }

    /// Presign through nginx, PUT to S3, register through nginx.
    async fn upload(&self, auth: &Credential) -> String {
        let photo = common::jpeg(32, 24);
        let res = self
            .post(
                "/api/medtech/session/presigned-url",
                json!({"contentType": "image/jpeg", "size": photo.len()}),
                auth,
            )
            .await;
        assert_eq!(res.status().as_u16(), 200, "presign");
        let ticket: Value = res.json().await.unwrap();
        common::signed_put(&self.http, &ticket, photo).await;
        let id = ticket["imageId"].as_str().unwrap().to_owned();
        let res = self.post("/api/medtech/session/images", json!({"imageId": id}), auth).await;
        assert_eq!(res.status().as_u16(), 200);
        id
    }

    async fn inbox(&self) -> Vec<Value> {
        self.http.get(format!("{}/inbox.json", self.sandbox)).send().await.unwrap().json().await.unwrap()
    }
}

/// Requests a client would retry on its own: the proxy had no instance for
/// it (502/503/504) or the connection dropped. Counted, so a test can say
/// none failed beyond them.
static RETRIES: AtomicUsize = AtomicUsize::new(0);
/// Why requests were retried: a status, "connect" or "dropped".
static RETRY_REASONS: Mutex<std::collections::BTreeMap<String, usize>> =
    Mutex::new(std::collections::BTreeMap::new());
/// Answers with a status of 400 or more that were not retried.
static ERRORS: AtomicUsize = AtomicUsize::new(0);
/// How long each answered request took through nginx, retries apart.
static LATENCIES: Mutex<Vec<Duration>> = Mutex::new(Vec::new());

async fn retrying(make: impl Fn() -> reqwest::RequestBuilder) -> reqwest::Response {
    for _ in 0..40 {
        let sent = Instant::now();
        match make().send().await {
            Ok(res) if !matches!(res.status().as_u16(), 502..=504) => {
                LATENCIES.lock().unwrap().push(sent.elapsed());
                if res.status().as_u16() >= 400 {
                    ERRORS.fetch_add(1, Ordering::Relaxed);
                }
                return res;
            }
            other => {
                let why = match &other {
                    Ok(res) => res.status().as_u16().to_string(),
                    Err(e) if e.is_connect() => "connect".to_owned(),
                    Err(_) => "dropped".to_owned(),
                };
                *RETRY_REASONS.lock().unwrap().entry(why).or_default() += 1;
                RETRIES.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
    panic!("a request kept failing past the client's retries");
}

enum Credential {
    Cookie(String),
    Bearer(String),
}

impl Credential {
    fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Credential::Cookie(c) => common::as_desktop(req, c),
            Credential::Bearer(t) => req.header("authorization", format!("Bearer {t}")),
        }
    }
}

/// One server-sent event.
struct SseEvent {
    id: String,
    name: String,
    data: String,
}

/// Server-sent events from a response's chunks, as they complete.
#[derive(Default)]
struct SseReader {
    buffer: String,
    id: String,
    name: String,
    data: String,
}

impl SseReader {
    /// The events `chunk` completes (comments and heartbeats are none).
    fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.buffer.push_str(&String::from_utf8_lossy(chunk));
        let mut complete = Vec::new();
        while let Some(at) = self.buffer.find('\n') {
            let line = self.buffer[..at].trim_end_matches('\r').to_owned();
            self.buffer.drain(..=at);
            if let Some(v) = line.strip_prefix("id:") {
                self.id = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("event:") {
                self.name = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                self.data.push_str(v.trim());
            } else if line.is_empty() && !self.name.is_empty() {
                let (id, name, data) = (
                    std::mem::take(&mut self.id),
                    std::mem::take(&mut self.name),
                    std::mem::take(&mut self.data),
                );
                complete.push(SseEvent { id, name, data });
            }
        }
        complete
    }
}

/// A desktop's event stream through nginx: `(id, event)` pairs as they come.
struct Stream {
    events: Arc<Mutex<Vec<(String, String)>>>,
    ended: Arc<AtomicBool>,
}

impl Stream {
    async fn open(cluster: &Front, cookie: &str, last_event_id: Option<&str>) -> Stream {
        Stream::open_at(&cluster.http, &cluster.base, cookie, last_event_id).await
    }

    /// A stream from `base`: nginx, or one instance directly.
    async fn open_at(
        http: &reqwest::Client,
        base: &str,
        cookie: &str,
        last_event_id: Option<&str>,
    ) -> Stream {
        let mut req = http.get(format!("{base}{}", common::events_path(cookie))).header("cookie", cookie);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let events = Arc::new(Mutex::new(Vec::new()));
        let ended = Arc::new(AtomicBool::new(false));
        let (e, done) = (events.clone(), ended.clone());
        tokio::spawn(async move {
            let (mut res, mut reader) = (res, SseReader::default());
            while let Ok(Some(chunk)) = res.chunk().await {
                e.lock().unwrap().extend(reader.push(&chunk).into_iter().map(|ev| (ev.id, ev.name)));
            }
            done.store(true, Ordering::SeqCst);
        });
        Stream { events, ended }
    }

    fn added(&self) -> Vec<(String, String)> {
        self.events.lock().unwrap().iter().filter(|(_, n)| n == "image-added").cloned().collect()
    }

    async fn wait_added(&self, n: usize) {
        let until = Instant::now() + Duration::from_secs(15);
        while self.added().len() < n && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(self.added().len(), n, "image-added events");
    }
}

async fn phone(cluster: &Front, desktop: &Credential) -> Credential {
    let grant: Value =
        cluster.post("/api/medtech/session/mobile-token", json!({}), desktop).await.json().await.unwrap();
    Credential::Bearer(grant["mobileUrl"].as_str().unwrap().split("t=").nth(1).unwrap().to_owned())
}

/// What a rolling restart under load came to.
struct Load {
    sessions: usize,
    restarts: usize,
    took: Duration,
    images: usize,
    requests: usize,
    retries: usize,
    /// Retries by reason (status, "connect", "dropped").
    reasons: std::collections::BTreeMap<String, usize>,
    errors: usize,
    p50: Duration,
    p99: Duration,
    lost: usize,
    duplicated: usize,
}

impl std::fmt::Display for Load {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(
            f,
            "{} sessions, {} restarts in {:.0} s: {} requests through nginx (p50 {:.1} ms, p99 {:.1} ms), \
             {} client retries {:?}, {} errors; {} images, {} lost, {} duplicated",
            self.sessions,
            self.restarts,
            self.took.as_secs_f64(),
            self.requests,
            ms(self.p50),
            ms(self.p99),
            self.retries,
            self.reasons,
            self.errors,
            self.images,
            self.lost,
            self.duplicated
        )
    }
}

/// `sessions` desktops upload and commit (a commit after every third
/// upload) while every instance is restarted in turn, SIGTERM then start
/// and readiness; rounds of restarts go on until `run_for` has passed (one
/// round at least, 10 s apart). Then each session commits what is left and
/// the sandbox's inbox must hold every image exactly once. Panics on a
/// request that failed beyond the client's retries, or a photo lost or
/// filed twice.
async fn rolling_restart_under_load(cluster: &mut Cluster, sessions: usize, run_for: Duration) -> Load {
    let front = cluster.front.clone();
    let (retries_before, errors_before) = (RETRIES.load(Ordering::Relaxed), ERRORS.load(Ordering::Relaxed));
    LATENCIES.lock().unwrap().clear();
    RETRY_REASONS.lock().unwrap().clear();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..sessions {
        let (front, stop) = (front.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut desktop = Credential::Cookie(front.launch().await);
            let (mut mine, mut here) = (Vec::new(), 0);
            while !stop.load(Ordering::SeqCst) {
                mine.push(front.upload(&desktop).await);
                here += 1;
                if here % 3 == 0 {
                    let res = front.post("/api/medtech/attachments/commit", json!({}), &desktop).await;
                    assert_eq!(res.status().as_u16(), 200);
                }
                // A session holds at most 40 photos: the GP moves on to the
                // next patient, as in a day's clinic.
                if here == 30 {
                    desktop = Credential::Cookie(front.launch().await);
                    here = 0;
                }
            }
            (desktop, mine)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    let mut restarts = 0;
    loop {
        for i in 0..3 {
            cluster.signal_app(i, "-TERM");
            cluster.start_app(i).await;
            restarts += 1;
            tokio::time::sleep(Duration::from_secs(FAIL_TIMEOUT_SECS)).await;
        }
        let left = run_for.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        tokio::time::sleep(left.min(Duration::from_secs(10))).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::SeqCst);
    let took = started.elapsed();
    let mut all = Vec::new();
    for w in workers {
        let (desktop, mine) = w.await.expect("a worker failed: a request failed beyond retries");
        // Whatever the last round left uncommitted, or a restart
        // interrupted, is filed now, once.
        let report: Value =
            front.post("/api/medtech/attachments/commit", json!({}), &desktop).await.json().await.unwrap();
        assert!(report["results"].as_array().unwrap().iter().all(|r| r["status"] == "committed"), "{report}");
        all.extend(mine);
    }
    let inbox = front.inbox().await;
    let mut filed: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for e in &inbox {
        if let Some(id) = e["resource"]["identifier"][0]["value"].as_str() {
            *filed.entry(id).or_default() += 1;
        }
    }
    let mut latencies = std::mem::take(&mut *LATENCIES.lock().unwrap());
    latencies.sort();
    let at = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    let load = Load {
        sessions,
        restarts,
        took,
        images: all.len(),
        requests: latencies.len(),
        retries: RETRIES.load(Ordering::Relaxed) - retries_before,
        reasons: std::mem::take(&mut *RETRY_REASONS.lock().unwrap()),
        errors: ERRORS.load(Ordering::Relaxed) - errors_before,
        p50: at(0.50),
        p99: at(0.99),
        lost: all.iter().filter(|id| !filed.contains_key(id.as_str())).count(),
        duplicated: all.iter().filter(|id| filed.get(id.as_str()).is_some_and(|n| *n > 1)).count(),
    };
    assert_eq!((load.lost, load.duplicated, load.errors), (0, 0, 0), "{load}");
    load
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn behind_nginx_the_service_survives_kills_rolling_restarts_and_redis_s3_and_alex_outages() {
    use clinical_images::server::stores::events::compare_ids;
    let _alone = ONE_AT_A_TIME.lock().await;
    let mut cluster = Cluster::start().await;
    let front = cluster.front.clone();

    // --- An instance killed mid-stream. ---
    let cookie = front.launch().await;
    let desktop = Credential::Cookie(cookie.clone());
    let phone = phone(&front, &desktop).await;

    // --- nginx's access log holds no token, context or signature. ---
    let (context, signature) = common::sandbox_launch_context(
        &front.http,
        &front.sandbox,
        json!({"patientId": PATIENT, "facilityId": "F2N060-E"}),
    )
    .await;
    let launch = format!("/medtech-images/launch?context={context}&signature={signature}");
    assert_eq!(retrying(|| front.http.get(front.url(&launch))).await.status().as_u16(), 303);
    let Credential::Bearer(token) = &phone else { unreachable!("a phone holds a bearer") };
    // The phone's browser opens its link, then sends it as the referrer.
    let link = front.url(&format!("/medtech-images/mobile?t={token}"));
    let page = retrying(|| front.http.get(&link).header("referer", &link)).await;
    assert_eq!(page.status().as_u16(), 200);
    let log = std::fs::read_to_string(cluster.dir.join("access.log")).unwrap();
    assert!(log.contains("\"GET /medtech-images/mobile HTTP/1.1\" 200"), "{log}");
    assert!(log.contains("\"GET /medtech-images/launch HTTP/1.1\" 303"), "{log}");
    for secret in [token.as_str(), &context, &signature] {
        assert!(!log.contains(secret), "a secret in nginx's access log");
    }
    let stream = Stream::open(&front, &cookie, None).await;
    front.upload(&phone).await;
    stream.wait_added(1).await;
    // Find the instance holding the stream: SIGKILL each in turn until it ends.
    let mut victim = None;
    for i in 0..3 {
        cluster.signal_app(i, "-KILL");
        tokio::time::sleep(Duration::from_millis(500)).await;
        if stream.ended.load(Ordering::SeqCst) {
            victim = Some(i);
            break;
        }
        cluster.start_app(i).await;
    }
    let victim = victim.expect("one instance served the stream");
    let last_seen = stream.added().last().unwrap().0.clone();
    // While it is down, the phone keeps uploading (nginx sends it elsewhere).
    let missed = [front.upload(&phone).await, front.upload(&phone).await];
    let again = Stream::open(&front, &cookie, Some(&last_seen)).await;
    again.wait_added(2).await;
    let ids: Vec<String> = again.added().into_iter().map(|(id, _)| id).collect();
    assert!(ids.iter().all(|id| compare_ids(id, &last_seen).is_gt()), "only what was missed: {ids:?}");
    assert_ne!(ids[0], ids[1], "no event twice");
    cluster.start_app(victim).await;
    let listed: Value = front
        .http
        .get(front.url("/api/medtech/session/images"))
        .header("cookie", &cookie)
        .header("x-capture-session", common::session_of(&cookie))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for id in &missed {
        assert!(listed.as_array().unwrap().iter().any(|i| i["imageId"] == id.as_str()));
    }

    // --- A rolling restart under uploads and commits from 20 sessions. ---
    let load = rolling_restart_under_load(&mut cluster, 20, Duration::ZERO).await;
    println!("rolling restart: {load}");
    assert!(load.images >= 20, "the load ran: {load}");

    // --- S3 unreachable during uploads (its own scope: no names leak out). ---
    {
        let cookie = front.launch().await;
        let desktop = Credential::Cookie(cookie.clone());
        let uploader = self::phone(&front, &desktop).await;
        let stream = Stream::open(&front, &cookie, None).await;
        let photo = common::jpeg(32, 24);
        let ticket: Value = front
            .post(
                "/api/medtech/session/presigned-url",
                json!({"contentType": "image/jpeg", "size": photo.len()}),
                &uploader,
            )
            .await
            .json()
            .await
            .unwrap();
        let id = ticket["imageId"].as_str().unwrap().to_owned();
        cluster.s3_open.send_replace(false);
        let down_from = Instant::now();
        let put = front.http.put(ticket["uploadUrl"].as_str().unwrap()).body(photo.clone()).send().await;
        assert!(put.is_err(), "the PUT cannot reach S3 through the shut gate");
        // Registering asks S3 for the object: a plain 503 at once, not a hang.
        let register = || {
            uploader.apply(
                front.http.post(front.url("/api/medtech/session/images")).json(&json!({"imageId": id})),
            )
        };
        let during = register().send().await.unwrap();
        let status = during.status().as_u16();
        let body = during.text().await.unwrap();
        assert_eq!(status, 503, "while S3 is unreachable: {body}");
        assert!(down_from.elapsed() < Duration::from_secs(12), "an answer, not a hang");
        assert!(!body.contains("dispatch") && !body.contains("127.0.0.1"), "no internal detail: {body}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        cluster.s3_open.send_replace(true);
        // The client's retry of the same upload now finishes, once.
        common::signed_put(&front.http, &ticket, photo).await;
        assert_eq!(register().send().await.unwrap().status().as_u16(), 200);
        stream.wait_added(1).await;
    }

    // --- ALEX down in the middle of a commit. ---
    // Long enough to outlast the client's own retries (3 attempts, about 2 s);
    // CLUSTER_ALEX_OUTAGE_SECS=30 gives the full 30 s.
    let outage = Duration::from_secs(
        std::env::var("CLUSTER_ALEX_OUTAGE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(6),
    );
    let desktop = Credential::Cookie(front.launch().await);
    let mut photos = Vec::new();
    for _ in 0..4 {
        photos.push(front.upload(&desktop).await);
    }
    // Two photos are filed, then ALEX goes down.
    let res = front
        .http
        .post(format!("{}/outage", front.sandbox))
        .json(&json!({"ms": outage.as_millis() as u64, "afterCreates": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    let down_from = Instant::now();
    let report: Value =
        front.post("/api/medtech/attachments/commit", json!({}), &desktop).await.json().await.unwrap();
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "{report}");
    let failed: Vec<&Value> = results.iter().filter(|r| r["status"] == "failed").collect();
    assert!(!failed.is_empty() && failed.len() <= 2, "ALEX went down after two filings: {report}");
    for r in &failed {
        assert_eq!(r["retryable"], true, "{r}");
        // "Retry later", in one of its two forms: ALEX unavailable, or a
        // create it may have received but did not confirm (a 503 on a POST).
        let message = r["message"].as_str().unwrap_or_default();
        assert!(
            message == "Medtech is temporarily unavailable. Try again in a few minutes."
                || message == "Medtech did not confirm whether this photo was filed. Try again in a minute: it will not be filed twice.",
            "retry later: {r}"
        );
    }
    assert!(results.iter().all(|r| r["status"] == "committed" || r["status"] == "failed"), "{report}");
    // When it is back, the retry files each photo exactly once. The outage
    // began only after the second filing, so it may end later than
    // `down_from + outage`: retry, as the GP would, until all are filed.
    tokio::time::sleep(
        (down_from + outage + Duration::from_millis(300)).saturating_duration_since(Instant::now()),
    )
    .await;
    let mut tries = 0;
    loop {
        let again: Value =
            front.post("/api/medtech/attachments/commit", json!({}), &desktop).await.json().await.unwrap();
        let results = again["results"].as_array().unwrap();
        if results.iter().all(|r| r["status"] == "committed") {
            break;
        }
        assert!(results.iter().all(|r| r["status"] == "committed" || r["retryable"] == true), "{again}");
        tries += 1;
        assert!(tries < 15, "still not filed well after ALEX came back: {again}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let inbox = front.inbox().await;
    for id in &photos {
        let filed = inbox.iter().filter(|e| e["resource"]["identifier"][0]["value"] == id.as_str()).count();
        assert_eq!(filed, 1, "image {id} filed {filed} times across ALEX's outage");
    }
}

/// Runs `examples/bench_events` (BENCH_EVENTS_BIN, built by
/// `scripts/cluster.sh soak`) with `vars`, echoing what it prints; returns
/// the child once a line containing `until` has come, or None once it has
/// ended (successfully: else this panics).
fn bench_events(mode: &str, vars: &[(&str, String)], until: Option<&str>) -> Option<Child> {
    use std::io::BufRead;
    let mut child = Command::new(common::required_env("BENCH_EVENTS_BIN"))
        .arg(mode)
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .env("BENCH_INSECURE_TLS", "true")
        .stdout(Stdio::piped())
        .spawn()
        .expect("bench_events");
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut lines = out.lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        println!("  [{mode}] {line}");
        if until.is_some_and(|u| line.contains(u)) {
            // Keep echoing what it says later, on a thread of its own.
            let mode = mode.to_owned();
            std::thread::spawn(move || lines.map_while(Result::ok).for_each(|l| println!("  [{mode}] {l}")));
            return Some(child);
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "bench_events {mode}: {status}");
    None
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// The soak behind `scripts/cluster.sh soak` (release build, not in CI):
/// the rolling restart under 20 sessions for CLUSTER_SOAK_SECS (120), then
/// the real-time path through the cluster with 5,000 sessions (all through
/// nginx, then registering on one instance and streaming on another), then
/// 30,000 open streams through nginx across the three instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "the soak: scripts/cluster.sh soak"]
async fn soak() {
    let secs = std::env::var("CLUSTER_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(120);
    let mut cluster = Cluster::start_shaped(SOAK_SHAPE).await;
    let load = rolling_restart_under_load(&mut cluster, 20, Duration::from_secs(secs)).await;
    println!("soak, rolling restart: {load}");
    // What nginx said of the requests it could not pass on, by kind.
    let log = std::fs::read_to_string(cluster.dir.join("nginx-error.log")).unwrap_or_default();
    let mut kinds: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for line in log.lines() {
        let kind = line.split("*").nth(1).and_then(|l| l.split_once(' ')).map(|(_, l)| l).unwrap_or(line);
        let kind = kind.split(" while ").next().unwrap_or(kind).to_owned();
        *kinds.entry(kind).or_default() += 1;
    }
    println!("soak, nginx's error log: {kinds:#?}");

    let front = cluster.front.clone();
    let direct: Vec<String> = cluster.app_ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect();
    let sessions = std::env::var("BENCH_SESSIONS").unwrap_or_else(|_| "5000".into());
    let samples = std::env::var("BENCH_SAMPLES").unwrap_or_else(|_| sessions.clone());
    let common_vars = |stream: String, register: String| {
        vec![
            ("BENCH_SESSIONS", sessions.clone()),
            ("BENCH_SAMPLES", samples.clone()),
            ("BENCH_SANDBOX_URL", front.sandbox.clone()),
            ("BENCH_STREAM_URLS", stream),
            ("BENCH_REGISTER_URLS", register),
        ]
    };
    println!("soak, real-time path, everything through nginx:");
    bench_events("latency", &common_vars(front.base.clone(), front.base.clone()), None);
    println!("soak, real-time path, registered on one instance, streamed from another:");
    let rotated: Vec<String> = direct.iter().cycle().skip(1).take(direct.len()).cloned().collect();
    bench_events("latency", &common_vars(direct.join(","), rotated.join(",")), None);

    // 30,000 streams: two client processes (a process may hold 20,000
    // descriptors here), each from its own source address (one address has
    // about 28,000 ports towards nginx's one port), neither 127.0.0.1, whose
    // ports the latency runs' closed connections still hold in TIME_WAIT.
    let pids: Vec<String> = cluster.apps.iter().flatten().map(|c| c.id().to_string()).collect();
    let per =
        std::env::var("CLUSTER_SOAK_STREAMS").ok().and_then(|s| s.parse::<usize>().ok()).unwrap_or(30_000)
            / 2;
    let mut holders = Vec::new();
    for (n, addr) in ["127.0.0.2", "127.0.0.3"].into_iter().enumerate() {
        let vars = vec![
            ("BENCH_STREAMS", per.to_string()),
            ("BENCH_LAUNCH_OFFSET", (n * 1_000_000).to_string()),
            ("BENCH_SANDBOX_URL", front.sandbox.clone()),
            ("BENCH_STREAM_URLS", front.base.clone()),
            ("BENCH_PIDS", pids.join(",")),
            ("BENCH_LOCAL_ADDR", addr.to_owned()),
            ("BENCH_HOLD_SECS", "600".to_owned()),
        ];
        holders.extend(bench_events("streams", &vars, Some("holding")));
    }
    let mut rss = Vec::new();
    for (child, port) in cluster.apps.iter().flatten().zip(&cluster.metrics_ports) {
        let text = front
            .http
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let open = text.lines().find_map(|l| l.strip_prefix("event_streams_open ")).unwrap_or("?").to_owned();
        rss.push(format!("{open} streams in {:.0} MiB", rss_mib(child.id())));
    }
    let t0 = Instant::now();
    let ready = front.http.get(front.url("/readyz")).send().await.unwrap().status();
    println!(
        "soak, {} streams open through nginx: instances hold {}; /readyz through nginx answered {ready} in {:?}",
        per * 2,
        rss.join(", "),
        t0.elapsed()
    );
    for mut h in holders {
        let _ = h.kill();
        let _ = h.wait();
    }
}
