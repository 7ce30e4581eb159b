//! The one application state, built once at start-up from [`Config`].

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio::net::TcpListener;

use crate::server::alex::{AlexClient, AlexError, HttpAlexClient};
use crate::server::config::{loopback_if_unspecified, AlexTarget, BlobBackend, Config, SessionBackend};
use crate::server::sandbox;
use crate::server::stores::blob::signed_url::UrlSigner;
use crate::server::stores::blob::{BlobStore, LocalBlobStore, S3BlobStore};
use crate::server::stores::events::{EventBus, MemoryEventBus, RedisEventBus};
use crate::server::stores::rate_limit::{MemoryRateLimiter, RateLimiter, RedisRateLimiter};
use crate::server::stores::redis_conn::RedisConn;
use crate::server::stores::session_store::{MemorySessionStore, RedisSessionStore, SessionStore};
use crate::server::stores::StoreError;

/// Shared by every handler and server function (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    /// The built site's hashed names and caching.
    pub assets: Arc<crate::server::http::assets::Assets>,
    pub config: Arc<Config>,
    pub sessions: Arc<dyn SessionStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub events: Arc<dyn EventBus>,
    pub alex: Arc<dyn AlexClient>,
    /// Signs local-disk blob URLs; `None` with S3, which signs its own.
    pub url_signer: Option<Arc<UrlSigner>>,
    /// Limits requests per client address and per credential.
    pub rate_limiter: Arc<dyn RateLimiter>,
    /// Places for verifying (decoding) an upload at once on this instance.
    pub verify_slots: Arc<tokio::sync::Semaphore>,
    /// Uploads this instance has verified (decoded): a registration's cost.
    pub verifications: Arc<std::sync::atomic::AtomicU64>,
    /// The event streams each session holds open on this instance.
    pub streams: Arc<crate::server::http::event_stream::StreamSlots>,
    /// The last readiness check, reused by `/readyz` for a second.
    pub readiness: Arc<crate::server::http::health::Readiness>,
    /// The sessions whose blobs this instance sweeps for orphans.
    pub sweeps: Arc<crate::server::services::sweep::Sweeps>,
    /// Origins allowed to send cookie-authenticated requests.
    pub allowed_origins: Arc<Vec<String>>,
    /// Becomes `true` when the server starts shutting down (event streams end).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    shutdown_tx: Arc<tokio::sync::watch::Sender<bool>>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Start-up could not complete.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("session store: {0}")]
    SessionStore(StoreError),
    #[error("blob store: {0}")]
    BlobStore(StoreError),
    #[error("ALEX client: {0}")]
    Alex(#[from] AlexError),
    #[error("listener: {0}")]
    Listener(#[from] std::io::Error),
    #[error("site: {0}")]
    Site(String),
}

impl AppState {
    /// Connects the stores and the ALEX client. `listener` tells the embedded
    /// sandbox's address (the app calls its own sandbox over HTTP).
    pub async fn build(
        config: Config,
        leptos_options: LeptosOptions,
        listener: &TcpListener,
    ) -> Result<Self, StartupError> {
        let assets =
            Arc::new(crate::server::http::assets::Assets::load(&leptos_options).map_err(StartupError::Site)?);
        // One Redis connection for the instance, shared by every Redis store,
        // so a failover moves them all at once.
        let redis = match &config.sessions {
            SessionBackend::Memory => None,
            SessionBackend::Redis { target, key_prefix, acks } => Some((
                RedisConn::connect(target, *acks).await.map_err(StartupError::SessionStore)?,
                key_prefix.clone(),
            )),
        };
        let (sessions, events, rate_limiter): (
            Arc<dyn SessionStore>,
            Arc<dyn EventBus>,
            Arc<dyn RateLimiter>,
        ) = match &redis {
            None => (
                Arc::new(MemorySessionStore::new()),
                Arc::new(MemoryEventBus::new()),
                Arc::new(MemoryRateLimiter::new()),
            ),
            Some((conn, prefix)) => (
                Arc::new(RedisSessionStore::on(conn.clone(), prefix.clone())),
                Arc::new(
                    RedisEventBus::on(conn.clone(), prefix.clone())
                        .await
                        .map_err(StartupError::SessionStore)?,
                ),
                Arc::new(RedisRateLimiter::on(conn.clone(), prefix.clone())),
            ),
        };
        let origin = config.public_origin();
        let (blobs, url_signer): (Arc<dyn BlobStore>, _) = match &config.blobs {
            BlobBackend::LocalDisk { dir } => {
                let signer = Arc::new(UrlSigner::new(&origin));
                let store = Arc::new(
                    LocalBlobStore::open(dir, signer.clone()).await.map_err(StartupError::BlobStore)?,
                );
                // Sessions last hours; a day-old blob was never committed or removed.
                store.clone().spawn_sweeper(Duration::from_secs(600), Duration::from_secs(86_400));
                (store as Arc<dyn BlobStore>, Some(signer))
            }
            BlobBackend::S3(s3) => {
                let store = S3BlobStore::new(s3);
                if s3.create_bucket {
                    store.ensure_bucket().await.map_err(StartupError::BlobStore)?;
                }
                // Browsers upload straight to the bucket, so it must allow
                // our origin. Some deployments manage CORS and lifecycle
                // themselves and deny us the permission: warn, don't fail.
                if let Err(e) = store.configure_bucket(&origin).await {
                    tracing::warn!(error = %e, "could not set the bucket's CORS and lifecycle rules");
                }
                (Arc::new(store), None)
            }
        };
        let alex: Arc<dyn AlexClient> = Arc::new(match &config.alex.target {
            AlexTarget::Sandbox => {
                let origin = format!("http://{}", loopback_if_unspecified(listener.local_addr()?));
                HttpAlexClient::new(
                    &config.alex,
                    format!("{origin}{}/FHIR", sandbox::MOUNT),
                    format!("{origin}{}/oauth2/v2.0/token", sandbox::MOUNT),
                    "sandbox",
                )?
            }
            AlexTarget::Remote { base_url, token_url } => HttpAlexClient::new(
                &config.alex,
                base_url.as_str().trim_end_matches('/').to_owned(),
                token_url.to_string(),
                "alex",
            )?,
        });
        let allowed_origins = Arc::new(config.allowed_origins());
        let (shutdown_tx, shutdown) = tokio::sync::watch::channel(false);
        let verify_slots = Arc::new(tokio::sync::Semaphore::new(config.rate_limit.verify_concurrency));
        let state = Self {
            leptos_options,
            assets,
            config: Arc::new(config),
            sessions,
            blobs,
            events,
            alex,
            url_signer,
            rate_limiter,
            streams: Arc::default(),
            readiness: Arc::default(),
            sweeps: Arc::default(),
            verify_slots,
            verifications: Arc::default(),
            allowed_origins,
            shutdown,
            shutdown_tx: Arc::new(shutdown_tx),
        };
        crate::server::services::sweep::spawn(state.clone(), state.config.uploads.sweep_every);
        Ok(state)
    }

    /// Tells long-lived responses (event streams) that this instance is stopping.
    pub fn begin_shutdown(&self) {
        self.shutdown_tx.send_replace(true);
    }

    /// Whether SIGTERM has come: the instance is draining.
    pub fn is_stopping(&self) -> bool {
        *self.shutdown_tx.borrow()
    }

    /// The sandbox's settings, when this instance mounts it.
    pub fn sandbox_config(&self) -> Option<sandbox::SandboxConfig> {
        (self.config.alex.target == AlexTarget::Sandbox)
            .then(|| sandbox::SandboxConfig::from_config(&self.config))
    }
}
