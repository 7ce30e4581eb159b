//! The HTTP ALEX client: one connection pool, one token cache, bounded retries.
//!
//! - Every call sends `Authorization`, `mt-facilityid`, `mt-correlationid`
//!   and, when configured, `mt-appid`.
//! - A 401 drops the token, refreshes once and retries once.
//! - 429, 502, 503, 504 and connection or timeout errors retry with
//!   exponential backoff and jitter, honouring `Retry-After`, at most
//!   [`MAX_ATTEMPTS`] times and never past [`RETRY_BUDGET`]: one loop,
//!   [`HttpAlexClient::send`], for reads and creates alike.
//! - Before re-posting a create, that loop searches the patient's resources
//!   for the image's identifier, so a lost response never becomes a
//!   duplicate; if the search itself fails, it stops rather than post blind.
//!   The search is ALEX's documented `patient.identifier` (the NHI), narrowed
//!   by `identifier`; a server that refuses that parameter as not supported
//!   is searched by `patient.identifier` alone from then on. A patient
//!   without an NHI cannot be searched: [`AlexError::NoNhi`].
//! - Other answers are returned as they are; errors become [`AlexError::Rejected`]
//!   carrying the OperationOutcome's code and diagnostics.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::http::{HeaderMap, Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::Value;

use super::token::{TokenCache, TokenSource};
use super::wire::{backoff, created, rejected, retry_after, retryable};
use super::{AlexClient, AlexError, CallContext, Created, Dedupe, LaunchContext, PatientSummary, Resource};
use crate::server::config::AlexConfig;

mod earlier;
mod search;
mod urls;

use self::urls::{enc, launch_context_url};

/// Attempts per call, the first included.
pub const MAX_ATTEMPTS: u32 = 3;
/// No retry starts after this much time has passed since the first attempt.
pub const RETRY_BUDGET: Duration = Duration::from_secs(30);
/// Talks to ALEX (or the sandbox) over HTTPS.
pub struct HttpAlexClient {
    http: reqwest::Client,
    tokens: TokenCache,
    /// FHIR base, e.g. `https://alexapiuat.medtechglobal.com/FHIR`.
    base_url: String,
    /// The same host without `/FHIR`: where `vendorforms/` lives.
    vendor_base: String,
    app_id: Option<String>,
    /// The NHI identifier system (patients are searched and read by it).
    nhi_system: String,
    backend: &'static str,
    /// Set once this ALEX refused the look-up narrowed by `identifier` as
    /// not supported: from then on this process searches by
    /// `patient.identifier` alone, ALEX's documented search.
    documented_search_only: AtomicBool,
}

/// When [`HttpAlexClient::send`] may try again.
#[derive(Clone, Copy)]
enum Retry<'a> {
    /// Reads: retry transient failures.
    Transient,
    /// Creates: retry transient failures, but first look for the earlier
    /// attempt; any failed request may have landed.
    IfNotFiled { resource_type: &'a str, dedupe: &'a Dedupe },
}

/// What a call ended with.
enum Answer {
    Http(StatusCode, HeaderMap, Vec<u8>),
    /// A create's earlier attempt was found filed: nothing was re-posted.
    AlreadyFiled(Created),
}

