//! Logging set-up: `RUST_LOG` picks the level, `LOG_FORMAT=json` the format.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info,aws=warn,hyper=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    // `try_init` so tests that build several apps in one process do not panic.
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
