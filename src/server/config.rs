//! The typed configuration, read once at start-up.
//!
//! Defaults come from `Leptos.toml` (compiled in); environment variables
//! override them. Every variable is listed in `.env.example`. A bad value fails
//! start-up with an error that names the variable. Secrets are held as
//! [`SecretString`] so they cannot be logged by accident.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

/// The compiled-in defaults file.
const DEFAULTS_TOML: &str = include_str!("../../Leptos.toml");

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is required when {because}")]
    Missing { var: &'static str, because: &'static str },
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
    #[error("Leptos.toml defaults are invalid: {0}")]
    Defaults(String),
}

/// Everything the server needs to know about its deployment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `PUBLIC_BASE_URL`: origin used in QR links and the S3 CORS rule.
    pub public_base_url: Url,
    /// `DEV_LAUNCH`: allow `/medtech-images?patientId=…`. On by default only in embedded ALEX mode.
    pub dev_launch: bool,
    /// `FRAME_ANCESTORS`: CSP `frame-ancestors` sources, for embedding in Evolution.
    pub frame_ancestors: String,
    /// `LOG_FORMAT`: `text` (default) or `json`.
    pub log_json: bool,
    pub session: SessionConfig,
    pub uploads: UploadConfig,
    /// `PIPELINE_*`: what the browser's image pipeline aims for.
    pub pipeline: crate::pipeline::Targets,
    /// `BODY_SITE_TEMPLATES`: the practice's common body sites, offered first.
    pub body_site_templates: Vec<String>,
    /// `COMMIT_RULE`: what an image needs before commit.
    pub commit_rule: crate::model::CommitRule,
    pub sessions: SessionBackend,
    pub blobs: BlobBackend,
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
            commit_target: match self.alex.commit_mode {
                CommitMode::Media => crate::model::CommitTarget::Media,
                CommitMode::Scan => crate::model::CommitTarget::InboxScan,
            },
        }
    }
}

/// Limits on token-bearing (phone) requests, per credential and instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// `RATE_LIMIT_BURST`: requests allowed at once.
    pub burst: u32,
    /// `RATE_LIMIT_PER_SECOND`: sustained requests per second.
    pub per_second: u32,
}

/// Lifetimes of sessions and tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// `SESSION_IDLE_TTL_SECS`
    pub idle_ttl: Duration,
    /// `SESSION_MAX_TTL_SECS`
    pub max_ttl: Duration,
    /// `MOBILE_TOKEN_TTL_SECS`
    pub mobile_token_ttl: Duration,
    /// `LAUNCH_MAX_AGE_SECS`: oldest Evolution launch context accepted.
    pub launch_max_age: Duration,
}

/// Limits on uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadConfig {
    /// `UPLOAD_URL_TTL_SECS`
    pub url_ttl: Duration,
    /// `UPLOAD_MAX_BYTES`
    pub max_bytes: u64,
    /// `MAX_IMAGES_PER_SESSION`
    pub max_images_per_session: usize,
}

/// Where capture sessions live.
#[derive(Debug, Clone)]
pub enum SessionBackend {
    /// `REDIS_URL` unset: process memory (embedded mode, one instance only).
    Memory,
    /// `REDIS_URL` set. `REDIS_KEY_PREFIX` namespaces every key.
    Redis { url: SecretString, key_prefix: String },
}

/// Where image blobs live.
#[derive(Debug, Clone)]
pub enum BlobBackend {
    /// `S3_BUCKET` unset: a local directory (`BLOB_DIR`).
    LocalDisk { dir: PathBuf },
    /// `S3_BUCKET` set.
    S3(S3Config),
}

