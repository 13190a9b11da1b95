//! Configuration, read once per cold start from environment variables.
//!
//! The same names are set by `make dev` (`.local/dev.env`), by the tests and by
//! `template.yaml`, so every environment configures the functions one way.

/// Access tokens live 15 minutes unless configured: services that verify
/// them at their own gateway see a logout only when the token expires.
pub const DEFAULT_ACCESS_TOKEN_TTL_SECONDS: u64 = 900;
pub const DEFAULT_JWT_AUDIENCE: &str = "user-api";
/// Bounds on the access-token lifetime (API.md: 60 to 3600 seconds).
const ACCESS_TOKEN_TTL_RANGE: std::ops::RangeInclusive<u64> = 60..=3600;

pub const DEFAULT_RESET_TOKEN_TTL_SECONDS: u64 = 30 * 60;
/// A reset token lives at most an hour: it is as good as the password.
const RESET_TOKEN_TTL_RANGE: std::ops::RangeInclusive<u64> = 60..=3600;

/// How long sessions live (API.md, "Sessions"): 30 days from login whatever
/// their use, 7 days without a refresh, and a 10 s window in which the
/// refresh token just rotated out still answers (a client retrying a
/// refresh whose answer it lost).
pub const DEFAULT_SESSION_MAX_AGE_SECONDS: u64 = 30 * 24 * 3600;
pub const DEFAULT_SESSION_IDLE_TIMEOUT_SECONDS: u64 = 7 * 24 * 3600;
pub const DEFAULT_REFRESH_REUSE_INTERVAL_SECONDS: u64 = 10;
const SESSION_MAX_AGE_RANGE: std::ops::RangeInclusive<u64> = 60..=365 * 24 * 3600;
const REFRESH_REUSE_INTERVAL_RANGE: std::ops::RangeInclusive<u64> = 0..=60;

/// How many requests of a kind one client address may make per window
/// (API.md, "Per-client limits"), checked before any Argon2id work. The
/// windows are fixed: 10 minutes, and a minute for refreshes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientLimits {
    /// `CLIENT_LOGIN_LIMIT`: login attempts per 10 minutes.
    pub login: u64,
    /// `CLIENT_REGISTER_LIMIT`: registrations per 10 minutes.
    pub register: u64,
    /// `CLIENT_MAIL_LIMIT`: reset requests, reset uses and verification
    /// requests per 10 minutes, together.
    pub mail: u64,
    /// `CLIENT_REFRESH_LIMIT`: refreshes per minute.
    pub refresh: u64,
}

impl Default for ClientLimits {
    fn default() -> Self {
        Self {
            login: 30,
            register: 10,
            mail: 10,
            refresh: 120,
        }
    }
}

const CLIENT_LIMIT_RANGE: std::ops::RangeInclusive<u64> = 1..=1_000_000;

impl ClientLimits {
    fn from_lookup(non_empty: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let limit = |name: &'static str, default: u64| {
            seconds(
                non_empty(name),
                default,
                CLIENT_LIMIT_RANGE,
                ConfigError::Invalid {
                    name,
                    reason: "it must be a whole number of requests from 1 to 1000000",
                },
            )
        };
        Ok(Self {
            login: limit("CLIENT_LOGIN_LIMIT", defaults.login)?,
            register: limit("CLIENT_REGISTER_LIMIT", defaults.register)?,
            mail: limit("CLIENT_MAIL_LIMIT", defaults.mail)?,
            refresh: limit("CLIENT_REFRESH_LIMIT", defaults.refresh)?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// `SESSION_MAX_AGE_SECONDS`: from login to the end, whatever the use.
    pub max_age_seconds: u64,
    /// `SESSION_IDLE_TIMEOUT_SECONDS`: from the last refresh (or the login)
    /// to the end; at most the maximum age.
    pub idle_timeout_seconds: u64,
    /// `REFRESH_REUSE_INTERVAL_SECONDS`: how long the previous refresh token
    /// still answers after its rotation.
    pub reuse_interval_seconds: u64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            max_age_seconds: DEFAULT_SESSION_MAX_AGE_SECONDS,
            idle_timeout_seconds: DEFAULT_SESSION_IDLE_TIMEOUT_SECONDS,
            reuse_interval_seconds: DEFAULT_REFRESH_REUSE_INTERVAL_SECONDS,
        }
    }
}

