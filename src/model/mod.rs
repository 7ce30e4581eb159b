//! Types shared by the server and the browser: what crosses the wire.
//!
//! Nothing here does I/O; everything serialises with serde.

mod error;
mod health;
mod session;

pub use error::ApiError;
pub use health::{DependencyReport, HealthReport, Mode};
pub use session::{DesktopSession, LaunchProblem, MobileLink, SessionSummary, TokenProblem};
