//! Time limits and the last line against a panic: the layers every request
//! passes, whatever route it takes.
//!
//! - **Deadline** (`REQUEST_TIMEOUT_SECS`, tower-http's `TimeoutLayer`): a
//!   request still unanswered after it gets 503, which the API edge gives
//!   its JSON body and `Retry-After`. Not for the three that are long by
//!   nature: the event stream (open for the session), a commit (files
//!   photos one by one while ALEX takes its time; the GP watches its
//!   progress), and the blob routes (a photo's upload over a slow uplink).
//! - **Body timeout** (`REQUEST_BODY_TIMEOUT_SECS`, `RequestBodyTimeoutLayer`):
//!   a request body that stops arriving for that long fails its read,
//!   answered 408, so a stalled client cannot hold a connection and a
//!   handler. It bounds the gap between chunks, never the whole upload.
//! - **Panics** (`CatchPanicLayer`): a handler that panics answers the same
//!   plain 500 [`ApiError::Internal`] as any internal failure. Only a
//!   panic's literal message is logged: a formatted one may hold data.

use std::any::Any;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::{Layer, ServiceExt};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

use crate::model::ApiError;
pub use crate::server::config::RequestLimits as Limits;
use crate::server::stores::blob::signed_url::BLOB_PATH;

/// Endpoints answered over minutes, not seconds (see the module's notes).
const EVENT_STREAM: &str = "/api/medtech/session/events";
const COMMIT: &str = "/api/medtech/attachments/commit";

/// Whether `path` is exempt from the request deadline.
fn long_by_nature(path: &str) -> bool {
    path == EVENT_STREAM
        || path == COMMIT
        || path.strip_prefix(BLOB_PATH).is_some_and(|rest| rest.starts_with('/'))
}

/// Middleware: the deadline, for every request not long by nature.
async fn deadline(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    if long_by_nature(req.uri().path()) {
        return next.run(req).await;
    }
    let path = req.uri().path().to_owned();
    let timed = TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, limit).layer(next);
    let res = match timed.oneshot(req).await {
        Ok(res) => res,
        Err(never) => match never {},
    };
    if res.status() == StatusCode::SERVICE_UNAVAILABLE && !res.headers().contains_key(header::CONTENT_TYPE) {
        metrics::counter!("http_requests_timed_out_total").increment(1);
        tracing::error!(%path, limit_secs = limit.as_secs_f64(), "request cut at its deadline");
    }
    res
}

/// Adds the deadline to `router`'s routes so far: inside the API edge, so
/// a cut request's 503 gets the edge's body and headers.
pub fn with_deadline<S: Clone + Send + Sync + 'static>(router: Router<S>, limits: Limits) -> Router<S> {
    router.layer(middleware::from_fn_with_state(limits.request, deadline))
}

/// Adds the body timeout and the panic guard: outside everything but the
/// trace, so a panic in any layer is caught and every body read is bounded.
pub fn with_guards<S: Clone + Send + Sync + 'static>(router: Router<S>, limits: Limits) -> Router<S> {
    router.layer(RequestBodyTimeoutLayer::new(limits.body)).layer(CatchPanicLayer::custom(on_panic))
}

fn on_panic(payload: Box<dyn Any + Send + 'static>) -> Response {
    let literal = payload.downcast_ref::<&'static str>().copied().unwrap_or("(formatted message not logged)");
    tracing::error!(panic = literal, "a request handler panicked");
    let mut res = ApiError::Internal.into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Whether reading a body failed because it stopped arriving (the body
/// timeout), rather than for its size or a broken connection.
pub fn timed_out(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::{get, post, put};

    fn limits() -> Limits {
        Limits { request: Duration::from_secs(1), body: Duration::from_millis(100) }
    }

    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(2)).await;
        "done"
    }

    async fn read_body(body: Body) -> Response {
        match axum::body::to_bytes(body, 1 << 20).await {
            Ok(b) => b.len().to_string().into_response(),
            Err(e) if timed_out(&e) => StatusCode::REQUEST_TIMEOUT.into_response(),
            Err(_) => StatusCode::BAD_REQUEST.into_response(),
        }
    }

    fn app() -> Router {
        let routes = Router::new()
            .route("/api/slow", get(slow))
            .route(COMMIT, post(slow))
            .route(EVENT_STREAM, get(slow))
            .route(&format!("{BLOB_PATH}/{{*key}}"), put(slow))
            .route("/api/body", post(read_body))
            .route("/api/panic", get(|| async { panic!("a handler bug") as &str }))
            .route("/api/panic-formatted", get(|| async { panic!("patient {}", "ZZZ0016") as &str }));
        with_guards(with_deadline(routes, limits()), limits())
    }

    async fn call(req: Request) -> (StatusCode, String) {
        let res = app().oneshot(req).await.unwrap();
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn req(method: &str, path: &str) -> Request {
        Request::builder().method(method).uri(path).body(Body::empty()).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_request_is_cut_but_the_long_ones_are_not() {
        assert_eq!(call(req("GET", "/api/slow")).await.0, StatusCode::SERVICE_UNAVAILABLE);
        for (method, path) in
            [("POST", COMMIT), ("GET", EVENT_STREAM), ("PUT", &format!("{BLOB_PATH}/sessions/a/upload-b"))]
        {
            assert_eq!(call(req(method, path)).await, (StatusCode::OK, "done".into()), "{path}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_arriving_fails_its_read() {
        use futures::{SinkExt, StreamExt};
        let (mut tx, body) = futures::channel::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
        tx.send(Ok(b"{\"partial\":".to_vec())).await.unwrap();
        // The sender stays open and silent.
        let req = Request::builder().method("POST").uri("/api/body").body(Body::from_stream(body)).unwrap();
        assert_eq!(call(req).await.0, StatusCode::REQUEST_TIMEOUT);
        drop(tx);
        // A body that keeps arriving, however slowly in all, is read whole.
        let chunks = futures::stream::iter((0..5).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 10]))).then(
            |c| async move {
                tokio::time::sleep(Duration::from_millis(60)).await;
                c
            },
        );
        let req = Request::builder().method("POST").uri("/api/body").body(Body::from_stream(chunks)).unwrap();
        assert_eq!(call(req).await, (StatusCode::OK, "50".into()));
    }

    #[tokio::test]
    async fn a_panic_answers_the_plain_internal_error() {
        for path in ["/api/panic", "/api/panic-formatted"] {
            let (status, body) = call(req("GET", path)).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(serde_json::from_str::<ApiError>(&body).unwrap(), ApiError::Internal);
            assert!(!body.contains("ZZZ0016") && !body.contains("bug"), "{body}");
        }
    }
}
