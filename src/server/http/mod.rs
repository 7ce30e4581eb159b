//! Where a request enters: the router, the layers every request passes, and
//! the routes that are not server functions.

pub mod api_edge; // the `/api` edge: origin check, credential kind, error bodies
pub mod api_error; // the wire error's HTTP status
pub mod assets; // hashed static assets and their cache headers
pub mod blob_routes; // local-disk uploads and downloads through signed URLs
pub mod caller; // who may call a server function: `caller::<Desktop>()`
pub mod event_stream; // a session's events as server-sent events
pub mod health; // liveness, readiness, and closing connections while stopping
pub mod launch; // the Evolution launch: ALEX context to a capture session
pub mod limits; // deadlines, body timeouts and the panic guard
pub mod metrics; // Prometheus counters and the /metrics listener
pub mod router; // `app(state) -> Router`, drivable without a socket
pub mod security; // page headers: CSP with the render's nonce, no-store
pub mod throttle; // per-caller rate limits
