//! Which ALEX the app files into, with what credentials and rules.

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use super::vars::Vars;
use super::ConfigError;

/// Which ALEX the app talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlexTarget {
    /// `ALEX_BASE_URL` unset: the sandbox mounted in this app.
    Sandbox,
    /// `ALEX_BASE_URL` set: Medtech's ALEX (UAT or production).
    Remote { base_url: Url, token_url: Url },
}

/// How images are filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitMode {
    /// `POST /Media` with the JPEG.
    Media,
    /// `POST /DocumentReference` with a PDF, into the Inbox Scan folder.
    Scan,
}

/// The document format of scan mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanFormat {
    /// One captioned A4 page (default).
    Pdf,
    /// Deflate-compressed TIFF with the caption in its description tag.
    Tiff,
}

/// The ALEX client's settings.
#[derive(Debug, Clone)]
pub struct AlexConfig {
    pub target: AlexTarget,
    /// `ALEX_CLIENT_ID`
    pub client_id: String,
    /// `ALEX_CLIENT_SECRET`
    pub client_secret: SecretString,
    /// `ALEX_SCOPE`
    pub scope: String,
    /// `ALEX_FACILITY_ID`: default `mt-facilityid` when a launch names none.
    pub facility_id: String,
    /// `ALEX_COMMIT_MODE`: `media` (default) or `scan`.
    pub commit_mode: CommitMode,
    /// `ALEX_SCAN_FORMAT`: `pdf` (default) or `tiff`, for scan mode.
    pub scan_format: ScanFormat,
    /// `ALEX_APP_ID`: sent as `mt-appid` when set.
    pub app_id: Option<String>,
    /// `ALEX_TIMEOUT_SECS`
    pub timeout: Duration,
    /// `ALEX_HTTPS_PROXY`: egress proxy with the allow-listed static IP.
    pub https_proxy: Option<Url>,
    /// `ALEX_IDENTIFIER_SYSTEM`: system of each image's stable identifier.
    pub identifier_system: String,
    /// `ALEX_SANDBOX_TOKEN_LIFETIME_SECS`: lifetime of tokens the sandbox issues.
    pub sandbox_token_lifetime: Duration,
    /// `ALEX_SANDBOX_STRICT_SEARCH`: the sandbox refuses search parameters
    /// ALEX does not document (400 `not-supported`), as a strict FHIR server would.
    pub sandbox_strict_search: bool,
    /// `ALEX_TOKEN_REFRESH_EARLY_SECS`: refresh this long before a token expires.
    pub token_refresh_early: Duration,
    /// `ALEX_SCAN_MAX_BYTES`: largest scan-mode document.
    pub scan_max_bytes: u64,
    /// `ALEX_NHI_SYSTEM`: identifier system of the NHI.
    pub nhi_system: String,
    /// `ALEX_LATERALITY_EXTENSION`: URL of the extension carrying laterality on `bodySite`.
    pub laterality_extension: String,
    /// `COMMIT_CLAIM_TTL_SECS`: lifetime of an image's claim, renewed every
    /// third of it while its holder works. Short (default 15 s), so a claim
    /// whose holder died (an instance killed mid-commit) frees its photo soon.
    pub commit_claim_ttl: Duration,
    /// `ALEX_COMMIT_BUDGET_SECS`: the most one image's whole ALEX exchange
    /// (patient read, look for an earlier filing, POST with retries) may
    /// take. Default 90 s; the claim is renewed all along.
    pub commit_budget: Duration,
}

/// Credentials the embedded sandbox accepts; also the client's defaults in sandbox mode.
pub const SANDBOX_CLIENT_ID: &str = "sandbox-client";
/// See [`SANDBOX_CLIENT_ID`]. Not a secret: it only opens the in-process sandbox.
pub const SANDBOX_CLIENT_SECRET: &str = "sandbox-secret";
/// The sandbox's facility, the UAT one from Medtech's seed data.
pub const SANDBOX_FACILITY_ID: &str = "F2N060-E";

#[derive(Deserialize)]
pub(super) struct Defaults {
    timeout_secs: u64,
    identifier_system: String,
    nhi_system: String,
    laterality_extension: String,
    token_refresh_early_secs: u64,
    scan_max_bytes: u64,
}

