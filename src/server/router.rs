//! `fn app(state) -> Router`: every route and layer, with no socket, so tests
//! can drive it with `oneshot` or serve it on port 0.

use axum::http::Request;
use axum::routing::get;
use axum::{middleware, Router};
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::trace::TraceLayer;

use super::state::AppState;
use super::{alex::sandbox, health, launch, security};
use crate::app::{shell, App};

/// Builds the whole application.
pub fn app(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();

    let mut router = Router::new()
        .route("/healthz", get(health::healthz))
        .leptos_routes(&state, routes, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell));

    if let Some(config) = state.sandbox_config() {
        router = router.nest(sandbox::MOUNT, sandbox::router(config));
    }

    let mut router = router
        .layer(middleware::from_fn_with_state(
            state.clone(),
            launch::dev_launch,
        ))
        .with_state(state.clone());
    for layer in security::header_layers(&state.config.frame_ancestors) {
        router = router.layer(layer);
    }
    // Spans carry the path only: query strings can hold tokens and patient ids.
    router.layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
        tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
    }))
}