/// Any S3-compatible bucket.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// `S3_BUCKET`
    pub bucket: String,
    /// `S3_ENDPOINT`: unset means AWS itself.
    pub endpoint: Option<Url>,
    /// `S3_REGION`
    pub region: String,
    /// `S3_FORCE_PATH_STYLE`: needed by most non-AWS servers.
    pub force_path_style: bool,
    /// `AWS_ACCESS_KEY_ID`
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`
    pub secret_access_key: SecretString,
    /// `S3_KEY_PREFIX`: namespaces every object key.
    pub key_prefix: String,
    /// `S3_CREATE_BUCKET`: create the bucket at start-up if missing (development, tests).
    pub create_bucket: bool,
}

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
    /// `ALEX_TOKEN_REFRESH_EARLY_SECS`: refresh this long before a token expires.
    pub token_refresh_early: Duration,
    /// `ALEX_SCAN_MAX_BYTES`: largest scan-mode document.
    pub scan_max_bytes: u64,
    /// `ALEX_NHI_SYSTEM`: identifier system of the NHI.
    pub nhi_system: String,
    /// `ALEX_LATERALITY_EXTENSION`: URL of the extension carrying laterality on `bodySite`.
    pub laterality_extension: String,
}

/// Credentials the embedded sandbox accepts; also the client's defaults in sandbox mode.
pub const SANDBOX_CLIENT_ID: &str = "sandbox-client";
/// See [`SANDBOX_CLIENT_ID`]. Not a secret: it only opens the in-process sandbox.
pub const SANDBOX_CLIENT_SECRET: &str = "sandbox-secret";
/// The sandbox's facility, the UAT one from Medtech's seed data.
pub const SANDBOX_FACILITY_ID: &str = "F2N060-E";

#[derive(Deserialize)]
struct Defaults {
    session: SessionDefaults,
    uploads: UploadDefaults,
    pipeline: PipelineDefaults,
    capture: CaptureDefaults,
    storage: StorageDefaults,
    alex: AlexDefaults,
}

#[derive(Deserialize)]
struct SessionDefaults {
    idle_ttl_secs: u64,
    max_ttl_secs: u64,
    mobile_token_ttl_secs: u64,
    launch_max_age_secs: u64,
}

#[derive(Deserialize)]
struct UploadDefaults {
    url_ttl_secs: u64,
    max_bytes: u64,
    max_images_per_session: u64,
    rate_limit_burst: u64,
    rate_limit_per_second: u64,
}

#[derive(Deserialize)]
struct PipelineDefaults {
    max_edge: u64,
    max_bytes: u64,
    min_quality_percent: u64,
}

#[derive(Deserialize)]
struct CaptureDefaults {
    body_site_templates: Vec<String>,
    commit_rule: String,
}

#[derive(Deserialize)]
struct StorageDefaults {
    blob_dir: String,
    redis_key_prefix: String,
    s3_key_prefix: String,
}

#[derive(Deserialize)]
struct AlexDefaults {
    timeout_secs: u64,
    identifier_system: String,
    nhi_system: String,
    laterality_extension: String,
    token_refresh_early_secs: u64,
    scan_max_bytes: u64,
}

/// Reads variables from a lookup function, so tests need not touch the process environment.
struct Vars<F: Fn(&str) -> Option<String>>(F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    fn get(&self, var: &'static str) -> Option<String> {
        (self.0)(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    fn required(&self, var: &'static str, because: &'static str) -> Result<String, ConfigError> {
        self.get(var).ok_or(ConfigError::Missing { var, because })
    }

    fn bool_or(&self, var: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(var).map(|v| v.to_ascii_lowercase()).as_deref() {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(other) => {
                Err(ConfigError::Invalid { var, reason: format!("expected true or false, got {other:?}") })
            }
        }
    }

    fn u64_or(&self, var: &'static str, default: u64) -> Result<u64, ConfigError> {
        match self.get(var) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
                var,
                reason: format!("expected a whole number, got {v:?}"),
            }),
        }
    }

    fn secs_or(&self, var: &'static str, default: u64) -> Result<Duration, ConfigError> {
        match self.u64_or(var, default)? {
            0 => Err(ConfigError::Invalid { var, reason: "must be greater than zero".into() }),
            n => Ok(Duration::from_secs(n)),
        }
    }

    fn url(&self, var: &'static str) -> Result<Option<Url>, ConfigError> {
        self.get(var)
            .map(|v| {
                let url = Url::parse(&v).map_err(|e| ConfigError::Invalid { var, reason: e.to_string() })?;
                match url.scheme() {
                    "http" | "https" => Ok(url),
                    s => Err(ConfigError::Invalid {
                        var,
                        reason: format!("expected an http or https URL, got scheme {s:?}"),
                    }),
                }
            })
            .transpose()
    }
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

        let public_base_url = match v.url("PUBLIC_BASE_URL")? {
            Some(url) => url,
            None => Url::parse(&format!("http://{}", loopback_if_unspecified(site_addr)))
                .map_err(|e| ConfigError::Invalid { var: "LEPTOS_SITE_ADDR", reason: e.to_string() })?,
        };

        let session = SessionConfig {
            idle_ttl: v.secs_or("SESSION_IDLE_TTL_SECS", d.session.idle_ttl_secs)?,
            max_ttl: v.secs_or("SESSION_MAX_TTL_SECS", d.session.max_ttl_secs)?,
            mobile_token_ttl: v.secs_or("MOBILE_TOKEN_TTL_SECS", d.session.mobile_token_ttl_secs)?,
            launch_max_age: v.secs_or("LAUNCH_MAX_AGE_SECS", d.session.launch_max_age_secs)?,
        };
        if session.idle_ttl > session.max_ttl {
            return Err(ConfigError::Invalid {
                var: "SESSION_IDLE_TTL_SECS",
                reason: "must not exceed SESSION_MAX_TTL_SECS".into(),
            });
        }
        let uploads = UploadConfig {
            url_ttl: v.secs_or("UPLOAD_URL_TTL_SECS", d.uploads.url_ttl_secs)?,
            max_bytes: v.u64_or("UPLOAD_MAX_BYTES", d.uploads.max_bytes)?,
            max_images_per_session: usize::try_from(
                v.u64_or("MAX_IMAGES_PER_SESSION", d.uploads.max_images_per_session)?,
            )
            .unwrap_or(usize::MAX),
        };

        let min_quality = v.u64_or("PIPELINE_MIN_QUALITY_PERCENT", d.pipeline.min_quality_percent)?;
        if !(10..=95).contains(&min_quality) {
            return Err(ConfigError::Invalid {
                var: "PIPELINE_MIN_QUALITY_PERCENT",
                reason: "must be between 10 and 95".into(),
            });
        }
        let max_edge = v.u64_or("PIPELINE_MAX_EDGE", d.pipeline.max_edge)?;
        if !(256..=8192).contains(&max_edge) {
            return Err(ConfigError::Invalid {
                var: "PIPELINE_MAX_EDGE",
                reason: "must be 256 to 8192 pixels".into(),
            });
        }
        let pipeline = crate::pipeline::Targets {
            max_edge: max_edge as u32,
            max_bytes: v.u64_or("PIPELINE_MAX_BYTES", d.pipeline.max_bytes)?,
            min_quality: min_quality as f32 / 100.0,
            ..crate::pipeline::Targets::default()
        };
        if pipeline.max_bytes < 50_000 || pipeline.max_bytes > uploads.max_bytes {
            return Err(ConfigError::Invalid {
                var: "PIPELINE_MAX_BYTES",
                reason: "must be at least 50000 and at most UPLOAD_MAX_BYTES".into(),
            });
        }

        let body_site_templates: Vec<String> = match v.get("BODY_SITE_TEMPLATES") {
            Some(list) => list.split(',').map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect(),
            None => d.capture.body_site_templates,
        };
        if let Some(unknown) = body_site_templates.iter().find(|c| crate::model::body_site(c).is_none()) {
            return Err(ConfigError::Invalid {
                var: "BODY_SITE_TEMPLATES",
                reason: format!("{unknown} is not on the verified SNOMED body-site list"),
            });
        }
        let rule = v.get("COMMIT_RULE").unwrap_or(d.capture.commit_rule);
        let commit_rule = crate::model::CommitRule::parse(&rule).ok_or_else(|| ConfigError::Invalid {
            var: "COMMIT_RULE",
            reason: "expected bodySiteOrDescription, bodySite, description or nothing".into(),
        })?;

        let sessions = match v.get("REDIS_URL") {
            None => SessionBackend::Memory,
            Some(url) => {
                if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                    return Err(ConfigError::Invalid {
                        var: "REDIS_URL",
                        reason: "expected a redis:// or rediss:// URL".into(),
                    });
                }
                SessionBackend::Redis {
                    url: SecretString::from(url),
                    key_prefix: v.get("REDIS_KEY_PREFIX").unwrap_or(d.storage.redis_key_prefix),
                }
            }
        };

        let blobs = match v.get("S3_BUCKET") {
            None => {
                BlobBackend::LocalDisk { dir: PathBuf::from(v.get("BLOB_DIR").unwrap_or(d.storage.blob_dir)) }
            }
            Some(bucket) => BlobBackend::S3(S3Config {
                bucket,
                endpoint: v.url("S3_ENDPOINT")?,
                region: v.get("S3_REGION").unwrap_or_else(|| "ap-southeast-2".into()),
                force_path_style: v.bool_or("S3_FORCE_PATH_STYLE", false)?,
                access_key_id: v.required("AWS_ACCESS_KEY_ID", "S3_BUCKET is set")?,
                secret_access_key: v.required("AWS_SECRET_ACCESS_KEY", "S3_BUCKET is set")?.into(),
                key_prefix: v.get("S3_KEY_PREFIX").unwrap_or(d.storage.s3_key_prefix),
                create_bucket: v.bool_or("S3_CREATE_BUCKET", false)?,
            }),
        };

        let commit_mode = match v.get("ALEX_COMMIT_MODE").as_deref() {
            None | Some("media") => CommitMode::Media,
            Some("scan") => CommitMode::Scan,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "ALEX_COMMIT_MODE",
                    reason: format!("expected media or scan, got {other:?}"),
                })
            }
        };
        let scan_format = match v.get("ALEX_SCAN_FORMAT").as_deref() {
            None | Some("pdf") => ScanFormat::Pdf,
            Some("tiff") => ScanFormat::Tiff,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "ALEX_SCAN_FORMAT",
                    reason: format!("expected pdf or tiff, got {other:?}"),
                })
            }
        };
        let common = |target, client_id, client_secret: String, scope, facility_id| {
            Ok::<_, ConfigError>(AlexConfig {
                target,
                client_id,
                client_secret: client_secret.into(),
                scope,
                facility_id,
                commit_mode,
                scan_format,
                app_id: v.get("ALEX_APP_ID"),
                timeout: v.secs_or("ALEX_TIMEOUT_SECS", d.alex.timeout_secs)?,
                https_proxy: v.url("ALEX_HTTPS_PROXY")?,
                identifier_system: v
                    .get("ALEX_IDENTIFIER_SYSTEM")
                    .unwrap_or(d.alex.identifier_system.clone()),
                sandbox_token_lifetime: v.secs_or("ALEX_SANDBOX_TOKEN_LIFETIME_SECS", 3599)?,
                token_refresh_early: Duration::from_secs(
                    v.u64_or("ALEX_TOKEN_REFRESH_EARLY_SECS", d.alex.token_refresh_early_secs)?,
                ),
                scan_max_bytes: v.u64_or("ALEX_SCAN_MAX_BYTES", d.alex.scan_max_bytes)?,
                nhi_system: v.get("ALEX_NHI_SYSTEM").unwrap_or(d.alex.nhi_system.clone()),
                laterality_extension: v
                    .get("ALEX_LATERALITY_EXTENSION")
                    .unwrap_or(d.alex.laterality_extension.clone()),
            })
        };
        let alex = match v.url("ALEX_BASE_URL")? {
            None => common(
                AlexTarget::Sandbox,
                v.get("ALEX_CLIENT_ID").unwrap_or_else(|| SANDBOX_CLIENT_ID.into()),
                v.get("ALEX_CLIENT_SECRET").unwrap_or_else(|| SANDBOX_CLIENT_SECRET.into()),
                v.get("ALEX_SCOPE").unwrap_or_else(|| "api://sandbox/.default".into()),
                v.get("ALEX_FACILITY_ID").unwrap_or_else(|| SANDBOX_FACILITY_ID.into()),
            )?,
            Some(base_url) => {
                const WHY: &str = "ALEX_BASE_URL is set";
                let token_url = v
                    .url("ALEX_TOKEN_URL")?
                    .ok_or(ConfigError::Missing { var: "ALEX_TOKEN_URL", because: WHY })?;
                common(
                    AlexTarget::Remote { base_url, token_url },
                    v.required("ALEX_CLIENT_ID", WHY)?,
                    v.required("ALEX_CLIENT_SECRET", WHY)?,
                    v.required("ALEX_SCOPE", WHY)?,
                    v.required("ALEX_FACILITY_ID", WHY)?,
                )?
            }
        };

        let dev_launch = v.bool_or("DEV_LAUNCH", alex.target == AlexTarget::Sandbox)?;
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

        let rate_limit = RateLimitConfig {
            burst: u32::try_from(v.u64_or("RATE_LIMIT_BURST", d.uploads.rate_limit_burst)?)
                .unwrap_or(u32::MAX),
            per_second: u32::try_from(v.u64_or("RATE_LIMIT_PER_SECOND", d.uploads.rate_limit_per_second)?)
                .unwrap_or(u32::MAX)
                .max(1),
        };

        Ok(Config {
            public_base_url,
            dev_launch,
            frame_ancestors,
            log_json,
            session,
            uploads,
            pipeline,
            body_site_templates,
            commit_rule,
            sessions,
            blobs,
            alex,
            rate_limit,
        })
    }
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
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn addr() -> SocketAddr {
        "0.0.0.0:3000".parse().unwrap()
    }

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(addr(), move |k| map.get(k).cloned())
    }

    #[test]
    fn no_variables_means_fully_embedded() {
        let c = load(&[]).unwrap();
        assert!(matches!(c.sessions, SessionBackend::Memory));
        assert!(matches!(c.blobs, BlobBackend::LocalDisk { .. }));
        assert_eq!(c.alex.target, AlexTarget::Sandbox);
        assert!(c.dev_launch, "embedded mode allows the development launch");
        assert_eq!(c.public_base_url.as_str(), "http://127.0.0.1:3000/");
        assert_eq!(c.session.idle_ttl, Duration::from_secs(1800));
        assert_eq!(c.session.max_ttl, Duration::from_secs(7200));
    }

    #[test]
    fn production_variables_select_external_backends() {
        let c = load(&[
            ("REDIS_URL", "redis://:pw@cache:6379/0"),
            ("S3_BUCKET", "images"),
            ("S3_ENDPOINT", "http://s3.local:9000"),
            ("S3_FORCE_PATH_STYLE", "true"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "shh"),
            ("ALEX_BASE_URL", "https://alexapiuat.medtechglobal.com/FHIR"),
            ("ALEX_TOKEN_URL", "https://login.microsoftonline.com/t/oauth2/v2.0/token"),
            ("ALEX_CLIENT_ID", "id"),
            ("ALEX_CLIENT_SECRET", "secret"),
            ("ALEX_SCOPE", "api://x/.default"),
            ("ALEX_FACILITY_ID", "F2N060-E"),
            ("ALEX_COMMIT_MODE", "scan"),
        ])
        .unwrap();
        assert!(matches!(c.sessions, SessionBackend::Redis { .. }));
        let BlobBackend::S3(s3) = &c.blobs else { panic!("expected S3") };
        assert!(s3.force_path_style);
        assert_eq!(s3.secret_access_key.expose_secret(), "shh");
        assert_eq!(c.alex.commit_mode, CommitMode::Scan);
        assert!(!c.dev_launch, "real ALEX turns the development launch off by default");
    }

    #[test]
    fn errors_name_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("DEV_LAUNCH", "maybe")], "DEV_LAUNCH"),
            (&[("REDIS_URL", "localhost:6379")], "REDIS_URL"),
            (&[("S3_BUCKET", "b")], "AWS_ACCESS_KEY_ID"),
            (&[("ALEX_BASE_URL", "https://alex.example")], "ALEX_TOKEN_URL"),
            (&[("ALEX_COMMIT_MODE", "fax")], "ALEX_COMMIT_MODE"),
            (&[("ALEX_SCAN_FORMAT", "jpeg")], "ALEX_SCAN_FORMAT"),
            (&[("PUBLIC_BASE_URL", "ftp://x")], "PUBLIC_BASE_URL"),
            (&[("SESSION_IDLE_TTL_SECS", "0")], "SESSION_IDLE_TTL_SECS"),
            (&[("SESSION_IDLE_TTL_SECS", "9000")], "SESSION_IDLE_TTL_SECS"),
            (&[("LOG_FORMAT", "xml")], "LOG_FORMAT"),
            (&[("FRAME_ANCESTORS", "'self'; script-src *")], "FRAME_ANCESTORS"),
        ];
        for (vars, name) in cases {
            let err = load(vars).expect_err(name).to_string();
            assert!(err.contains(name), "{err:?} should name {name}");
        }
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let c = load(&[("ALEX_CLIENT_SECRET", "hunter2-very-secret")]).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
