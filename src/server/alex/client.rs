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

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::http::{HeaderMap, Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::Value;

use super::token::{TokenCache, TokenSource};
use super::wire::{backoff, created, rejected, retry_after, retryable};
use super::{AlexClient, AlexError, CallContext, Created, Dedupe, LaunchContext, PatientSummary, Resource};
use crate::server::config::AlexConfig;

/// Attempts per call, the first included.
pub const MAX_ATTEMPTS: u32 = 3;
/// No retry starts after this much time has passed since the first attempt.
pub const RETRY_BUDGET: Duration = Duration::from_secs(30);
/// Most search pages read while looking for an earlier attempt.
const MAX_SEARCH_PAGES: usize = 50;

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

/// What a search ended with.
enum Search<T> {
    Found(T),
    Missing,
    /// The server refused the search's parameters as not supported.
    Unsupported(AlexError),
}

/// Whether a refused search was refused for its parameters: 405, or 400 or
/// 422 with an OperationOutcome issue `not-supported` (a strict FHIR
/// server's answer to a search parameter it does not support).
fn unsupported_search(status: StatusCode, body: &[u8]) -> bool {
    match status.as_u16() {
        405 => true,
        400 | 422 => serde_json::from_slice::<Value>(body).is_ok_and(|outcome| {
            outcome["issue"].as_array().into_iter().flatten().any(|i| i["code"] == "not-supported")
        }),
        _ => false,
    }
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

    /// The first entry of a search that `pick` takes, page by page,
    /// following `next` links on this ALEX only (a link elsewhere would carry
    /// our token to another host). Stops at the page that has it, so a
    /// filing is found without reading the rest of a long history. A refusal
    /// of the search's parameters is [`Search::Unsupported`], not an error.
    async fn search_first<T>(
        &self,
        first: String,
        ctx: &CallContext,
        pick: impl Fn(&Value) -> Option<T>,
    ) -> Result<Search<T>, AlexError> {
        let mut url = Some(first);
        let mut pages = 0;
        while let Some(page) = url.take() {
            pages += 1;
            if pages > MAX_SEARCH_PAGES {
                return Err(AlexError::Malformed(format!("search has more than {MAX_SEARCH_PAGES} pages")));
            }
            let bundle = match self.get(&page, ctx).await? {
                (status, body) if status.is_success() => json(&body)?,
                (status, body) if unsupported_search(status, &body) => {
                    return Ok(Search::Unsupported(rejected(status, &body)));
                }
                (status, body) => return Err(rejected(status, &body)),
            };
            if bundle["resourceType"] != "Bundle" {
                return Err(AlexError::Malformed("search answer is not a Bundle".into()));
            }
            if let Some(found) = bundle["entry"].as_array().into_iter().flatten().find_map(&pick) {
                return Ok(Search::Found(found));
            }
            let next = bundle["link"].as_array().into_iter().flatten().find_map(|l| {
                (l["relation"] == "next").then(|| l["url"].as_str().map(str::to_owned)).flatten()
            });
            if let Some(next) = next {
                if !next.starts_with(&format!("{}/", self.base_url)) {
                    return Err(AlexError::Malformed("search's next page is on another host".into()));
                }
                url = Some(next);
            }
        }
        Ok(Search::Missing)
    }
}

fn json(body: &[u8]) -> Result<Value, AlexError> {
    serde_json::from_slice(body).map_err(|e| AlexError::Malformed(format!("{:?}", e.classify())))
}

/// The launch-context call's URL. Each value is one path segment, every
/// byte but letters and digits percent-encoded; a value that is a dot
/// segment (`.`, `..`, or their encodings, which URL parsers resolve
/// alike) is refused, so a launch link can never steer our token to
/// another path of ALEX.
fn launch_context_url(vendor_base: &str, context: &str, signature: &str) -> Result<String, AlexError> {
    let segment = |s: &str| -> Result<String, AlexError> {
        let decoded = s.replace("%2e", ".").replace("%2E", ".");
        if s.is_empty() || decoded.chars().all(|c| c == '.') {
            return Err(AlexError::Malformed("launch value is a dot segment".into()));
        }
        Ok(s.bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect())
    };
    Ok(format!(
        "{vendor_base}/vendorforms/api/getlaunchcontextstring/{}/{}",
        segment(context)?,
        segment(signature)?
    ))
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
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
        // ALEX documents no search for a patient's filings but by NHI; a
        // search by the resource's identifier alone is not one it promises.
        let Some(nhi) = self.nhi_of(dedupe, ctx).await? else {
            return Err(AlexError::NoNhi);
        };
        // The patient's filings: the documented search.
        let documented = format!(
            "{}/{resource_type}?patient.identifier={}",
            self.base_url,
            enc(&format!("{}|{nhi}", self.nhi_system))
        );
        let subject = format!("Patient/{}", dedupe.patient_id);
        let pick = |entry: &Value| {
            let r = &entry["resource"];
            let ours = r["identifier"].as_array().into_iter().flatten().any(|i| {
                i["system"].as_str() == Some(dedupe.system.as_str())
                    && i["value"].as_str() == Some(dedupe.value.as_str())
            });
            let same_patient = r["subject"]["reference"].as_str().is_none_or(|s| s == subject);
            (ours && same_patient).then(|| r["id"].as_str().map(str::to_owned)).flatten()
        };
        let filed = |resource_id| Created { resource_id, etag: None };
        if !self.documented_search_only.load(Ordering::Relaxed) {
            // Narrowed by the resource's own identifier, a standard search
            // parameter of Media and DocumentReference: a patient with years
            // of photos is not read page by page. A server that ignored it
            // would list them all, and the search stops at the page with ours.
            let own = enc(&format!("{}|{}", dedupe.system, dedupe.value));
            match self.search_first(format!("{documented}&identifier={own}"), ctx, &pick).await? {
                Search::Found(id) => return Ok(Some(filed(id))),
                Search::Missing => return Ok(None),
                // A strict server refuses the parameter ALEX does not
                // document: use the documented search, now and from now on.
                Search::Unsupported(e) => {
                    if !self.documented_search_only.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            backend = self.backend,
                            resource_type,
                            correlation_id = %ctx.correlation_id,
                            error = %e,
                            "ALEX refused the look-up search narrowed by identifier; searching by patient.identifier alone from now on"
                        );
                    }
                }
            }
        }
        match self.search_first(documented, ctx, &pick).await? {
            Search::Found(id) => Ok(Some(filed(id))),
            Search::Missing => Ok(None),
            Search::Unsupported(e) => Err(e),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_values_are_single_strictly_encoded_segments() {
        let url = launch_context_url("https://alex.example", "a.b/c?d#e", "s+g=").unwrap();
        assert_eq!(
            url,
            "https://alex.example/vendorforms/api/getlaunchcontextstring/a%2Eb%2Fc%3Fd%23e/s%2Bg%3D"
        );
        let parsed = url::Url::parse(&url).unwrap();
        assert_eq!(parsed.path_segments().unwrap().count(), 5, "no value adds or removes a segment");
        for dots in [".", "..", "%2e%2E", ".%2e", "...", ""] {
            assert!(launch_context_url("https://alex.example", dots, "sig").is_err(), "{dots:?}");
            assert!(launch_context_url("https://alex.example", "ctx", dots).is_err(), "{dots:?}");
        }
    }
    use serde_json::json;

    #[test]
    fn refusals_of_search_parameters_are_recognised() {
        let outcome = |code: &str| {
            json!({"resourceType": "OperationOutcome", "issue": [
                {"severity": "warning", "code": "informational"},
                {"severity": "error", "code": code},
            ]})
            .to_string()
            .into_bytes()
        };
        assert!(unsupported_search(StatusCode::BAD_REQUEST, &outcome("not-supported")));
        assert!(unsupported_search(StatusCode::UNPROCESSABLE_ENTITY, &outcome("not-supported")));
        assert!(unsupported_search(StatusCode::METHOD_NOT_ALLOWED, b""));
        assert!(!unsupported_search(StatusCode::BAD_REQUEST, &outcome("invalid")));
        assert!(!unsupported_search(StatusCode::BAD_REQUEST, b"not json"));
        assert!(!unsupported_search(StatusCode::FORBIDDEN, &outcome("not-supported")));
        assert!(!unsupported_search(StatusCode::INTERNAL_SERVER_ERROR, &outcome("not-supported")));
    }
}
