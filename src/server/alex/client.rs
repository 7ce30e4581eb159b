//! The HTTP ALEX client: one connection pool, one token cache, bounded retries.
//!
//! - Every call sends `Authorization`, `mt-facilityid`, `mt-correlationid`
//!   and, when configured, `mt-appid`.
//! - A 401 drops the token, refreshes once and retries once.
//! - 429, 502, 503, 504 and connection or timeout errors retry with
//!   exponential backoff and jitter, honouring `Retry-After`, at most
//!   [`MAX_ATTEMPTS`] times and never past [`RETRY_BUDGET`].
//! - Before re-posting a create, the client searches the patient's resources
//!   for the image's identifier, so a lost response never becomes a duplicate.
//! - Other answers are returned as they are; errors become [`AlexError::Rejected`]
//!   carrying the OperationOutcome's code and diagnostics.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::http::{HeaderMap, Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::Value;

use super::token::{TokenCache, TokenSource};
use super::{AlexClient, AlexError, CallContext, Created, Dedupe, LaunchContext, PatientSummary};
use crate::server::config::AlexConfig;

/// Attempts per call, the first included.
pub const MAX_ATTEMPTS: u32 = 3;
/// No retry starts after this much time has passed since the first attempt.
pub const RETRY_BUDGET: Duration = Duration::from_secs(30);
const BASE_BACKOFF: Duration = Duration::from_millis(200);

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
}

fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// `Retry-After` in seconds (ALEX and Azure send seconds, not dates).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = headers.get("retry-after")?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(30)))
}

/// Exponential backoff with up to 50% random jitter.
fn backoff(attempt: u32) -> Duration {
    let base = BASE_BACKOFF * 2u32.saturating_pow(attempt.saturating_sub(1));
    let mut r = [0u8; 2];
    let _ = getrandom::fill(&mut r);
    let jitter = u64::from(u16::from_le_bytes(r)) * (base.as_millis() as u64 / 2) / u64::from(u16::MAX);
    base + Duration::from_millis(jitter)
}