impl SessionPolicy {
    fn from_lookup(non_empty: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let max_age_seconds = seconds(
            non_empty("SESSION_MAX_AGE_SECONDS"),
            DEFAULT_SESSION_MAX_AGE_SECONDS,
            SESSION_MAX_AGE_RANGE,
            ConfigError::Invalid {
                name: "SESSION_MAX_AGE_SECONDS",
                reason: "it must be a whole number of seconds from 60 to 365 days",
            },
        )?;
        let idle_timeout_seconds = seconds(
            non_empty("SESSION_IDLE_TIMEOUT_SECONDS"),
            DEFAULT_SESSION_IDLE_TIMEOUT_SECONDS.min(max_age_seconds),
            60..=max_age_seconds,
            ConfigError::Invalid {
                name: "SESSION_IDLE_TIMEOUT_SECONDS",
                reason: "it must be a whole number of seconds from 60 to SESSION_MAX_AGE_SECONDS",
            },
        )?;
        let reuse_interval_seconds = seconds(
            non_empty("REFRESH_REUSE_INTERVAL_SECONDS"),
            DEFAULT_REFRESH_REUSE_INTERVAL_SECONDS,
            REFRESH_REUSE_INTERVAL_RANGE,
            ConfigError::Invalid {
                name: "REFRESH_REUSE_INTERVAL_SECONDS",
                reason: "it must be a whole number of seconds from 0 to 60",
            },
        )?;
        Ok(Self {
            max_age_seconds,
            idle_timeout_seconds,
            reuse_interval_seconds,
        })
    }

    /// When a session that began at `created_at` and was last refreshed at
    /// `last_used_at` ends (seconds; its items' TTL too).
    pub fn ends_at(&self, created_at: u64, last_used_at: u64) -> u64 {
        (created_at + self.max_age_seconds).min(last_used_at + self.idle_timeout_seconds)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub table_name: String,
    /// `JWT_ISSUER`: the tokens' `iss`, this API's public base URL. Unset on
    /// a deployment without a custom domain: each request's own host then
    /// names the issuer (`https://<api-id>.execute-api.<region>.amazonaws.com`),
    /// which the template cannot pass in without a circular reference.
    pub jwt_issuer: Option<String>,
    /// `JWT_AUDIENCE`: the tokens' `aud`.
    pub jwt_audience: String,
    pub access_token_ttl_seconds: u64,
    pub sessions: SessionPolicy,
    /// `EMAIL_VERIFICATION`: whether login waits for a verified address.
    pub email_verification: EmailVerification,
    pub client_limits: ClientLimits,
}

/// Whether an account may log in before its owner has proven the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmailVerification {
    /// A right password for an unverified address gets 403.
    #[default]
    Required,
    Optional,
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
        let jwt_issuer = base_url(non_empty("JWT_ISSUER"), "JWT_ISSUER")?;
        let email_verification = match non_empty("EMAIL_VERIFICATION").as_deref().map(str::trim) {
            None | Some("required") => EmailVerification::Required,
            Some("optional") => EmailVerification::Optional,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "EMAIL_VERIFICATION",
                    reason: "it must be required or optional",
                });
            }
        };
        let jwt_audience =
            non_empty("JWT_AUDIENCE").unwrap_or_else(|| DEFAULT_JWT_AUDIENCE.to_owned());
        let access_token_ttl_seconds = seconds(
            non_empty("ACCESS_TOKEN_TTL_SECONDS"),
            DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
            ACCESS_TOKEN_TTL_RANGE,
            ConfigError::Invalid {
                name: "ACCESS_TOKEN_TTL_SECONDS",
                reason: "it must be a whole number of seconds from 60 to 3600",
            },
        )?;

        let sessions = SessionPolicy::from_lookup(non_empty)?;
        let client_limits = ClientLimits::from_lookup(non_empty)?;

        Ok(Self {
            table_name,
            jwt_issuer,
            jwt_audience,
            access_token_ttl_seconds,
            sessions,
            email_verification,
            client_limits,
        })
    }
}

/// What the functions that send mail need beside (or, for the two that
/// answer every address alike, instead of) `Config`.
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub table_name: String,
    pub ses_from_address: String,
    /// `LINK_BASE`: where the mailed links point (`<LINK_BASE>/<page>#token=…`).
    /// Unset: the API's own pages, `<public URL>/v1/pages`.
    pub link_base: Option<String>,
    /// `JWT_ISSUER`, the API's public base URL, when configured.
    pub public_url: Option<String>,
    pub reset_token_ttl_seconds: u64,
    pub client_limits: ClientLimits,
}

impl MailConfig {
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
            link_base: base_url(non_empty("LINK_BASE"), "LINK_BASE")?,
            public_url: base_url(non_empty("JWT_ISSUER"), "JWT_ISSUER")?,
            reset_token_ttl_seconds,
            client_limits: ClientLimits::from_lookup(non_empty)?,
        })
    }
}

/// An http(s) base URL without its trailing slash.
fn base_url(raw: Option<String>, name: &'static str) -> Result<Option<String>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let url = raw.trim().trim_end_matches('/');
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(Some(url.to_owned()))
    } else {
        Err(ConfigError::Invalid {
            name,
            reason: "it must be a base URL, starting with https://",
        })
    }
}