impl HttpAlexClient {
    /// Builds the client. `base_url` and `token_url` are resolved by the
    /// caller, since the sandbox's depend on where this instance listens.
    pub fn new(
        config: &AlexConfig,
        base_url: String,
        token_url: String,
        backend: &'static str,
    ) -> Result<Self, AlexError> {
        // No redirects: a 307/308 would resend a patient's photo (and our
        // token) to whatever host it names. A 3xx is an error like any other.
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("clinical-images/", env!("CARGO_PKG_VERSION")));
        if let Some(proxy) = &config.https_proxy {
            let proxy = reqwest::Proxy::https(proxy.as_str())
                .map_err(|e| AlexError::Unreachable(format!("bad proxy: {e}")))?;
            builder = builder.proxy(proxy);
        }
        let http = builder.build().map_err(|e| AlexError::Unreachable(e.to_string()))?;
        let tokens = TokenCache::new(TokenSource {
            token_url,
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            scope: config.scope.clone(),
            refresh_early: config.token_refresh_early,
        });
        let base_url = base_url.trim_end_matches('/').to_owned();
        let vendor_base = base_url.strip_suffix("/FHIR").unwrap_or(&base_url).to_owned();
        Ok(Self {
            http,
            tokens,
            base_url,
            vendor_base,
            app_id: config.app_id.clone(),
            nhi_system: config.nhi_system.clone(),
            backend,
            documented_search_only: AtomicBool::new(false),
        })
    }

    /// The FHIR base URL in use.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// One logical call, with the token, refresh and retry rules above.
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&str>,
        ctx: &CallContext,
        retry: Retry<'_>,
    ) -> Result<Answer, AlexError> {
        let started = Instant::now();
        let mut attempt = 0;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let token = self.tokens.get(&self.http).await?;
            let mut req = self
                .http
                .request(method.clone(), url)
                .bearer_auth(token.expose_secret())
                .header("accept", "application/fhir+json")
                .header("mt-facilityid", &ctx.facility_id)
                .header("mt-correlationid", &ctx.correlation_id);
            if let Some(app_id) = &self.app_id {
                req = req.header("mt-appid", app_id);
            }
            if let Some(body) = body {
                req = req.header("content-type", "application/fhir+json").body(body.to_owned());
            }
            let last = attempt >= MAX_ATTEMPTS;
            let sent_at = Instant::now();
            let sent = req.send().await;
            let status =
                sent.as_ref().map(|r| r.status().as_u16().to_string()).unwrap_or_else(|_| "error".into());
            metrics::counter!("alex_calls_total", "status" => status).increment(1);
            metrics::histogram!("alex_call_duration_seconds").record(sent_at.elapsed().as_secs_f64());
            let wait = match sent {
                Ok(res) if res.status() == StatusCode::UNAUTHORIZED && !refreshed => {
                    // The token may have been revoked or expired early: one
                    // fresh try. ALEX refused the call, so nothing was filed.
                    refreshed = true;
                    attempt -= 1;
                    self.tokens.invalidate(&token).await;
                    continue;
                }
                Ok(res) if retryable(res.status()) && !last => {
                    tracing::warn!(status = res.status().as_u16(), attempt, correlation_id = %ctx.correlation_id, "ALEX busy; retrying");
                    retry_after(res.headers()).unwrap_or_else(|| backoff(attempt))
                }
                Ok(res) => {
                    let status = res.status();
                    let headers = res.headers().clone();
                    match res.bytes().await {
                        Ok(bytes) => return Ok(Answer::Http(status, headers, bytes.to_vec())),
                        // The answer was lost on the way: a create may have landed.
                        Err(e) if matches!(retry, Retry::IfNotFiled { .. }) && !last => {
                            tracing::warn!(attempt, correlation_id = %ctx.correlation_id, error = %e.without_url(), "ALEX answer lost; checking");
                            backoff(attempt)
                        }
                        Err(e) => return Err(AlexError::Unreachable(e.without_url().to_string())),
                    }
                }
                Err(e)
                    if !last
                        && (e.is_connect()
                            || e.is_timeout()
                            || matches!(retry, Retry::IfNotFiled { .. })) =>
                {
                    tracing::warn!(attempt, correlation_id = %ctx.correlation_id, error = %e.without_url(), "ALEX unreachable; retrying");
                    backoff(attempt)
                }
                Err(e) => return Err(AlexError::Unreachable(e.without_url().to_string())),
            };
            if started.elapsed() + wait > RETRY_BUDGET {
                return Err(AlexError::Unreachable("retry budget exhausted".into()));
            }
            tokio::time::sleep(wait).await;
            if let Retry::IfNotFiled { resource_type, dedupe } = retry {
                // Not knowing is not "not filed": a failed look stops the create.
                match Box::pin(self.find_filed(resource_type, dedupe, ctx)).await {
                    Ok(Some(found)) => return Ok(Answer::AlreadyFiled(found)),
                    Ok(None) => {}
                    Err(e) => return Err(AlexError::Unconfirmed(Box::new(e))),
                }
            }
        }
    }

    /// A read's status and body, transient failures retried.
    async fn get(&self, url: &str, ctx: &CallContext) -> Result<(StatusCode, Vec<u8>), AlexError> {
        match self.send(Method::GET, url, None, ctx, Retry::Transient).await? {
            Answer::Http(status, _, body) => Ok((status, body)),
            Answer::AlreadyFiled(_) => Err(AlexError::Malformed("a read found a filing".into())),
        }
    }

    async fn get_json(&self, url: &str, ctx: &CallContext) -> Result<Value, AlexError> {
        match self.get(url, ctx).await? {
            (status, body) if status.is_success() => json(&body),
            (status, body) => Err(rejected(status, &body)),
        }
    }

    /// The patient's NHI: from the launch, or read now.
    async fn nhi_of(&self, dedupe: &Dedupe, ctx: &CallContext) -> Result<Option<String>, AlexError> {
        match &dedupe.nhi {
            Some(nhi) => Ok(Some(nhi.clone())),
            None => Ok(self.patient(&dedupe.patient_id, ctx).await?.nhi),
        }
    }
}

