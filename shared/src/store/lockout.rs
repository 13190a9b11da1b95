//! Login lockout, per normalised email whether or not it is registered (so a
//! 429 tells nothing about the account): after `LOCKOUT_THRESHOLD`
//! consecutive failures, attempts are refused for 2^(n-5) s, at most 15 min.

use aws_sdk_dynamodb::types::{ReturnValue, TransactWriteItem};

use super::{Item, UserStore, key, n, number_attr, optional_number_attr};
use crate::clock::unix_now;
use crate::domain::Email;
use crate::error::{ApiError, sdk_error};

pub const LOCKOUT_THRESHOLD: u64 = 5;
pub const MAX_LOCKOUT_SECONDS: u64 = 15 * 60;
/// Failures older than this are forgotten: "consecutive" within a day.
const FAILURE_MEMORY_SECONDS: u64 = 24 * 60 * 60;
const LOGIN_SK: &str = "LOGIN";

/// The lockout state of one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLock {
    pub failures: u64,
    pub locked_until_ms: Option<u64>,
}

impl LoginLock {
    /// Whole seconds until the lockout ends (at least 1), if it is in force.
    pub fn retry_after(&self, now_ms: u64) -> Option<u64> {
        let until = self.locked_until_ms.filter(|until| *until > now_ms)?;
        Some((until - now_ms).div_ceil(1000).max(1))
    }
}

/// How long the `failures`-th consecutive failure locks the address.
pub fn lockout_seconds(failures: u64) -> Option<u64> {
    let exponent = failures.checked_sub(LOCKOUT_THRESHOLD)?;
    Some(if exponent >= 10 {
        MAX_LOCKOUT_SECONDS
    } else {
        (1 << exponent).min(MAX_LOCKOUT_SECONDS)
    })
}

fn login_pk(email: &Email) -> String {
    format!("LOGIN#{}", email.as_str())
}

impl UserStore {
    pub async fn login_lock(&self, email: &Email) -> Result<Option<LoginLock>, ApiError> {
        let Some(item) = self.get_item(login_pk(email), LOGIN_SK).await? else {
            return Ok(None);
        };
        // TTL deletion lags by up to days, so expiry is checked here.
        if number_attr(&item, "expires_at")? <= unix_now() {
            return Ok(None);
        }
        lock_from_item(&item).map(Some)
    }

    /// Counts one more failure, atomically, and locks the address once the
    /// count reaches the threshold. Returns the new state.
    pub async fn record_login_failure(
        &self,
        email: &Email,
        now_ms: u64,
    ) -> Result<LoginLock, ApiError> {
        let expires_at = now_ms / 1000 + FAILURE_MEMORY_SECONDS;
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(login_pk(email), LOGIN_SK)))
            .update_expression("ADD failures :one SET expires_at = :expires_at")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":expires_at", n(expires_at))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(sdk_error)?;
        let mut lock = lock_from_item(&output.attributes.unwrap_or_default())?;
        let Some(seconds) = lockout_seconds(lock.failures) else {
            return Ok(lock);
        };
        let until = now_ms + seconds * 1000;
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(login_pk(email), LOGIN_SK)))
            .update_expression("SET locked_until_ms = :until")
            .expression_attribute_values(":until", n(until))
            .send()
            .await
            .map_err(sdk_error)?;
        lock.locked_until_ms = Some(until);
        Ok(lock)
    }

    /// A successful login starts the count again.
    pub async fn clear_login_failures(&self, email: &Email) -> Result<(), ApiError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(login_pk(email), LOGIN_SK)))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    pub(super) fn delete_lockout(&self, email: &Email) -> Result<TransactWriteItem, ApiError> {
        self.delete_if_present(login_pk(email), LOGIN_SK)
    }
}

fn lock_from_item(item: &Item) -> Result<LoginLock, ApiError> {
    Ok(LoginLock {
        failures: number_attr(item, "failures")?,
        locked_until_ms: optional_number_attr(item, "locked_until_ms")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_doubles_from_the_fifth_failure_up_to_fifteen_minutes() {
        assert_eq!(lockout_seconds(4), None);
        assert_eq!(lockout_seconds(5), Some(1));
        assert_eq!(lockout_seconds(6), Some(2));
        assert_eq!(lockout_seconds(10), Some(32));
        assert_eq!(lockout_seconds(14), Some(512));
        assert_eq!(lockout_seconds(15), Some(900));
        assert_eq!(lockout_seconds(u64::MAX), Some(900));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let lock = LoginLock {
            failures: 5,
            locked_until_ms: Some(10_500),
        };
        assert_eq!(lock.retry_after(10_000), Some(1));
        assert_eq!(lock.retry_after(8_000), Some(3));
        assert_eq!(lock.retry_after(10_500), None);
        assert_eq!(
            LoginLock {
                failures: 3,
                locked_until_ms: None
            }
            .retry_after(0),
            None
        );
    }
}
