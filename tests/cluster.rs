//! The service shape, for real: Debian's nginx (TLS, the config in
//! `deploy/nginx/`) in front of three app instances (the real binary), one
//! Redis (`deploy/redis/`, AOF), ministack S3 and a standalone ALEX sandbox.
//! Every request goes through nginx. Scenarios, seconds each:
//! - an instance killed mid-stream: the desktop reconnects through nginx to
//!   another instance and, by `Last-Event-ID`, gets exactly what it missed;
//! - a rolling restart (SIGTERM, start, readiness) under uploads and commits
//!   from several sessions: no request fails beyond the client's own retries,
//!   and every photo is filed exactly once;
//! - a Redis restart: 503 (not a hang) while it is down; sessions and tokens
//!   survive; every instance is ready again and its pub/sub subscriber is
//!   back (a stream opened on each instance directly gets the next event);
//! - ALEX down mid-commit: "retry later" for what it could not file, and the
//!   retry files each photo exactly once;
//! - S3 unreachable during uploads (a gate in front of it cuts every
//!   connection): registering answers 503 at once, and the same upload,
//!   retried once S3 is back, finishes and reaches the desktop's stream.
//!
//! `scripts/cluster.sh` runs this file alone; the test command runs it with
//! the rest.

mod common;

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

impl Cluster {
    async fn start() -> Cluster {
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
        let upstreams: String =
            app_ports.iter().map(|p| format!("server 127.0.0.1:{p} max_fails=1 fail_timeout=2s; ")).collect();
        let site = std::fs::read_to_string(repo("deploy/nginx/clinical-images.conf"))
            .unwrap()
            .replace("@UPSTREAM_SERVERS@", &upstreams)
            .replace("@LISTEN@", &format!("127.0.0.1:{nginx_port}"))
            .replace("@SERVER_NAME@", "127.0.0.1")
            .replace("@CERT@", &dir.join("cert.pem").display().to_string())
            .replace("@CERT_KEY@", &dir.join("key.pem").display().to_string());
        std::fs::write(dir.join("site.conf"), site).unwrap();
        for temp in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            std::fs::create_dir_all(dir.join(temp)).unwrap();
        }
        let d = dir.display();
        let main = format!(
            "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
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
            ("COMMIT_RULE".into(), "nothing".into()),
            ("LEPTOS_OUTPUT_NAME".into(), "clinical-images".into()),
            ("RUST_LOG".into(), "warn".into()),
            ("ALEX_BASE_URL".into(), format!("{sandbox_base}/FHIR")),
            ("ALEX_TOKEN_URL".into(), format!("{sandbox_base}/oauth2/v2.0/token")),
            ("ALEX_CLIENT_ID".into(), "sandbox-client".into()),
            ("ALEX_CLIENT_SECRET".into(), "sandbox-secret".into()),
            ("ALEX_SCOPE".into(), "api://sandbox/.default".into()),
            ("ALEX_FACILITY_ID".into(), "F2N060-E".into()),
        ]);
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
        assert!(set.starts_with("__Host-ci_session=") && set.contains("Secure"), "{set}");
        set.split(';').next().unwrap().to_owned()
    }

    async fn post(&self, path: &str, body: Value, auth: &Credential) -> reqwest::Response {
        retrying(|| auth.apply(self.http.post(self.url(path)).json(&body))).await
    }

    /// Presign through nginx, PUT to S3, register through nginx.
    async fn upload(&self, auth: &Credential) -> String {
        let photo = common::jpeg(32, 24);
        let ticket: Value = self
            .post(
                "/api/medtech/session/presigned-url",
                json!({"contentType": "image/jpeg", "size": photo.len()}),
                auth,
            )
            .await
            .json()
            .await
            .unwrap();
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

async fn retrying(make: impl Fn() -> reqwest::RequestBuilder) -> reqwest::Response {
    for _ in 0..40 {
        match make().send().await {
            Ok(res) if !matches!(res.status().as_u16(), 502..=504) => return res,
            _ => {
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
            Credential::Cookie(c) => req.header("cookie", c),
            Credential::Bearer(t) => req.header("authorization", format!("Bearer {t}")),
        }
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
        let mut req = http.get(format!("{base}/api/medtech/session/events")).header("cookie", cookie);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let events = Arc::new(Mutex::new(Vec::new()));
        let ended = Arc::new(AtomicBool::new(false));
        let (e, done) = (events.clone(), ended.clone());
        tokio::spawn(async move {
            let mut res = res;
            let mut buffer = String::new();
            let (mut id, mut name) = (String::new(), String::new());
            while let Ok(Some(chunk)) = res.chunk().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(at) = buffer.find('\n') {
                    let line = buffer[..at].trim_end_matches('\r').to_owned();
                    buffer.drain(..=at);
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if line.is_empty() && !name.is_empty() {
                        e.lock().unwrap().push((std::mem::take(&mut id), std::mem::take(&mut name)));
                    }
                }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn behind_nginx_the_service_survives_kills_rolling_restarts_and_redis_s3_and_alex_outages() {
    use clinical_images::server::events::compare_ids;
    let mut cluster = Cluster::start().await;
    let front = cluster.front.clone();

    // --- An instance killed mid-stream. ---
    let cookie = front.launch().await;
    let desktop = Credential::Cookie(cookie.clone());
    let phone = phone(&front, &desktop).await;
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
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for id in &missed {
        assert!(listed.as_array().unwrap().iter().any(|i| i["imageId"] == id.as_str()));
    }

    // --- A rolling restart under load from several sessions. ---
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..5 {
        let (front, stop) = (front.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let desktop = Credential::Cookie(front.launch().await);
            let mut mine = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                mine.push(front.upload(&desktop).await);
                if mine.len() % 3 == 0 {
                    let res = front.post("/api/medtech/attachments/commit", json!({}), &desktop).await;
                    assert_eq!(res.status().as_u16(), 200);
                }
            }
            (desktop, mine)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for i in 0..3 {
        cluster.signal_app(i, "-TERM");
        cluster.start_app(i).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::SeqCst);
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
    for id in &all {
        let filed = inbox.iter().filter(|e| e["resource"]["identifier"][0]["value"] == id.as_str()).count();
        assert_eq!(filed, 1, "image {id} filed {filed} times");
    }
    assert!(all.len() >= 5, "the load ran: {} images", all.len());
    println!("rolling restart: {} images, {} client retries", all.len(), RETRIES.load(Ordering::Relaxed));

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

    // --- A Redis restart (AOF). ---
    let _ = Command::new("redis-cli").args(["-p", &cluster.redis_port.to_string(), "shutdown"]).status();
    let _ = cluster.redis.wait();
    let started = Instant::now();
    let during = front
        .http
        .get(front.url("/api/medtech/session/images"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(matches!(during.status().as_u16(), 502..=503), "{}", during.status());
    assert!(started.elapsed() < Duration::from_secs(12), "an answer, not a hang");
    let (dir, port) = (cluster.dir.clone(), cluster.redis_port);
    cluster.redis = spawn_redis(&dir, port);
    let url = front.url("/api/medtech/session/images");
    let probe = front.http.clone();
    let cookie_again = cookie.clone();
    wait_until("the session after Redis' restart", async || {
        probe.get(&url).header("cookie", &cookie_again).send().await.is_ok_and(|r| r.status() == 200)
    })
    .await;
    let token = front.post("/api/medtech/session/token", json!({}), &phone).await;
    assert_eq!(token.status().as_u16(), 200, "the phone's token survived");
    // Every instance is back, its pub/sub subscriber included: a stream opened
    // on each one directly gets the event of an upload made through nginx.
    let mut streams = Vec::new();
    for port in cluster.app_ports.clone() {
        let base = format!("http://127.0.0.1:{port}");
        let probe = front.http.clone();
        let ready = format!("{base}/readyz");
        wait_until("each instance ready after Redis' restart", async || {
            probe.get(&ready).send().await.is_ok_and(|r| r.status() == 200)
        })
        .await;
        streams.push(Stream::open_at(&front.http, &base, &cookie, None).await);
    }
    // Each stream replays the session's history first; count from there.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before: Vec<usize> = streams.iter().map(|s| s.added().len()).collect();
    front.upload(&phone).await;
    for (s, n) in streams.iter().zip(before) {
        s.wait_added(n + 1).await;
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
    // When it is back, the retry files each photo exactly once.
    tokio::time::sleep(
        (down_from + outage + Duration::from_millis(300)).saturating_duration_since(Instant::now()),
    )
    .await;
    let again: Value =
        front.post("/api/medtech/attachments/commit", json!({}), &desktop).await.json().await.unwrap();
    assert!(again["results"].as_array().unwrap().iter().all(|r| r["status"] == "committed"), "{again}");
    let inbox = front.inbox().await;
    for id in &photos {
        let filed = inbox.iter().filter(|e| e["resource"]["identifier"][0]["value"] == id.as_str()).count();
        assert_eq!(filed, 1, "image {id} filed {filed} times across ALEX's outage");
    }
}
