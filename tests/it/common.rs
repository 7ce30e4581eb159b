//! Test harness shared by the integration tests: a real app on port 0, and
//! access to the real Redis and S3 servers that `scripts/test.sh` starts.
//!
//! Each test isolates itself with a unique Redis key prefix and S3 bucket.

#![allow(dead_code)] // not every helper is used by every configuration of the suites

use std::collections::HashMap;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicU32, Ordering};

use clinical_images::server::app_state::AppState;
use clinical_images::server::config::Config;
use clinical_images::server::http::router::app;
use leptos::config::LeptosOptions;
use serde_json::Value;

/// A unique name for this test run and call site (prefixes, bucket names).
pub fn unique(label: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{label}-{}-{}-{nanos}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

pub fn required_env(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set. Run ./scripts/test.sh, which starts Redis and ministack for the tests.")
    })
}

/// URL of the test Redis.
pub fn redis_url() -> String {
    required_env("TEST_REDIS_URL")
}

/// Variables that point the app at the test S3 server, in a fresh bucket.
pub fn s3_vars() -> Vec<(String, String)> {
    vec![
        ("S3_BUCKET".into(), unique("b").to_lowercase()),
        ("S3_ENDPOINT".into(), required_env("TEST_S3_ENDPOINT")),
        ("S3_REGION".into(), "us-east-1".into()),
        ("S3_FORCE_PATH_STYLE".into(), "true".into()),
        ("S3_CREATE_BUCKET".into(), "true".into()),
        ("AWS_ACCESS_KEY_ID".into(), required_env("TEST_S3_ACCESS_KEY")),
        ("AWS_SECRET_ACCESS_KEY".into(), required_env("TEST_S3_SECRET_KEY")),
    ]
}

/// Variables for the production shape: Redis and S3, with the app's own
/// ALEX sandbox asked for explicitly (`ALEX_SANDBOX`). Add a
/// [`SandboxServer`]'s `vars()` instead to file into a separate "ALEX".
pub fn service_vars() -> Vec<(String, String)> {
    let mut vars = s3_vars();
    vars.push(("REDIS_URL".into(), redis_url()));
    vars.push(("REDIS_KEY_PREFIX".into(), format!("{}:", unique("t"))));
    vars.push(("ALEX_SANDBOX".into(), "true".into()));
    vars
}

/// A running app, served on a real loopback socket.
pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub http: reqwest::Client,
    /// A separate sandbox standing in for ALEX (`ALEX_BASE_URL`), whose
    /// launch contexts open sessions: the development launch is refused there.
    pub remote_sandbox: Option<String>,
}

impl TestApp {
    /// Starts the app with exactly these variables (nothing from the process environment).
    pub async fn start(vars: Vec<(String, String)>) -> TestApp {
        Self::try_start(vars).await.expect("app start-up")
    }

