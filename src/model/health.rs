//! The `/healthz` report and the status summary shown on the landing page.

use serde::{Deserialize, Serialize};

/// How the running instance is wired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Everything in-process: memory sessions, local-disk blobs, the ALEX sandbox.
    Embedded,
    /// Redis, S3 and the real ALEX: the stateless, horizontally scalable shape.
    Production,
    /// Some dependencies external, some embedded (typical of tests and staging).
    Mixed,
}

/// The state of one dependency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyReport {
    /// Which backend serves it, e.g. `memory`, `redis`, `local-disk`, `s3`, `sandbox`, `alex`.
    pub backend: String,
    /// Whether the last check succeeded.
    pub ok: bool,
    /// A short operator-facing summary; never credentials or internal error text.
    pub detail: String,
}

/// The whole report served by `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    pub mode: Mode,
    /// `ok` when every dependency is usable, `degraded` otherwise.
    pub status: String,
    pub version: String,
    pub session_store: DependencyReport,
    pub blob_store: DependencyReport,
    pub alex: DependencyReport,
}

impl HealthReport {
    /// Whether every dependency answered.
    pub fn is_usable(&self) -> bool {
        self.session_store.ok && self.blob_store.ok && self.alex.ok
    }
}
