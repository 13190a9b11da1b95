//! Configuration, read once per cold start from environment variables.
//!
//! The same names are set by `make dev` (`.local/dev.env`), by the tests and by
//! `template.yaml`, so every environment configures the functions one way.

use secrecy::{ExposeSecret, SecretString};

/// The HS256 key must carry at least as many bits as the hash it feeds (RFC 7518 §3.2).
pub const MIN_JWT_SECRET_BYTES: usize = 32;
pub const DEFAULT_ACCESS_TOKEN_TTL_SECONDS: u64 = 3600;
pub const DEFAULT_JWT_ISSUER: &str = "user-api";
/// Bounds on the access-token lifetime: long enough to be usable, short enough
/// that a stolen token does not outlive a working day.
const ACCESS_TOKEN_TTL_RANGE: std::ops::RangeInclusive<u64> = 60..=86_400;

pub const DEFAULT_RESET_TOKEN_TTL_SECONDS: u64 = 30 * 60;
/// A reset token lives at most an hour: it is as good as the password.
const RESET_TOKEN_TTL_RANGE: std::ops::RangeInclusive<u64> = 60..=3600;

#[derive(Clone)]
pub struct Config {
    pub table_name: String,
    pub jwt_secret: SecretString,
    pub jwt_issuer: String,
    pub access_token_ttl_seconds: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} must be set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        reason: &'static str,
    },
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests need not touch the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let non_empty = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let table_name = non_empty("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?;
        let jwt_secret = non_empty("JWT_SECRET").ok_or(ConfigError::Missing("JWT_SECRET"))?;
        if jwt_secret.len() < MIN_JWT_SECRET_BYTES {
            return Err(ConfigError::Invalid {
                name: "JWT_SECRET",
                reason: "it must be at least 32 bytes long",
            });
        }
        let jwt_issuer = non_empty("JWT_ISSUER").unwrap_or_else(|| DEFAULT_JWT_ISSUER.to_owned());
        let access_token_ttl_seconds = seconds(
            non_empty("ACCESS_TOKEN_TTL_SECONDS"),
            DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
            ACCESS_TOKEN_TTL_RANGE,
            ConfigError::Invalid {
                name: "ACCESS_TOKEN_TTL_SECONDS",
                reason: "it must be a whole number of seconds from 60 to 86400",
            },
        )?;

        Ok(Self {
            table_name,
            jwt_secret: SecretString::from(jwt_secret),
            jwt_issuer,
            access_token_ttl_seconds,
        })
    }
}

/// What the reset-request function needs; it holds no JWT secret.
#[derive(Debug, Clone)]
pub struct ResetRequestConfig {
    pub table_name: String,
    pub ses_from_address: String,
    pub reset_url_base: Option<String>,
    pub reset_token_ttl_seconds: u64,
}

impl ResetRequestConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let non_empty = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let reset_token_ttl_seconds = seconds(
            non_empty("RESET_TOKEN_TTL_SECONDS"),
            DEFAULT_RESET_TOKEN_TTL_SECONDS,
            RESET_TOKEN_TTL_RANGE,
            ConfigError::Invalid {
                name: "RESET_TOKEN_TTL_SECONDS",
                reason: "it must be a whole number of seconds from 60 to 3600",
            },
        )?;
        Ok(Self {
            table_name: non_empty("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?,
            ses_from_address: non_empty("SES_FROM_ADDRESS")
                .ok_or(ConfigError::Missing("SES_FROM_ADDRESS"))?,
            reset_url_base: non_empty("RESET_URL_BASE"),
            reset_token_ttl_seconds,
        })
    }
}

/// A number of seconds within `range`, or `default` when the variable is unset.
fn seconds(
    raw: Option<String>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
    invalid: ConfigError,
) -> Result<u64, ConfigError> {
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|value| range.contains(value))
            .ok_or(invalid),
    }
}

// Written by hand so the secret can never reach a log through `{:?}`.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("jwt_secret", &"[redacted]")
            .field("jwt_issuer", &self.jwt_issuer)
            .field("access_token_ttl_seconds", &self.access_token_ttl_seconds)
            .finish()
    }
}

impl Config {
    pub fn jwt_secret_bytes(&self) -> &[u8] {
        self.jwt_secret.expose_secret().as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults_apply_when_optional_variables_are_absent() {
        let config =
            Config::from_lookup(lookup(&[("TABLE_NAME", "users"), ("JWT_SECRET", SECRET)]))
                .unwrap();
        assert_eq!(config.access_token_ttl_seconds, 3600);
        assert_eq!(config.jwt_issuer, "user-api");
    }

    #[test]
    fn a_short_jwt_secret_is_refused_at_start_up() {
        let err = Config::from_lookup(lookup(&[("TABLE_NAME", "users"), ("JWT_SECRET", "short")]))
            .unwrap_err();
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
    }

    #[test]
    fn a_missing_table_name_is_named_in_the_error() {
        let err = Config::from_lookup(lookup(&[("JWT_SECRET", SECRET)])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("TABLE_NAME"));
    }

    #[test]
    fn an_out_of_range_token_lifetime_is_refused() {
        for ttl in ["0", "59", "86401", "soon"] {
            let err = Config::from_lookup(lookup(&[
                ("TABLE_NAME", "users"),
                ("JWT_SECRET", SECRET),
                ("ACCESS_TOKEN_TTL_SECONDS", ttl),
            ]))
            .unwrap_err();
            assert!(matches!(
                err,
                ConfigError::Invalid {
                    name: "ACCESS_TOKEN_TTL_SECONDS",
                    ..
                }
            ));
        }
    }

    #[test]
    fn the_reset_token_lifetime_is_at_most_an_hour() {
        let base = [
            ("TABLE_NAME", "users"),
            ("SES_FROM_ADDRESS", "no-reply@example.com"),
        ];
        let config = ResetRequestConfig::from_lookup(lookup(&base)).unwrap();
        assert_eq!(config.reset_token_ttl_seconds, 1800);
        assert_eq!(config.reset_url_base, None);
        for ttl in ["3601", "59", "half an hour"] {
            let mut pairs = base.to_vec();
            pairs.push(("RESET_TOKEN_TTL_SECONDS", ttl));
            assert!(
                ResetRequestConfig::from_lookup(lookup(&pairs)).is_err(),
                "{ttl}"
            );
        }
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let config =
            Config::from_lookup(lookup(&[("TABLE_NAME", "users"), ("JWT_SECRET", SECRET)]))
                .unwrap();
        assert!(!format!("{config:?}").contains(SECRET));
    }
}