fn json(body: &[u8]) -> Result<Value, AlexError> {
    serde_json::from_slice(body).map_err(|e| AlexError::Malformed(format!("{:?}", e.classify())))
}

#[async_trait]
impl AlexClient for HttpAlexClient {
    fn backend(&self) -> &'static str {
        self.backend
    }

    async fn ping(&self) -> Result<(), AlexError> {
        self.tokens.get(&self.http).await.map(|_| ())
    }

    async fn create(
        &self,
        resource: &Resource,
        ctx: &CallContext,
        dedupe: &Dedupe,
    ) -> Result<Created, AlexError> {
        let resource_type = resource.resource_type();
        let body = resource.to_json().map_err(|e| {
            tracing::error!(error = %e, resource_type, "FHIR resource could not be serialised");
            AlexError::Malformed(format!("resource not serialisable: {:?}", e.classify()))
        })?;
        let url = format!("{}/{resource_type}", self.base_url);
        let retry = Retry::IfNotFiled { resource_type, dedupe };
        match self.send(Method::POST, &url, Some(&body), ctx, retry).await? {
            Answer::AlreadyFiled(found) => Ok(found),
            Answer::Http(status, headers, bytes) if status.is_success() => {
                created(resource_type, &headers, &bytes)
            }
            Answer::Http(status, _, bytes) => Err(rejected(status, &bytes)),
        }
    }

    async fn find_filed(
        &self,
        resource_type: &str,
        dedupe: &Dedupe,
        ctx: &CallContext,
    ) -> Result<Option<Created>, AlexError> {
        self.look_up_filed(resource_type, dedupe, ctx).await
    }

    async fn search_by_nhi(
        &self,
        resource_type: &str,
        nhi: &str,
        ctx: &CallContext,
    ) -> Result<Vec<Value>, AlexError> {
        HttpAlexClient::search_by_nhi(self, resource_type, nhi, ctx).await
    }

    async fn attachment(&self, url: &str, ctx: &CallContext) -> Result<Vec<u8>, AlexError> {
        self.read_attachment(url, ctx).await
    }

    async fn patient(&self, patient_id: &str, ctx: &CallContext) -> Result<PatientSummary, AlexError> {
        let p = self.get_json(&format!("{}/Patient/{}", self.base_url, enc(patient_id)), ctx).await?;
        let name = &p["name"][0];
        let given = name["given"]
            .as_array()
            .map(|g| g.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "));
        let full = [given.unwrap_or_default(), name["family"].as_str().unwrap_or("").to_owned()]
            .join(" ")
            .trim()
            .to_owned();
        let nhi = p["identifier"]
            .as_array()
            .and_then(|ids| ids.iter().find(|i| i["system"].as_str() == Some(self.nhi_system.as_str())))
            .and_then(|i| i["value"].as_str())
            .map(str::to_owned);
        Ok(PatientSummary { name: full, nhi })
    }

    async fn launch_context(
        &self,
        context: &str,
        signature: &str,
        ctx: &CallContext,
    ) -> Result<LaunchContext, AlexError> {
        let url = launch_context_url(&self.vendor_base, context, signature)?;
        let value = self.get_json(&url, ctx).await?;
        // Only the kind of error: serde's message could quote a patient field.
        serde_json::from_value(value)
            .map_err(|e| AlexError::Malformed(format!("launch context: {:?}", e.classify())))
    }
}
