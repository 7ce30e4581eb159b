//! The typed configuration, read once at start-up.
//!
//! Defaults come from `Leptos.toml` (compiled in); environment variables
//! override them. Every variable is listed in `.env.example`. A bad value fails
//! start-up with an error that names the variable. Secrets are held as
//! `SecretString`s so they cannot be logged by accident. One file per
//! concern (session, uploads, capture, storage, ALEX), each reading its own
//! variables; this one checks the combinations.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

mod alex;
mod capture;
mod session;
mod storage;
mod uploads;
mod vars;

pub use self::alex::{
    AlexConfig, AlexTarget, CommitMode, ScanFormat, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET,
    SANDBOX_FACILITY_ID,
};
pub use self::session::SessionConfig;
pub use self::storage::{
    AuditConfig, BlobBackend, RedisTarget, ReplicaAcks, S3Config, SentinelConfig, SessionBackend,
};
pub use self::uploads::{RateLimitConfig, UploadConfig};
use self::vars::Vars;

/// The compiled-in defaults file.
const DEFAULTS_TOML: &str = include_str!("../../../Leptos.toml");

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is required when {because}")]
    Missing { var: &'static str, because: &'static str },
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
    /// Two settings that are each fine but unsafe together.
    #[error("{0}")]
    Conflict(&'static str),
    #[error("Leptos.toml defaults are invalid: {0}")]
    Defaults(String),
}

/// How long a request may take, and how long its body may stall
/// (`REQUEST_TIMEOUT_SECS`, `REQUEST_BODY_TIMEOUT_SECS`; applied by
/// `http::limits`).
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    pub request: Duration,
    pub body: Duration,
}

/// Everything the server needs to know about its deployment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `PUBLIC_BASE_URL`: origin used in QR links, the S3 CORS rule and the
    /// same-origin check of cookie requests. Required outside embedded mode.
    pub public_base_url: Url,
    /// `DEV_LAUNCH`: allow `/medtech-images?patientId=…`. Only ever with the sandbox.
    pub dev_launch: bool,
    /// `FRAME_ANCESTORS`: CSP `frame-ancestors` sources, for embedding in Evolution.
    pub frame_ancestors: String,
    /// `LOG_FORMAT`: `text` (default) or `json`.
    pub log_json: bool,
    /// `SHUTDOWN_GRACE_SECS`: how long a stopping instance lets requests finish.
    pub shutdown_grace: Duration,
    /// `SHUTDOWN_DRAIN_SECS`: how long a stopping instance goes on accepting
    /// (each answer closing its connection) before it stops listening.
    pub shutdown_drain: Duration,
    /// `METRICS_ADDR`: where `GET /metrics` is served (Prometheus text); unset: nowhere.
    pub metrics_addr: Option<SocketAddr>,
    /// `REQUEST_TIMEOUT_SECS`, `REQUEST_BODY_TIMEOUT_SECS`: how long a
    /// request may take, and how long its body may stall (`http::limits`).
    pub limits: RequestLimits,
    pub session: SessionConfig,
    pub uploads: UploadConfig,
    /// `PIPELINE_*`: what the browser's image pipeline aims for.
    pub pipeline: crate::pipeline::Targets,
    /// `BODY_SITE_TEMPLATES`: the practice's common body sites, offered first.
    pub body_site_templates: Vec<String>,
    /// `COMMIT_RULE`: what an image needs before commit.
    pub commit_rule: crate::model::CommitRule,
    /// `CONSENT_RULE`: whether a photo needs recorded consent to be filed.
    pub consent_rule: crate::model::ConsentRule,
    pub sessions: SessionBackend,
    pub blobs: BlobBackend,
    pub audit: AuditConfig,
    pub alex: AlexConfig,
    pub rate_limit: RateLimitConfig,
}

impl Config {
    /// What the capture pages need to know of the configuration.
    pub fn capture_settings(&self) -> crate::model::CaptureSettings {
        crate::model::CaptureSettings {
            pipeline: self.pipeline,
            body_site_templates: self.body_site_templates.clone(),
            commit_rule: self.commit_rule,
            consent_rule: self.consent_rule,
            commit_target: match self.alex.commit_mode {
                CommitMode::Media => crate::model::CommitTarget::Media,
                CommitMode::Scan => crate::model::CommitTarget::InboxScan,
            },
        }
    }

