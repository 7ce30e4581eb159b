//! The HTTP ALEX client: one connection pool, one token cache.

use std::time::Duration;

use async_trait::async_trait;

use super::token::{TokenCache, TokenSource};
use super::{AlexClient, AlexError};
use crate::server::config::AlexConfig;

/// Talks to ALEX (or the sandbox) over HTTPS.
pub struct HttpAlexClient {
    http: reqwest::Client,
    tokens: TokenCache,
    base_url: String,
    backend: &'static str,
}

impl HttpAlexClient {
    /// Builds the client. `base_url` and `token_url` are resolved by the
    /// caller, since the sandbox's depend on where this instance listens.
    pub fn new(
        config: &AlexConfig,
        base_url: String,
        token_url: String,
        backend: &'static str,
    ) -> Result<Self, AlexError> {
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("clinical-images/", env!("CARGO_PKG_VERSION")));
        if let Some(proxy) = &config.https_proxy {
            let proxy = reqwest::Proxy::https(proxy.as_str())
                .map_err(|e| AlexError::Unreachable(format!("bad proxy: {e}")))?;
            builder = builder.proxy(proxy);
        }
        let http = builder.build().map_err(|e| AlexError::Unreachable(e.to_string()))?;
        let tokens = TokenCache::new(TokenSource {
            token_url,
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            scope: config.scope.clone(),
        });
        Ok(Self { http, tokens, base_url, backend })
    }

    /// The FHIR base URL in use.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

#[async_trait]
impl AlexClient for HttpAlexClient {
    fn backend(&self) -> &'static str {
        self.backend
    }

    async fn ping(&self) -> Result<(), AlexError> {
        self.tokens.get(&self.http).await.map(|_| ())
    }
}
