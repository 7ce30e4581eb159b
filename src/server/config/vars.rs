//! Reading variables from a lookup function, so tests need not touch the
//! process environment. Every reader names the variable in its error.

use std::time::Duration;

use url::Url;

use super::ConfigError;

/// The variables, through any lookup (`std::env::var` in production).
pub struct Vars<F: Fn(&str) -> Option<String>>(pub F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    /// The trimmed value; unset and empty are the same.
    pub fn get(&self, var: &'static str) -> Option<String> {
        (self.0)(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    pub fn required(&self, var: &'static str, because: &'static str) -> Result<String, ConfigError> {
        self.get(var).ok_or(ConfigError::Missing { var, because })
    }

    pub fn bool_or(&self, var: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(var).map(|v| v.to_ascii_lowercase()).as_deref() {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(other) => {
                Err(ConfigError::Invalid { var, reason: format!("expected true or false, got {other:?}") })
            }
        }
    }

    pub fn u64_or(&self, var: &'static str, default: u64) -> Result<u64, ConfigError> {
        match self.get(var) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
                var,
                reason: format!("expected a whole number, got {v:?}"),
            }),
        }
    }

    /// A decimal number, such as `0.991`.
    pub fn decimal_or(&self, var: &'static str, default: f32) -> Result<f32, ConfigError> {
        match self.get(var) {
            None => Ok(default),
            Some(v) => v.parse::<f32>().ok().filter(|n| n.is_finite()).ok_or_else(|| ConfigError::Invalid {
                var,
                reason: format!("expected a decimal number, got {v:?}"),
            }),
        }
    }

    /// A whole number that also fits a `u32`.
    pub fn u32_or(&self, var: &'static str, default: u64) -> Result<u32, ConfigError> {
        let n = self.u64_or(var, default)?;
        u32::try_from(n)
            .map_err(|_| ConfigError::Invalid { var, reason: format!("{n} is larger than {}", u32::MAX) })
    }

    pub fn secs_or(&self, var: &'static str, default: u64) -> Result<Duration, ConfigError> {
        match self.u64_or(var, default)? {
            0 => Err(ConfigError::Invalid { var, reason: "must be greater than zero".into() }),
            n => Ok(Duration::from_secs(n)),
        }
    }

    pub fn url(&self, var: &'static str) -> Result<Option<Url>, ConfigError> {
        self.get(var)
            .map(|v| {
                let url = Url::parse(&v).map_err(|e| ConfigError::Invalid { var, reason: e.to_string() })?;
                match url.scheme() {
                    "http" | "https" => Ok(url),
                    s => Err(ConfigError::Invalid {
                        var,
                        reason: format!("expected an http or https URL, got scheme {s:?}"),
                    }),
                }
            })
            .transpose()
    }
}
