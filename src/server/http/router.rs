//! `fn app(state) -> Router`: every route and layer, with no socket, so tests
//! can drive it with `oneshot` or serve it on port 0.

use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::routing::get;
use axum::{middleware, Router};
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::trace::TraceLayer;

use crate::app::{shell, App};
use crate::server::app_state::AppState;
use crate::server::sandbox;
use crate::server::stores::blob::signed_url::BLOB_PATH;
use crate::server::{
    http::api_edge, http::assets, http::blob_routes, http::event_stream, http::health, http::launch,
    http::limits, http::security, http::throttle,
};

/// Builds the whole application.
pub fn app(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();

    let mut router = Router::new()
        .route("/healthz", get(health::readyz))
        .route("/readyz", get(health::readyz))
        .route("/livez", get(health::livez))
        .route("/api/medtech/session/events", get(event_stream::events))
        .route("/medtech-images/launch", get(launch::evolution))
        .leptos_routes_with_context(&state, routes, security::record_page_nonce, {
            let options = options.clone();
            move || shell(options.clone())
        })
        // Static files, else the not-found page: rendered like any page, so
        // with the same headers (without them its scripts, which carry a
        // nonce, would be refused and it would never hydrate).
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(
            security::record_page_nonce,
            shell,
        ));

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

    // Outermost first on the way in: the panic guard and body timeout, rate
    // limits, the API edge, the deadline, the development launch, the routes.
    let router = router.layer(middleware::from_fn_with_state(state.clone(), launch::dev_launch));
    let mut router = limits::with_deadline(router, state.config.limits)
        .layer(middleware::from_fn_with_state(state.clone(), api_edge::edge))
        .layer(middleware::from_fn_with_state(state.clone(), throttle::limit))
        .layer(middleware::from_fn_with_state(state.clone(), security::page_headers))
        .with_state(state.clone());
    for layer in security::header_layers(&state.config) {
        router = router.layer(layer);
    }
    let router = router
        .layer(middleware::from_fn_with_state(state.clone(), assets::cache_headers))
        .layer(middleware::from_fn_with_state(state.clone(), health::close_when_stopping))
        .layer(middleware::from_fn(crate::server::http::metrics::http));
    let router = limits::with_guards(router, state.config.limits);
    // Spans carry the path only: query strings can hold tokens and patient ids.
    router.layer(TraceLayer::new_for_http().make_span_with(
        |req: &Request<_>| tracing::info_span!("http", method = %req.method(), path = %req.uri().path()),
    ))
}
