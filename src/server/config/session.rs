//! Lifetimes of sessions, phone tokens and launch contexts.

use std::time::Duration;

use serde::Deserialize;

use super::vars::Vars;
use super::ConfigError;

/// Lifetimes of sessions and tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// `SESSION_IDLE_TTL_SECS`
    pub idle_ttl: Duration,
    /// `SESSION_MAX_TTL_SECS`
    pub max_ttl: Duration,
    /// `MOBILE_TOKEN_TTL_SECS`: a phone token's sliding idle lifetime.
    pub mobile_token_ttl: Duration,
    /// `MOBILE_TOKEN_MAX_TTL_SECS`: however active, a phone token ends this
    /// long after it was minted.
    pub mobile_token_max_ttl: Duration,
    /// `LAUNCH_MAX_AGE_SECS`: oldest Evolution launch context accepted.
    pub launch_max_age: Duration,
    /// `PHONES_PER_LINK`: phones one QR code may join (each id server-issued).
    pub phones_per_link: usize,
}

#[derive(Deserialize)]
pub(super) struct Defaults {
    idle_ttl_secs: u64,
    max_ttl_secs: u64,
    mobile_token_ttl_secs: u64,
    mobile_token_max_ttl_secs: u64,
    launch_max_age_secs: u64,
    phones_per_link: u64,
}

pub(super) fn read<F: Fn(&str) -> Option<String>>(
    v: &Vars<F>,
    d: &Defaults,
) -> Result<SessionConfig, ConfigError> {
    let session = SessionConfig {
        idle_ttl: v.secs_or("SESSION_IDLE_TTL_SECS", d.idle_ttl_secs)?,
        max_ttl: v.secs_or("SESSION_MAX_TTL_SECS", d.max_ttl_secs)?,
        mobile_token_ttl: v.secs_or("MOBILE_TOKEN_TTL_SECS", d.mobile_token_ttl_secs)?,
        mobile_token_max_ttl: v.secs_or("MOBILE_TOKEN_MAX_TTL_SECS", d.mobile_token_max_ttl_secs)?,
        launch_max_age: v.secs_or("LAUNCH_MAX_AGE_SECS", d.launch_max_age_secs)?,
        phones_per_link: match v.u64_or("PHONES_PER_LINK", d.phones_per_link)? {
            0 => {
                return Err(ConfigError::Invalid {
                    var: "PHONES_PER_LINK",
                    reason: "must be at least 1".into(),
                })
            }
            n => usize::try_from(n).unwrap_or(usize::MAX),
        },
    };
    if session.idle_ttl > session.max_ttl {
        return Err(ConfigError::Invalid {
            var: "SESSION_IDLE_TTL_SECS",
            reason: "must not exceed SESSION_MAX_TTL_SECS".into(),
        });
    }
    if session.mobile_token_ttl > session.mobile_token_max_ttl {
        return Err(ConfigError::Invalid {
            var: "MOBILE_TOKEN_TTL_SECS",
            reason: "must not exceed MOBILE_TOKEN_MAX_TTL_SECS".into(),
        });
    }
    Ok(session)
}