    /// Embedded mode: sessions in memory, blobs on local disk, the ALEX sandbox.
    pub fn is_embedded(&self) -> bool {
        embedded(&self.sessions, &self.blobs, &self.alex.target)
    }

    /// Whether the public origin is HTTPS (cookies `Secure`, HSTS).
    pub fn https(&self) -> bool {
        self.public_base_url.scheme() == "https"
    }

    /// The prefix of every desktop session cookie's name: `__Host-` over
    /// HTTPS, so no subdomain or plain-HTTP page can set or shadow one. Each
    /// session's cookie is this, `_`, and the session's name
    /// ([`Config::session_cookie_name`]).
    pub fn cookie_name(&self) -> &'static str {
        if self.https() {
            "__Host-ci_session"
        } else {
            "ci_session"
        }
    }

    /// The cookie of the session named `name`: one per capture session, so a
    /// second launch in the same browser never replaces the first's.
    pub fn session_cookie_name(&self, name: &str) -> String {
        format!("{}_{name}", self.cookie_name())
    }

    /// The public origin, as browsers send it in `Origin`.
    pub fn public_origin(&self) -> String {
        self.public_base_url.origin().ascii_serialization()
    }
}

#[derive(Deserialize)]
struct Defaults {
    session: session::Defaults,
    uploads: uploads::Defaults,
    pipeline: capture::PipelineDefaults,
    capture: capture::Defaults,
    storage: storage::Defaults,
    alex: alex::Defaults,
}

impl Config {
    /// Reads the process environment. `site_addr` is where this instance listens.
    pub fn from_env(site_addr: SocketAddr) -> Result<Self, ConfigError> {
        Self::from_lookup(site_addr, |k| std::env::var(k).ok())
    }

