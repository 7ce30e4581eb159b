//! Limits on uploads and on request rates.

use std::time::Duration;

use serde::Deserialize;

use super::vars::Vars;
use super::ConfigError;

/// Limits on uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadConfig {
    /// `UPLOAD_URL_TTL_SECS`: lifetime of a signed upload URL, and of the
    /// reservation behind it (with a short grace for the registration).
    pub url_ttl: Duration,
    /// `UPLOAD_MAX_BYTES`
    pub max_bytes: u64,
    /// `UPLOAD_MAX_PIXELS`: largest width × height registration accepts.
    pub max_pixels: u64,
    /// `MAX_IMAGES_PER_SESSION`
    pub max_images_per_session: usize,
    /// `MAX_PENDING_UPLOADS_PER_PHONE`: reservations one phone may hold
    /// before it registers (or abandons) them.
    pub max_pending_per_phone: usize,
    /// `BLOB_SWEEP_SECS`: how often an instance removes the blobs no live
    /// record points to, in the sessions it presigned uploads for.
    pub sweep_every: Duration,
}

impl UploadConfig {
    /// How long an unregistered reservation holds its slot: the URL's
    /// lifetime plus time to register after a PUT that finished just in time.
    pub fn reservation_ttl(&self) -> Duration {
        self.url_ttl + Duration::from_secs(60)
    }
}

/// Limits on requests, per instance or (with Redis) across instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// `RATE_LIMIT_BURST`: requests one credential may make at once.
    pub burst: u32,
    /// `RATE_LIMIT_PER_SECOND`: sustained requests per second, per credential.
    pub per_second: u32,
    /// `RATE_LIMIT_ADDRESS_BURST`: requests one client address may make at once.
    pub address_burst: u32,
    /// `RATE_LIMIT_ADDRESS_PER_SECOND`: sustained requests per second, per address.
    pub address_per_second: u32,
    /// `TRUST_FORWARDED_FOR`: take the client address from the last
    /// `X-Forwarded-For` entry (set only behind a proxy that writes it).
    pub trust_forwarded_for: bool,
    /// `VERIFY_CONCURRENCY`: uploads verified (decoded) at once on this
    /// instance's blocking pool. Default: the machine's cores.
    pub verify_concurrency: usize,
    /// `VERIFY_QUEUE_SECS`: how long a registration waits for a place to be
    /// verified before it is answered 503 with `Retry-After`.
    pub verify_queue: std::time::Duration,
    /// `EVENT_STREAMS_PER_SESSION`: event streams one session may hold open
    /// on one instance (a desktop holds one per tab); more are refused (429).
    pub streams_per_session: usize,
}

#[derive(Deserialize)]
pub(super) struct Defaults {
    url_ttl_secs: u64,
    max_bytes: u64,
    max_images_per_session: u64,
    max_pending_per_phone: u64,
    sweep_secs: u64,
    rate_limit_burst: u64,
    rate_limit_per_second: u64,
    rate_limit_address_burst: u64,
    rate_limit_address_per_second: u64,
}

pub(super) fn read<F: Fn(&str) -> Option<String>>(
    v: &Vars<F>,
    d: &Defaults,
    pipeline_max_edge: u32,
) -> Result<(UploadConfig, RateLimitConfig), ConfigError> {
    let at_least_one = |var: &'static str, n: u64| {
        if n == 0 {
            Err(ConfigError::Invalid { var, reason: "must be at least 1".into() })
        } else {
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        }
    };
    // What the pipeline can produce (its longest edge, squared: a square
    // photo), with a margin for clients that round up.
    let pipeline_pixels = u64::from(pipeline_max_edge).pow(2) * 3 / 2;
    let uploads = UploadConfig {
        url_ttl: v.secs_or("UPLOAD_URL_TTL_SECS", d.url_ttl_secs)?,
        max_bytes: v.u64_or("UPLOAD_MAX_BYTES", d.max_bytes)?,
        max_pixels: v.u64_or("UPLOAD_MAX_PIXELS", pipeline_pixels)?,
        max_images_per_session: at_least_one(
            "MAX_IMAGES_PER_SESSION",
            v.u64_or("MAX_IMAGES_PER_SESSION", d.max_images_per_session)?,
        )?,
        max_pending_per_phone: at_least_one(
            "MAX_PENDING_UPLOADS_PER_PHONE",
            v.u64_or("MAX_PENDING_UPLOADS_PER_PHONE", d.max_pending_per_phone)?,
        )?,
        sweep_every: v.secs_or("BLOB_SWEEP_SECS", d.sweep_secs)?,
    };
    if uploads.max_pixels < 1_000_000 || uploads.max_pixels > 100_000_000 {
        return Err(ConfigError::Invalid {
            var: "UPLOAD_MAX_PIXELS",
            reason: "must be between 1000000 and 100000000".into(),
        });
    }
    let rate_limit = RateLimitConfig {
        burst: v.u32_or("RATE_LIMIT_BURST", d.rate_limit_burst)?.max(1),
        per_second: v.u32_or("RATE_LIMIT_PER_SECOND", d.rate_limit_per_second)?.max(1),
        address_burst: v.u32_or("RATE_LIMIT_ADDRESS_BURST", d.rate_limit_address_burst)?.max(1),
        address_per_second: v
            .u32_or("RATE_LIMIT_ADDRESS_PER_SECOND", d.rate_limit_address_per_second)?
            .max(1),
        trust_forwarded_for: v.bool_or("TRUST_FORWARDED_FOR", false)?,
        verify_concurrency: at_least_one(
            "VERIFY_CONCURRENCY",
            v.u64_or(
                "VERIFY_CONCURRENCY",
                std::thread::available_parallelism().map_or(2, |n| u64::try_from(n.get()).unwrap_or(2)),
            )?,
        )?,
        verify_queue: v.secs_or("VERIFY_QUEUE_SECS", 10)?,
        streams_per_session: at_least_one(
            "EVENT_STREAMS_PER_SESSION",
            v.u64_or("EVENT_STREAMS_PER_SESSION", 8)?,
        )?,
    };
    Ok((uploads, rate_limit))
}