fn choice<T: Copy, F: Fn(&str) -> Option<String>>(
    v: &Vars<F>,
    var: &'static str,
    options: &[(&str, T)],
) -> Result<T, ConfigError> {
    match v.get(var) {
        None => Ok(options[0].1),
        Some(value) => options.iter().find(|(name, _)| *name == value).map(|(_, t)| *t).ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            ConfigError::Invalid { var, reason: format!("expected {}, got {value:?}", names.join(" or ")) }
        }),
    }
}

/// ALEX carries patients' photos and our credentials: plain `http` only to
/// this machine (a sandbox or a test), never across a network.
fn https_unless_loopback(var: &'static str, url: &Url) -> Result<(), ConfigError> {
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if url.scheme() == "https" || loopback {
        Ok(())
    } else {
        Err(ConfigError::Invalid { var, reason: "must be https (plain http only to loopback)".into() })
    }
}

pub(super) fn read<F: Fn(&str) -> Option<String>>(
    v: &Vars<F>,
    d: &Defaults,
) -> Result<AlexConfig, ConfigError> {
    let commit_mode =
        choice(v, "ALEX_COMMIT_MODE", &[("media", CommitMode::Media), ("scan", CommitMode::Scan)])?;
    let scan_format = choice(v, "ALEX_SCAN_FORMAT", &[("pdf", ScanFormat::Pdf), ("tiff", ScanFormat::Tiff)])?;
    let (target, client_id, client_secret, scope, facility_id) = match v.url("ALEX_BASE_URL")? {
        None => (
            AlexTarget::Sandbox,
            v.get("ALEX_CLIENT_ID").unwrap_or_else(|| SANDBOX_CLIENT_ID.into()),
            v.get("ALEX_CLIENT_SECRET").unwrap_or_else(|| SANDBOX_CLIENT_SECRET.into()),
            v.get("ALEX_SCOPE").unwrap_or_else(|| "api://sandbox/.default".into()),
            v.get("ALEX_FACILITY_ID").unwrap_or_else(|| SANDBOX_FACILITY_ID.into()),
        ),
        Some(base_url) => {
            const WHY: &str = "ALEX_BASE_URL is set";
            let token_url = v
                .url("ALEX_TOKEN_URL")?
                .ok_or(ConfigError::Missing { var: "ALEX_TOKEN_URL", because: WHY })?;
            https_unless_loopback("ALEX_BASE_URL", &base_url)?;
            https_unless_loopback("ALEX_TOKEN_URL", &token_url)?;
            (
                AlexTarget::Remote { base_url, token_url },
                v.required("ALEX_CLIENT_ID", WHY)?,
                v.required("ALEX_CLIENT_SECRET", WHY)?,
                v.required("ALEX_SCOPE", WHY)?,
                v.required("ALEX_FACILITY_ID", WHY)?,
            )
        }
    };
    let commit_claim_ttl = v.secs_or("COMMIT_CLAIM_TTL_SECS", 15)?;
    let commit_budget = v.secs_or("ALEX_COMMIT_BUDGET_SECS", 90)?;
    Ok(AlexConfig {
        target,
        client_id,
        client_secret: client_secret.into(),
        scope,
        facility_id,
        commit_mode,
        scan_format,
        app_id: v.get("ALEX_APP_ID"),
        timeout: v.secs_or("ALEX_TIMEOUT_SECS", d.timeout_secs)?,
        https_proxy: v.url("ALEX_HTTPS_PROXY")?,
        identifier_system: v.get("ALEX_IDENTIFIER_SYSTEM").unwrap_or_else(|| d.identifier_system.clone()),
        sandbox_token_lifetime: v.secs_or("ALEX_SANDBOX_TOKEN_LIFETIME_SECS", 3599)?,
        sandbox_strict_search: v.bool_or("ALEX_SANDBOX_STRICT_SEARCH", false)?,
        token_refresh_early: Duration::from_secs(
            v.u64_or("ALEX_TOKEN_REFRESH_EARLY_SECS", d.token_refresh_early_secs)?,
        ),
        scan_max_bytes: v.u64_or("ALEX_SCAN_MAX_BYTES", d.scan_max_bytes)?,
        nhi_system: v.get("ALEX_NHI_SYSTEM").unwrap_or_else(|| d.nhi_system.clone()),
        laterality_extension: v
            .get("ALEX_LATERALITY_EXTENSION")
            .unwrap_or_else(|| d.laterality_extension.clone()),
        commit_claim_ttl,
        commit_budget,
    })
}