    /// Builds the configuration from any variable lookup.
    pub fn from_lookup(
        site_addr: SocketAddr,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let d: Defaults = toml::from_str(DEFAULTS_TOML).map_err(|e| ConfigError::Defaults(e.to_string()))?;
        let v = Vars(lookup);

        let session = session::read(&v, &d.session)?;
        let capture = capture::read(&v, &d.pipeline, &d.capture)?;
        let (uploads, rate_limit) = uploads::read(&v, &d.uploads, capture.pipeline.max_edge)?;
        if capture.pipeline.max_bytes > uploads.max_bytes {
            return Err(ConfigError::Invalid {
                var: "PIPELINE_MAX_BYTES",
                reason: "must be at least 50000 and at most UPLOAD_MAX_BYTES".into(),
            });
        }
        let (sessions, blobs, audit) = storage::read(&v, &d.storage)?;
        let alex = alex::read(&v, &d.alex)?;

        // Embedded mode is all three in-process stand-ins. Anything else is a
        // deployment, which must say where it files and who it is.
        let embedded = embedded(&sessions, &blobs, &alex.target);
        let sandbox_asked = v.bool_or("ALEX_SANDBOX", false)?;
        match (&alex.target, sandbox_asked) {
            (AlexTarget::Remote { .. }, true) => return Err(ConfigError::Conflict(
                "ALEX_SANDBOX=true and ALEX_BASE_URL cannot both be set: choose the sandbox or a real ALEX.",
            )),
            (AlexTarget::Sandbox, false) if !embedded => {
                return Err(ConfigError::Missing {
                    var: "ALEX_BASE_URL",
                    because: "REDIS_URL, REDIS_SENTINELS or S3_BUCKET is set (or set ALEX_SANDBOX=true to file into the \
                              built-in ALEX sandbox, for testing only)",
                })
            }
            _ => {}
        }
        let dev_launch = v.bool_or("DEV_LAUNCH", alex.target == AlexTarget::Sandbox)?;
        if dev_launch && alex.target != AlexTarget::Sandbox {
            return Err(ConfigError::Conflict(
                "DEV_LAUNCH=true cannot be used with ALEX_BASE_URL: the development launch opens a session \
                 for any patient id, so it only runs against the ALEX sandbox.",
            ));
        }

        let public_base_url = match v.url("PUBLIC_BASE_URL")? {
            Some(url) => url,
            None if embedded => Url::parse(&format!("http://{}", loopback_if_unspecified(site_addr)))
                .map_err(|e| ConfigError::Invalid { var: "LEPTOS_SITE_ADDR", reason: e.to_string() })?,
            None => {
                return Err(ConfigError::Missing {
                    var: "PUBLIC_BASE_URL",
                    because: "REDIS_URL, REDIS_SENTINELS, S3_BUCKET or ALEX_BASE_URL is set (it fixes the cookie's Secure \
                              flag, QR links and the allowed origin)",
                })
            }
        };
        let log_json = match v.get("LOG_FORMAT").as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "LOG_FORMAT",
                    reason: format!("expected text or json, got {other:?}"),
                })
            }
        };
        let frame_ancestors = v.get("FRAME_ANCESTORS").unwrap_or_else(|| "'self'".into());
        if !frame_ancestors.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b';') {
            return Err(ConfigError::Invalid {
                var: "FRAME_ANCESTORS",
                reason: "expected space-separated CSP sources (printable ASCII, no ';')".into(),
            });
        }
        let shutdown_grace = v.secs_or("SHUTDOWN_GRACE_SECS", 20)?;
        let shutdown_drain = v.secs_or("SHUTDOWN_DRAIN_SECS", 2)?;
        let limits = RequestLimits {
            request: v.secs_or("REQUEST_TIMEOUT_SECS", 60)?,
            body: v.secs_or("REQUEST_BODY_TIMEOUT_SECS", 20)?,
        };
        if limits.request < alex.timeout || limits.body.is_zero() {
            return Err(ConfigError::Invalid {
                var: "REQUEST_TIMEOUT_SECS",
                reason: "must be at least ALEX_TIMEOUT_SECS, and REQUEST_BODY_TIMEOUT_SECS at least 1".into(),
            });
        }
        let metrics_addr = v
            .get("METRICS_ADDR")
            .map(|a| {
                a.parse::<SocketAddr>().map_err(|_| ConfigError::Invalid {
                    var: "METRICS_ADDR",
                    reason: format!("expected host:port, got {a:?}"),
                })
            })
            .transpose()?;
        if metrics_addr.is_some_and(|m| m.port() == site_addr.port() && m.port() != 0) {
            return Err(ConfigError::Invalid {
                var: "METRICS_ADDR",
                reason: "must not be the public port (LEPTOS_SITE_ADDR)".into(),
            });
        }

        Ok(Config {
            public_base_url,
            dev_launch,
            frame_ancestors,
            log_json,
            shutdown_grace,
            shutdown_drain,
            metrics_addr,
            limits,
            session,
            uploads,
            pipeline: capture.pipeline,
            body_site_templates: capture.body_site_templates,
            commit_rule: capture.commit_rule,
            consent_rule: capture.consent_rule,
            sessions,
            blobs,
            audit,
            alex,
            rate_limit,
        })
    }

    /// Origins allowed to send cookie-authenticated requests: the app's own,
    /// and those `FRAME_ANCESTORS` names (the widget may be embedded).
    pub fn allowed_origins(&self) -> Vec<String> {
        let mut out = vec![self.public_origin()];
        for source in self.frame_ancestors.split_whitespace() {
            if let Ok(url) = Url::parse(source) {
                if matches!(url.scheme(), "http" | "https") && !source.contains('*') {
                    out.push(url.origin().ascii_serialization());
                }
            }
        }
        out
    }
}

/// Embedded mode is all three in-process stand-ins: the one definition.
fn embedded(sessions: &SessionBackend, blobs: &BlobBackend, alex: &AlexTarget) -> bool {
    matches!(sessions, SessionBackend::Memory)
        && matches!(blobs, BlobBackend::LocalDisk { .. })
        && *alex == AlexTarget::Sandbox
}

/// A wildcard bind address is not something a client can connect to.
pub fn loopback_if_unspecified(addr: SocketAddr) -> SocketAddr {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    addr
}

#[cfg(test)]
mod tests;
