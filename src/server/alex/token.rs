//! OAuth2 client-credentials tokens, cached and refreshed ahead of expiry.
//!
//! Concurrent callers share one refresh: the cache is an async mutex held for
//! the duration of the token request, so a burst of commits triggers a single
//! grant rather than one each.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::AlexError;

/// Where and how to ask for tokens.
pub struct TokenSource {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub scope: String,
    /// Refresh this long before the token's stated expiry.
    pub refresh_early: Duration,
}

struct Cached {
    token: SecretString,
    refresh_at: Instant,
}

/// A client-credentials token cache.
pub struct TokenCache {
    source: TokenSource,
    cached: Mutex<Option<Cached>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

impl TokenCache {
    pub fn new(source: TokenSource) -> Self {
        Self { source, cached: Mutex::new(None) }
    }

    /// A valid token, from cache or from one shared refresh.
    pub async fn get(&self, http: &reqwest::Client) -> Result<SecretString, AlexError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch(http).await;
        let outcome = if fresh.is_ok() { "ok" } else { "failed" };
        metrics::counter!("alex_token_refreshes_total", "outcome" => outcome).increment(1);
        let fresh = fresh?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Drops `rejected` (ALEX answered 401 to it) so the next `get` refreshes.
    /// A token another caller already replaced is left alone.
    pub async fn invalidate(&self, rejected: &SecretString) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| c.token.expose_secret() == rejected.expose_secret()) {
            *cached = None;
        }
    }

    async fn fetch(&self, http: &reqwest::Client) -> Result<Cached, AlexError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.source.client_id.as_str()),
            ("client_secret", self.source.client_secret.expose_secret()),
            ("scope", self.source.scope.as_str()),
        ];
        let response = http
            .post(&self.source.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| AlexError::Unreachable(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(AlexError::Auth { status: status.as_u16() });
        }
        let parsed: TokenResponse =
            response.json().await.map_err(|e| AlexError::Malformed(e.without_url().to_string()))?;
        let lifetime = Duration::from_secs(parsed.expires_in);
        Ok(Cached {
            token: SecretString::from(parsed.access_token),
            refresh_at: Instant::now() + lifetime.saturating_sub(self.source.refresh_early),
        })
    }
}