/// A number (of seconds, or requests) within `range`, or `default` when the variable is unset.
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

    #[test]
    fn defaults_apply_when_optional_variables_are_absent() {
        let config = Config::from_lookup(lookup(&[("TABLE_NAME", "users")])).unwrap();
        assert_eq!(config.access_token_ttl_seconds, 900);
        assert_eq!(config.jwt_issuer, None);
        assert_eq!(config.jwt_audience, "user-api");
        assert_eq!(config.email_verification, EmailVerification::Required);
    }

    #[test]
    fn client_limits_default_to_the_contract_and_refuse_zero() {
        let defaults = Config::from_lookup(lookup(&[("TABLE_NAME", "users")])).unwrap();
        assert_eq!(
            defaults.client_limits,
            ClientLimits {
                login: 30,
                register: 10,
                mail: 10,
                refresh: 120
            }
        );
        let with = |value| {
            Config::from_lookup(lookup(&[
                ("TABLE_NAME", "users"),
                ("CLIENT_LOGIN_LIMIT", value),
            ]))
        };
        assert_eq!(with("5").unwrap().client_limits.login, 5);
        assert!(with("0").is_err());
        assert!(with("many").is_err());
    }

    #[test]
    fn email_verification_is_required_or_optional() {
        let with = |value| {
            Config::from_lookup(lookup(&[
                ("TABLE_NAME", "users"),
                ("EMAIL_VERIFICATION", value),
            ]))
        };
        assert_eq!(
            with("optional").unwrap().email_verification,
            EmailVerification::Optional
        );
        assert!(with("off").is_err());
    }

    #[test]
    fn the_issuer_is_a_base_url_without_a_trailing_slash() {
        let config = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "users"),
            ("JWT_ISSUER", "https://id.example.com/"),
        ]))
        .unwrap();
        assert_eq!(config.jwt_issuer.as_deref(), Some("https://id.example.com"));
        let err = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "users"),
            ("JWT_ISSUER", "user-api"),
        ]))
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "JWT_ISSUER",
                ..
            }
        ));
    }

    #[test]
    fn sessions_default_to_30_days_7_idle_and_a_10_second_retry_window() {
        let config = Config::from_lookup(lookup(&[("TABLE_NAME", "users")])).unwrap();
        assert_eq!(config.sessions, SessionPolicy::default());
        assert_eq!(config.sessions.max_age_seconds, 2_592_000);
        assert_eq!(config.sessions.idle_timeout_seconds, 604_800);
        assert_eq!(config.sessions.reuse_interval_seconds, 10);
    }

    #[test]
    fn session_settings_out_of_range_are_refused() {
        for (name, value) in [
            ("SESSION_MAX_AGE_SECONDS", "59"),
            ("SESSION_IDLE_TIMEOUT_SECONDS", "2592001"),
            ("SESSION_IDLE_TIMEOUT_SECONDS", "59"),
            ("REFRESH_REUSE_INTERVAL_SECONDS", "61"),
            ("REFRESH_REUSE_INTERVAL_SECONDS", "-1"),
        ] {
            let err =
                Config::from_lookup(lookup(&[("TABLE_NAME", "users"), (name, value)])).unwrap_err();
            assert!(
                matches!(err, ConfigError::Invalid { name: invalid, .. } if invalid == name),
                "{name}={value}: {err:?}"
            );
        }
    }

    #[test]
    fn a_short_maximum_age_caps_the_default_idle_timeout() {
        let config = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "users"),
            ("SESSION_MAX_AGE_SECONDS", "3600"),
        ]))
        .unwrap();
        assert_eq!(config.sessions.idle_timeout_seconds, 3600);
        assert_eq!(config.sessions.ends_at(1000, 1000), 4600);
    }

    #[test]
    fn a_session_ends_at_its_maximum_age_or_after_its_idle_time() {
        let policy = SessionPolicy {
            max_age_seconds: 100,
            idle_timeout_seconds: 30,
            reuse_interval_seconds: 10,
        };
        assert_eq!(policy.ends_at(0, 0), 30);
        assert_eq!(policy.ends_at(0, 50), 80);
        assert_eq!(policy.ends_at(0, 90), 100);
    }

    #[test]
    fn a_missing_table_name_is_named_in_the_error() {
        let err = Config::from_lookup(lookup(&[])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("TABLE_NAME"));
    }

    #[test]
    fn an_out_of_range_token_lifetime_is_refused() {
        for ttl in ["0", "59", "3601", "soon"] {
            let err = Config::from_lookup(lookup(&[
                ("TABLE_NAME", "users"),
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
        let config = MailConfig::from_lookup(lookup(&base)).unwrap();
        assert_eq!(config.reset_token_ttl_seconds, 1800);
        assert_eq!(config.link_base, None);
        for ttl in ["3601", "59", "half an hour"] {
            let mut pairs = base.to_vec();
            pairs.push(("RESET_TOKEN_TTL_SECONDS", ttl));
            assert!(MailConfig::from_lookup(lookup(&pairs)).is_err(), "{ttl}");
        }
    }
}