    /// Like [`TestApp::start`], but returns start-up errors.
    pub async fn try_start(vars: Vec<(String, String)>) -> Result<TestApp, String> {
        let mut vars: HashMap<String, String> = vars.into_iter().collect();
        // A later entry overrides an earlier one, as in a shell's environment.
        if vars.contains_key("ALEX_BASE_URL") {
            vars.remove("ALEX_SANDBOX");
        }
        vars.entry("BLOB_DIR".into())
            .or_insert_with(|| std::env::temp_dir().join(unique("blobs")).display().to_string());
        // Most tests file photos without details; the rule has its own test.
        vars.entry("COMMIT_RULE".into()).or_insert_with(|| "nothing".into());
        // Likewise consent (CONSENT_RULE, default required): tests/it/consent.rs.
        vars.entry("CONSENT_RULE".into()).or_insert_with(|| "optional".into());
        if strict_search() {
            vars.entry("ALEX_SANDBOX_STRICT_SEARCH".into()).or_insert_with(|| "true".into());
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        vars.entry("PUBLIC_BASE_URL".into()).or_insert_with(|| format!("http://{addr}"));
        let remote_sandbox =
            vars.get("ALEX_BASE_URL").map(|u| u.trim_end_matches('/').trim_end_matches("/FHIR").to_owned());
        let config = Config::from_lookup(addr, |k| vars.get(k).cloned()).map_err(|e| e.to_string())?;
        let site_root = vars.get("LEPTOS_SITE_ROOT").cloned().unwrap_or_else(|| "target/site".into());
        let options = LeptosOptions::builder()
            .output_name("clinical-images")
            .site_addr(addr)
            .site_root(site_root)
            .hash_files(vars.get("LEPTOS_HASH_FILES").is_some_and(|v| v == "true"))
            .hash_file(std::sync::Arc::from(
                vars.get("LEPTOS_HASH_FILE_NAME").map_or("hash.txt", String::as_str),
            ))
            .build();
        let state = AppState::build(config, options, &listener).await.map_err(|e| e.to_string())?;
        let service = app(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(axum::serve(listener, service).into_future());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(TestApp { base: format!("http://{addr}"), state, http, remote_sandbox })
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Opens a desktop session for the patient at the sandbox's facility;
    /// returns its cookie, `ci_session_<name>=…` (see [`session_of`]).
    pub async fn launch(&self, patient_id: &str) -> String {
        self.launch_at(patient_id, "F2N060-E").await
    }

    /// Opens a desktop session: by the development launch against the
    /// app's own sandbox, or through Evolution's launch (a signed context
    /// from the remote sandbox) when the app files into a separate one.
    pub async fn launch_at(&self, patient_id: &str, facility_id: &str) -> String {
        let url = match &self.remote_sandbox {
            None => self.url(&format!("/medtech-images?patientId={patient_id}&facilityId={facility_id}")),
            Some(sandbox) => {
                let body = serde_json::json!({"patientId": patient_id, "facilityId": facility_id});
                let (c, s) = sandbox_launch_context(&self.http, sandbox, body).await;
                self.url(&format!("/medtech-images/launch?context={c}&signature={s}"))
            }
        };
        let res = self.http.get(url).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 303, "launch");
        let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let location = res.headers()["location"].to_str().unwrap();
        assert_eq!(
            location,
            format!("/medtech-images?session={}", session_of(&cookie)),
            "launch lands on its session's page"
        );
        cookie
    }

    /// `POST /api/medtech/session` for the session of `cookie`, as its page asks.
    pub async fn session_view(&self, cookie: &str) -> (u16, Value) {
        let body = serde_json::json!({"session": session_of(cookie)});
        self.post("/api/medtech/session", body, &Auth::Cookie(cookie.to_owned())).await
    }

    /// A phone on the desktop session's link: a new phone token, as a bearer.
    pub async fn phone(&self, desktop: &Auth) -> Auth {
        let (_, grant) = self.post("/api/medtech/session/mobile-token", serde_json::json!({}), desktop).await;
        Auth::Bearer(grant["mobileUrl"].as_str().unwrap().split("t=").nth(1).unwrap().to_owned())
    }

    /// Calls a JSON API endpoint with optional extra header; returns status and body.
    pub async fn post(&self, path: &str, body: Value, auth: &Auth) -> (u16, Value) {
        let req = auth.apply(self.http.post(self.url(path)).json(&body));
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// `GET` a JSON API endpoint.
    pub async fn get(&self, path: &str, auth: &Auth) -> (u16, Value) {
        let res = auth.apply(self.http.get(self.url(path))).send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

impl TestApp {
    /// Presigns, PUTs `body` to the signed URL with its signed headers, and returns the ticket.
    pub async fn upload(&self, auth: &Auth, content_type: &str, body: Vec<u8>) -> Value {
        let request = serde_json::json!({"contentType": content_type, "size": body.len()});
        let (status, ticket) = self.post("/api/medtech/session/presigned-url", request, auth).await;
        assert_eq!(status, 200, "{ticket}");
        self.put_to(&ticket, body).await;
        ticket
    }

    /// PUTs `body` to a ticket's signed URL with its signed headers (again, if need be).
    pub async fn put_to(&self, ticket: &Value, body: Vec<u8>) {
        signed_put(&self.http, ticket, body).await;
    }

    /// Registers an uploaded image.
    pub async fn register(&self, auth: &Auth, image_id: &str) -> (u16, Value) {
        self.post("/api/medtech/session/images", serde_json::json!({"imageId": image_id}), auth).await
    }

    /// Starts this instance's metrics listener (as `METRICS_ADDR` does);
    /// its base URL, where `/metrics` and the health detail are.
    pub async fn metrics_listener(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(clinical_images::server::http::metrics::serve(listener, self.state.clone()));
        base
    }

    /// The health detail from the metrics listener: `(status, report)`.
    pub async fn health_detail(&self) -> (u16, Value) {
        let res = reqwest::get(format!("{}/healthz", self.metrics_listener().await)).await.unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    /// Uploads and registers a `size`-pixel square photo; its image id.
    pub async fn add_photo(&self, desktop: &Auth, size: u32) -> String {
        let ticket = self.upload(desktop, "image/jpeg", jpeg(size, size)).await;
        let id = ticket["imageId"].as_str().unwrap().to_owned();
        let (s, body) = self.register(desktop, &id).await;
        assert_eq!(s, 200, "{body}");
        id
    }

    /// Commits `ids` (every open photo for `None`); the report, asserted 200.
    pub async fn commit(&self, auth: &Auth, ids: Option<Vec<&str>>) -> Value {
        let body = match ids {
            Some(ids) => serde_json::json!({"imageIds": ids}),
            None => serde_json::json!({}),
        };
        let (s, report) = self.post("/api/medtech/attachments/commit", body, auth).await;
        assert_eq!(s, 200, "{report}");
        report
    }
}

/// Each result's status in a commit report, in order.
pub fn statuses(report: &Value) -> Vec<&str> {
    report["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect()
}

/// Whether this run's sandboxes refuse undocumented search parameters, as a
/// strict FHIR server would (`TEST_ALEX_STRICT_SEARCH=true`): the test
/// command runs the commit and fault suites once in each mode.
pub fn strict_search() -> bool {
    std::env::var("TEST_ALEX_STRICT_SEARCH").is_ok_and(|v| v == "true")
}

/// The credential a test request carries.
pub enum Auth {
    None,
    /// A desktop page: its session's cookie, and the header naming the session.
    Cookie(String),
    Bearer(String),
}

impl Auth {
    pub fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::None => req,
            Auth::Cookie(c) => as_desktop(req, c),
            Auth::Bearer(t) => req.header("authorization", format!("Bearer {t}")),
        }
    }
}

/// The session name in a session cookie `ci_session_<name>=…` (or
/// `__Host-ci_session_<name>=…`); empty for any other cookie.
/// The store's key of the session whose cookie (`name=value`) this is.
pub fn session_key(cookie: &str) -> clinical_images::server::stores::session_store::SessionKey {
    let value = cookie.split_once('=').map_or(cookie, |(_, v)| v);
    clinical_images::server::stores::session_store::SessionKey::new(
        clinical_images::server::support::ids::hash_credential(value),
    )
}

pub fn session_of(cookie: &str) -> &str {
    let name = cookie.split('=').next().unwrap_or("");
    name.rsplit_once("ci_session_").map(|(_, n)| n).unwrap_or("")
}

/// A request as a desktop page sends it: the cookie, and the header naming
/// the cookie's session.
pub fn as_desktop(req: reqwest::RequestBuilder, cookie: &str) -> reqwest::RequestBuilder {
    let req = req.header("cookie", cookie);
    match session_of(cookie) {
        "" => req,
        name => req.header("x-capture-session", name),
    }
}

/// The event stream's path for the session of `cookie`.
pub fn events_path(cookie: &str) -> String {
    format!("/api/medtech/session/events?session={}", session_of(cookie))
}

/// An ALEX sandbox served alone on its own port (as a separate service would be).
pub struct SandboxServer {
    pub base: String,
}

impl SandboxServer {
    pub async fn start() -> SandboxServer {
        Self::start_with_token_lifetime(std::time::Duration::from_secs(3599)).await
    }

    /// A sandbox whose tokens live `lifetime` (to force expiry in tests).
    pub async fn start_with_token_lifetime(lifetime: std::time::Duration) -> SandboxServer {
        use clinical_images::server::sandbox::{router, Sandbox, SandboxConfig};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let sandbox = Sandbox::new(SandboxConfig {
            client_id: "sandbox-client".into(),
            client_secret: "sandbox-secret".into(),
            token_lifetime: lifetime,
            app_origin: "http://127.0.0.1:1".into(),
            strict_search: strict_search(),
        });
        tokio::spawn(axum::serve(listener, router::<()>(sandbox).into_make_service()).into_future());
        SandboxServer { base }
    }

    /// Variables that point an app at this sandbox as if it were Medtech's ALEX.
    pub fn vars(&self) -> Vec<(String, String)> {
        [
            ("ALEX_BASE_URL", format!("{}/FHIR", self.base)),
            ("ALEX_TOKEN_URL", format!("{}/oauth2/v2.0/token", self.base)),
            ("ALEX_CLIENT_ID", "sandbox-client".to_owned()),
            ("ALEX_CLIENT_SECRET", "sandbox-secret".to_owned()),
            ("ALEX_SCOPE", "api://sandbox/.default".to_owned()),
            ("ALEX_FACILITY_ID", "F2N060-E".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// A client-credentials token from this sandbox, as the app gets one.
    pub async fn token(&self) -> String {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", "sandbox-client"),
            ("client_secret", "sandbox-secret"),
            ("scope", "api://sandbox/.default"),
        ];
        let res = reqwest::Client::new()
            .post(format!("{}/oauth2/v2.0/token", self.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn json(&self, path: &str) -> Value {
        reqwest::get(format!("{}{path}", self.base)).await.unwrap().json().await.unwrap()
    }

    /// The inbox entries filed under this image id.
    pub async fn filed(&self, image_id: &str) -> Vec<Value> {
        let inbox = self.json("/inbox.json").await;
        inbox
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["resource"]["identifier"][0]["value"] == image_id)
            .cloned()
            .collect()
    }

    /// Asks the sandbox for a signed Evolution launch context: `(context, signature)`.
    pub async fn launch_context(&self, body: Value) -> (String, String) {
        sandbox_launch_context(&reqwest::Client::new(), &self.base, body).await
    }

    pub async fn fault(&self, fault: Value) {
        let res =
            reqwest::Client::new().post(format!("{}/faults", self.base)).json(&fault).send().await.unwrap();
        assert!(res.status().is_success());
    }
}

/// A small real JPEG.
pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let img =
        image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Jpeg).unwrap();
    out
}

/// Asks the sandbox at `sandbox` for a signed Evolution launch context: `(context, signature)`.
pub async fn sandbox_launch_context(http: &reqwest::Client, sandbox: &str, body: Value) -> (String, String) {
    let res: Value = http
        .post(format!("{sandbox}/launch-context"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (res["context"].as_str().unwrap().to_owned(), res["signature"].as_str().unwrap().to_owned())
}

/// PUTs `body` to an upload ticket's signed URL with its signed headers.
pub async fn signed_put(http: &reqwest::Client, ticket: &Value, body: Vec<u8>) {
    let status = signed_put_status(http, ticket, body).await;
    assert!((200..300).contains(&status), "PUT to the signed URL: {status}");
}

/// PUTs `body` to a ticket's signed URL; the answer's status.
pub async fn signed_put_status(http: &reqwest::Client, ticket: &Value, body: Vec<u8>) -> u16 {
    let mut put = http.put(ticket["uploadUrl"].as_str().unwrap());
    for pair in ticket["headers"].as_array().unwrap() {
        let (k, v) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        // The HTTP client sets these itself, from the body and the URL.
        if !k.eq_ignore_ascii_case("content-length") && !k.eq_ignore_ascii_case("host") {
            put = put.header(k, v);
        }
    }
    put.body(body).send().await.unwrap().status().as_u16()
}

/// A Redis server of the test's own, so the test can stop it: the process and its URL.
pub async fn private_redis() -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server (installed by scripts/test.sh)");
    let url = format!("redis://127.0.0.1:{port}/0");
    for _ in 0..100 {
        if redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    (child, url)
}

/// Service variables pointing at `redis_url` instead of the shared test Redis.
pub fn service_vars_with_redis(redis_url: &str) -> Vec<(String, String)> {
    let mut vars = service_vars();
    for (k, v) in vars.iter_mut() {
        if k == "REDIS_URL" {
            *v = redis_url.to_owned();
        }
    }
    vars
}
