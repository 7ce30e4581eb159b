//! `fn app(state) -> Router`: every route and layer, with no socket, so tests
//! can drive it with `oneshot` or serve it on port 0.

use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::routing::get;
use axum::{middleware, Router};
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::trace::TraceLayer;

use super::config::BlobBackend;
use super::signed_url::BLOB_PATH;
use super::state::AppState;
use super::{alex::sandbox, blob_routes, event_stream, health, launch, rate_limit, security};
use crate::app::{shell, App};

/// Builds the whole application.
pub fn app(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();

    let mut router = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/api/medtech/session/events", get(event_stream::events))
        .route("/medtech-images/launch", get(launch::evolution))
        .leptos_routes(&state, routes, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell));

    if state.url_signer.is_some() {
        // The upload handler enforces the signed length itself.
        router = router.route(
            &format!("{BLOB_PATH}/{{*key}}"),
            get(blob_routes::get).put(blob_routes::put).layer(DefaultBodyLimit::disable()),
        );
    }
    if let Some(config) = state.sandbox_config() {
        router = router.nest(sandbox::MOUNT, sandbox::router(sandbox::Sandbox::new(config)));
    }

    let mut router = router
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit::limit))
        .layer(middleware::from_fn_with_state(state.clone(), launch::dev_launch))
        .with_state(state.clone());
    let blob_origin = match &state.config.blobs {
        BlobBackend::S3(s3) => {
            s3.endpoint.as_ref().filter(|u| u.scheme() == "http").map(|u| u.origin().ascii_serialization())
        }
        BlobBackend::LocalDisk { .. } => None,
    };
    for layer in security::header_layers(&state.config.frame_ancestors, blob_origin.as_deref()) {
        router = router.layer(layer);
    }
    // Spans carry the path only: query strings can hold tokens and patient ids.
    router.layer(TraceLayer::new_for_http().make_span_with(
        |req: &Request<_>| tracing::info_span!("http", method = %req.method(), path = %req.uri().path()),
    ))
}
