//! Test harness shared by the integration tests: a real app on port 0, and
//! access to the real Redis and S3 servers that `scripts/test.sh` starts.
//!
//! Each test isolates itself with a unique Redis key prefix and S3 bucket.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::collections::HashMap;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicU32, Ordering};

use clinical_images::server::config::Config;
use clinical_images::server::router::app;
use clinical_images::server::state::AppState;
use leptos::config::LeptosOptions;

/// A unique name for this test run and call site (prefixes, bucket names).
pub fn unique(label: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{label}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn required_env(var: &str) -> String {
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
        (
            "AWS_ACCESS_KEY_ID".into(),
            required_env("TEST_S3_ACCESS_KEY"),
        ),
        (
            "AWS_SECRET_ACCESS_KEY".into(),
            required_env("TEST_S3_SECRET_KEY"),
        ),
    ]
}

/// Variables for the production shape: Redis and S3 (ALEX stays the sandbox).
pub fn service_vars() -> Vec<(String, String)> {
    let mut vars = s3_vars();
    vars.push(("REDIS_URL".into(), redis_url()));
    vars.push(("REDIS_KEY_PREFIX".into(), format!("{}:", unique("t"))));
    vars
}

/// A running app, served on a real loopback socket.
pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub http: reqwest::Client,
}

impl TestApp {
    /// Starts the app with exactly these variables (nothing from the process environment).
    pub async fn start(vars: Vec<(String, String)>) -> TestApp {
        Self::try_start(vars).await.expect("app start-up")
    }

    /// Like [`TestApp::start`], but returns start-up errors.
    pub async fn try_start(vars: Vec<(String, String)>) -> Result<TestApp, String> {
        let mut vars: HashMap<String, String> = vars.into_iter().collect();
        vars.entry("BLOB_DIR".into()).or_insert_with(|| {
            std::env::temp_dir()
                .join(unique("blobs"))
                .display()
                .to_string()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let config =
            Config::from_lookup(addr, |k| vars.get(k).cloned()).map_err(|e| e.to_string())?;
        let options = LeptosOptions::builder()
            .output_name("clinical-images")
            .site_addr(addr)
            .build();
        let state = AppState::build(config, options, &listener)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(axum::serve(listener, app(state.clone())).into_future());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(TestApp {
            base: format!("http://{addr}"),
            state,
            http,
        })
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}
