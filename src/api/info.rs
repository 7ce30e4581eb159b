//! `/api/info` and `/api/status`: what the landing page shows.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

use crate::model::{ApiError, HealthReport};

/// Facts about this instance that need no I/O.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub version: String,
    /// The ALEX sandbox is mounted (embedded mode): link to its launcher.
    pub sandbox: bool,
    /// The development launch is allowed.
    pub dev_launch: bool,
    /// The sandbox's test patients, for the landing page's launcher: `(id, label)`.
    pub test_patients: Vec<(String, String)>,
}

/// `POST /api/info` → [`AppInfo`].
#[server(name = AppInfoCall, prefix = "/api", endpoint = "info", input = Json)]
pub async fn app_info() -> Result<AppInfo, ApiError> {
    use crate::server::http::caller::{caller, Anyone, Caller};

    let Caller { state, .. } = caller::<Anyone>().await?;
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        sandbox: state.sandbox_config().is_some(),
        dev_launch: state.config.dev_launch,
        test_patients: state
            .sandbox_config()
            .map(|_| {
                crate::server::sandbox::PATIENTS
                    .iter()
                    .map(|p| (p.id.to_owned(), format!("{} {} ({})", p.given, p.family, p.nhi)))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// `POST /api/status` → the metrics listener's health report, for the
/// landing page of an instance with the sandbox mounted (development and
/// demonstration). Elsewhere 404: a deployment's backends are nobody's business.
#[server(prefix = "/api", endpoint = "status", input = Json)]
pub async fn service_status() -> Result<HealthReport, ApiError> {
    use crate::server::http::caller::{caller, Anyone, Caller};

    let Caller { state, .. } = caller::<Anyone>().await?;
    if state.sandbox_config().is_none() {
        return Err(ApiError::NotFound);
    }
    Ok(crate::server::http::health::report(&state).await)
}