/// Reads an OperationOutcome into an error.
fn rejected(status: StatusCode, body: &[u8]) -> AlexError {
    let outcome: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let issue = &outcome["issue"][0];
    AlexError::Rejected {
        status: status.as_u16(),
        code: issue["code"].as_str().unwrap_or("unknown").to_owned(),
        diagnostics: issue["diagnostics"].as_str().unwrap_or("").chars().take(300).collect(),
    }
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
        let mut builder = reqwest::Client::builder()
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
        })
    }

    /// The FHIR base URL in use.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// One logical call, with the token and refresh rules above, and with
    /// retries when `retry` is set (reads). Creates retry in [`Self::create`],
    /// which first checks whether the earlier attempt landed after all.
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        ctx: &CallContext,
        retry: bool,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>), AlexError> {
        let started = Instant::now();
        let body = body.map(Value::to_string);
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
            if let Some(body) = &body {
                req = req.header("content-type", "application/fhir+json").body(body.clone());
            }
            let wait = match req.send().await {
                Ok(res) if res.status() == StatusCode::UNAUTHORIZED && !refreshed => {
                    // The token may have been revoked or expired early: one fresh try.
                    refreshed = true;
                    attempt -= 1;
                    self.tokens.invalidate(&token).await;
                    continue;
                }
                Ok(res) if retry && retryable(res.status()) && attempt < MAX_ATTEMPTS => {
                    let wait = retry_after(res.headers()).unwrap_or_else(|| backoff(attempt));
                    tracing::warn!(status = res.status().as_u16(), attempt, correlation_id = %ctx.correlation_id, "ALEX busy; retrying");
                    wait
                }
                Ok(res) => {
                    let status = res.status();
                    let headers = res.headers().clone();
                    let bytes =
                        res.bytes().await.map_err(|e| AlexError::Unreachable(e.without_url().to_string()))?;
                    return Ok((status, headers, bytes.to_vec()));
                }
                Err(e) if retry && (e.is_connect() || e.is_timeout()) && attempt < MAX_ATTEMPTS => {
                    tracing::warn!(attempt, correlation_id = %ctx.correlation_id, error = %e.without_url(), "ALEX unreachable; retrying");
                    backoff(attempt)
                }
                Err(e) => return Err(AlexError::Unreachable(e.without_url().to_string())),
            };
            if started.elapsed() + wait > RETRY_BUDGET {
                return Err(AlexError::Unreachable("retry budget exhausted".into()));
            }
            tokio::time::sleep(wait).await;
        }
    }

    async fn get_json(&self, url: &str, ctx: &CallContext) -> Result<Value, AlexError> {
        let (status, _, body) = self.send(Method::GET, url, None, ctx, true).await?;
        if !status.is_success() {
            return Err(rejected(status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| AlexError::Malformed(e.to_string()))
    }
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
        resource_type: &str,
        body: &Value,
        ctx: &CallContext,
        dedupe: Option<&Dedupe>,
    ) -> Result<Created, AlexError> {
        let url = format!("{}/{resource_type}", self.base_url);
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            // A failed attempt may still have landed (a lost response, a
            // gateway error after processing): look before posting again.
            if attempt > 1 {
                if let Some(found) = self.find_existing(resource_type, dedupe, ctx).await {
                    return Ok(found);
                }
            }
            let wait = match self.send(Method::POST, &url, Some(body), ctx, false).await {
                Ok((status, headers, bytes)) if status.is_success() => {
                    return created(resource_type, &headers, &bytes)
                }
                Ok((status, headers, _)) if retryable(status) && attempt < MAX_ATTEMPTS => {
                    tracing::warn!(status = status.as_u16(), attempt, correlation_id = %ctx.correlation_id, "ALEX busy; retrying create");
                    retry_after(&headers).unwrap_or_else(|| backoff(attempt))
                }
                Ok((status, _, bytes)) => return Err(rejected(status, &bytes)),
                Err(AlexError::Unreachable(e)) if attempt < MAX_ATTEMPTS => {
                    tracing::warn!(attempt, correlation_id = %ctx.correlation_id, error = %e, "ALEX unreachable; retrying create");
                    backoff(attempt)
                }
                Err(e) => return Err(e),
            };
            if started.elapsed() + wait > RETRY_BUDGET {
                return Err(AlexError::Unreachable("retry budget exhausted".into()));
            }
            tokio::time::sleep(wait).await;
        }
    }

    async fn find_filed(
        &self,
        resource_type: &str,
        dedupe: &Dedupe,
        ctx: &CallContext,
    ) -> Result<Option<Created>, AlexError> {
        let patient = format!("{}|{}", self.nhi_system, dedupe.nhi);
        let enc: String = url::form_urlencoded::byte_serialize(patient.as_bytes()).collect();
        let bundle = self
            .get_json(&format!("{}/{resource_type}?patient.identifier={enc}", self.base_url), ctx)
            .await?;
        let found = bundle["entry"].as_array().into_iter().flatten().find_map(|entry| {
            let r = &entry["resource"];
            let ours = r["identifier"].as_array().into_iter().flatten().any(|i| {
                i["system"].as_str() == Some(dedupe.system.as_str())
                    && i["value"].as_str() == Some(dedupe.value.as_str())
            });
            ours.then(|| r["id"].as_str().map(str::to_owned)).flatten()
        });
        Ok(found.map(|resource_id| Created { resource_id, etag: None }))
    }

    async fn patient(&self, patient_id: &str, ctx: &CallContext) -> Result<PatientSummary, AlexError> {
        let p = self.get_json(&format!("{}/Patient/{patient_id}", self.base_url), ctx).await?;
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
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let url = format!(
            "{}/vendorforms/api/getlaunchcontextstring/{}/{}",
            self.vendor_base,
            enc(context),
            enc(signature)
        );
        let value = self.get_json(&url, ctx).await?;
        // Only the kind of error: serde's message could quote a patient field.
        serde_json::from_value(value)
            .map_err(|e| AlexError::Malformed(format!("launch context: {:?}", e.classify())))
    }
}

impl HttpAlexClient {
    /// [`AlexClient::find_filed`], with failures logged and treated as "not found".
    async fn find_existing(
        &self,
        resource_type: &str,
        dedupe: Option<&Dedupe>,
        ctx: &CallContext,
    ) -> Option<Created> {
        let dedupe = dedupe?;
        match self.find_filed(resource_type, dedupe, ctx).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(correlation_id = %ctx.correlation_id, error = %e, "could not check for an earlier attempt");
                None
            }
        }
    }
}

/// Reads the id of a created resource: from `Location`
/// (`…/{type}/{id}/_history/{version}`), else from the body.
fn created(resource_type: &str, headers: &HeaderMap, bytes: &[u8]) -> Result<Created, AlexError> {
    let from_location = headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .and_then(|loc| loc.split(&format!("{resource_type}/")).nth(1))
        .and_then(|rest| rest.split('/').next())
        .map(str::to_owned);
    let resource_id = from_location
        .or_else(|| serde_json::from_slice::<Value>(bytes).ok()?["id"].as_str().map(str::to_owned))
        .ok_or_else(|| AlexError::Malformed("created resource has no id".into()))?;
    let etag = headers.get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
    Ok(Created { resource_id, etag })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        for attempt in 1..=3 {
            let b = backoff(attempt);
            let base = BASE_BACKOFF * 2u32.pow(attempt - 1);
            assert!(b >= base && b <= base + base / 2, "{b:?}");
        }
    }

    #[test]
    fn reads_retry_after_seconds() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn operation_outcomes_become_errors() {
        let body = br#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"forbidden","diagnostics":"Practice Facility not found"}]}"#;
        match rejected(StatusCode::FORBIDDEN, body) {
            AlexError::Rejected { status, code, diagnostics } => {
                assert_eq!(
                    (status, code.as_str(), diagnostics.as_str()),
                    (403, "forbidden", "Practice Facility not found")
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
