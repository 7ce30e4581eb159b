//! Medtech ALEX: the FHIR API the app files images through.
//!
//! [`AlexClient`] is the boundary the rest of the server uses; [`HttpAlexClient`]
//! is its one real implementation, pointed either at Medtech or at the
//! [`sandbox`] mounted in this app (embedded mode). Both paths exercise the
//! same HTTP code.

mod client;
pub mod sandbox;
mod token;

use async_trait::async_trait;

pub use self::client::HttpAlexClient;

/// An ALEX call failed. The detail is for logs; GP-facing text is mapped at the API boundary.
#[derive(Debug, thiserror::Error)]
pub enum AlexError {
    /// Network failure, timeout or proxy trouble.
    #[error("ALEX unreachable: {0}")]
    Unreachable(String),
    /// The token endpoint refused our client credentials.
    #[error("ALEX token request refused with HTTP {status}")]
    Auth { status: u16 },
    /// ALEX answered with an unexpected status.
    #[error("ALEX answered HTTP {status}")]
    Status { status: u16 },
    /// ALEX answered with a body we could not read.
    #[error("ALEX answer unreadable: {0}")]
    Malformed(String),
}

/// What the app needs from ALEX.
#[async_trait]
pub trait AlexClient: Send + Sync {
    /// Short backend name for `/healthz`: `sandbox` or `alex`.
    fn backend(&self) -> &'static str;

    /// Proves ALEX is usable: its token endpoint grants us a token.
    async fn ping(&self) -> Result<(), AlexError>;
}
