//! Everything that runs only on the server (feature `ssr`).

pub mod alex; // the ALEX FHIR client: where the call to Medtech is made
pub mod app_state; // the one AppState built from the config
pub mod config; // the typed configuration read at start-up
pub mod http; // where a request enters: router, layers, routes
pub mod sandbox; // the embedded ALEX sandbox (development and tests)
pub mod services; // what the app does: sessions, photos, commit, audit
pub mod stores; // where state lives: sessions, blobs, events, rate limits
pub mod support; // clock, ids, telemetry

use std::process::ExitCode;

use leptos::config::get_configuration;

use self::app_state::AppState;
use self::config::Config;

/// Reads configuration, binds, builds the state and serves until Ctrl-C or SIGTERM.
/// With the argument `alex-sandbox`, serves only the ALEX sandbox instead.
pub async fn run() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("alex-sandbox") => return run_sandbox().await,
        Some("audit") => return services::audit::cli(&args[1..]).await,
        _ => {}
    }
    let leptos_options = match get_configuration(None) {
        Ok(conf) => conf.leptos_options,
        Err(e) => {
            eprintln!("configuration error: Leptos options: {e}");
            return ExitCode::from(2);
        }
    };
    let config = match Config::from_env(leptos_options.site_addr) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    support::telemetry::init(config.log_json);

    let addr = leptos_options.site_addr;
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%addr, error = %e, "cannot listen (LEPTOS_SITE_ADDR)");
            return ExitCode::FAILURE;
        }
    };
    let state = match AppState::build(config, leptos_options, &listener).await {
        Ok(state) => state,
        Err(e) => {
            tracing::error!(error = %e, "start-up failed");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        url = %state.config.public_base_url,
        sessions = state.sessions.backend(),
        blobs = state.blobs.backend(),
        alex = state.alex.backend(),
        dev_launch = state.config.dev_launch,
        "Clinical Images is serving"
    );
    // `into_make_service_with_connect_info` finalises the router once
    // (serving the Router itself would rebuild its route table for every
    // connection: about 50 KiB each, measured in BENCHMARKS.md) and gives
    // the rate limiter each connection's peer address.
    if let Some(addr) = state.config.metrics_addr {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => {
                tracing::info!(%addr, "metrics at /metrics");
                tokio::spawn(http::metrics::serve(l, state.clone()));
            }
            Err(e) => {
                tracing::error!(%addr, error = %e, "cannot listen for metrics (METRICS_ADDR)");
                return ExitCode::FAILURE;
            }
        }
    }
    let grace = state.config.shutdown_grace;
    let (stopping_tx, stopping) = tokio::sync::oneshot::channel::<()>();
    let on_signal = {
        let state = state.clone();
        async move {
            shutdown_signal().await;
            // Event streams end now (their clients reconnect elsewhere) and
            // readiness fails. For the drain, requests are still accepted,
            // each answer closing its connection (health::close_when_stopping),
            // so a proxy's pooled connections end with an answer, never under
            // a request it must not resend. Then listening stops, and open
            // requests get the grace period to finish.
            state.begin_shutdown();
            tokio::time::sleep(state.config.shutdown_drain).await;
            let _ = stopping_tx.send(());
        }
    };
    let app = http::router::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app).with_graceful_shutdown(on_signal);
    let deadline = async {
        if stopping.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        served = served => match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "server stopped with an error");
                ExitCode::FAILURE
            }
        },
        () = deadline => {
            tracing::warn!(grace_secs = grace.as_secs(), "requests still open after the shutdown grace; stopping anyway");
            ExitCode::SUCCESS
        }
    }
}

/// `clinical-images alex-sandbox`: the sandbox alone on `ALEX_SANDBOX_ADDR`
/// (default 127.0.0.1:3100), for tests and for several app instances to share.
async fn run_sandbox() -> ExitCode {
    let addr = std::env::var("ALEX_SANDBOX_ADDR").unwrap_or_else(|_| "127.0.0.1:3100".into());
    let Ok(addr) = addr.parse::<std::net::SocketAddr>() else {
        eprintln!("configuration error: ALEX_SANDBOX_ADDR is not a socket address");
        return ExitCode::from(2);
    };
    let config = match Config::from_env(addr) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    support::telemetry::init(config.log_json);
    let sandbox = sandbox::Sandbox::new(sandbox::SandboxConfig::from_config(&config));
    let app = axum::Router::new().nest(sandbox::MOUNT, sandbox::router(sandbox));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%addr, error = %e, "cannot listen (ALEX_SANDBOX_ADDR)");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(url = %format!("http://{addr}{}", sandbox::MOUNT), "ALEX sandbox is serving");
    match axum::serve(listener, app.into_make_service()).with_graceful_shutdown(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
