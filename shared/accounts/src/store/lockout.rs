//! Login lockout, per normalised email whether or not it is registered (so a
//! 429 tells nothing about the account): after `LOCKOUT_THRESHOLD`
//! consecutive failures, attempts are refused for 2^(n-5) s, at most 15 min.
//!
//! The count holds under concurrency because a password check is *reserved*
//! with one conditional write before Argon2id runs: `attempts` counts every
//! check granted since the count last started, those still in flight
//! included, so of N simultaneous attempts at most `LOCKOUT_THRESHOLD` are
//! granted. Past the threshold one attempt at a time is granted, and only
//! once the lock set by the previous one has passed (`lock_attempt` names
//! the attempt whose failure set `locked_until_ms`). A lock is only ever
//! extended, never shortened, and never written onto an item that a
//! successful login or a reset removed meanwhile.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{
    ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

use secrecy::SecretString;

use super::{
    Item, StoredUser, UserStore, conflicts_with_transaction, key, malformed, n, retry_conflicts,
    update_if,
};
use crate::clock::unix_now_ms;
use crate::domain::Email;
use crate::error::{ApiError, sdk_error};
use crate::password;

pub const LOCKOUT_THRESHOLD: u64 = 5;
pub const MAX_LOCKOUT_SECONDS: u64 = 15 * 60;
/// Failures older than this are forgotten: "consecutive" within a day.
const FAILURE_MEMORY_SECONDS: u64 = 24 * 60 * 60;
/// A granted attempt that neither failed nor succeeded within this time
/// died with its function (the Lambda timeout is 10 s): past the threshold
/// it no longer holds the next attempt back.
const ABANDONED_ATTEMPT_MS: u64 = 30_000;
/// Reserving meets a concurrent reset or clear of the item at most this
/// often before the attempt is refused as one too many at once.
const RESERVE_TRIES: u32 = 3;
const LOGIN_SK: &str = "LOGIN";

/// How long the `attempt`-th consecutive failure locks the address.
pub fn lockout_seconds(attempt: u64) -> Option<u64> {
    let exponent = attempt.checked_sub(LOCKOUT_THRESHOLD)?;
    Some(if exponent >= 10 {
        MAX_LOCKOUT_SECONDS
    } else {
        (1 << exponent).min(MAX_LOCKOUT_SECONDS)
    })
}

/// Whole seconds until `locked_until_ms` (at least 1): a refusal while the
/// lock of an attempt in flight is not written yet also says "1".
fn retry_after(locked_until_ms: Option<u64>, now_ms: u64) -> u64 {
    locked_until_ms
        .filter(|until| *until > now_ms)
        .map_or(1, |until| (until - now_ms).div_ceil(1000).max(1))
}

fn login_pk(email: &Email) -> String {
    format!("LOGIN#{}", email.as_str())
}

/// The count of a lockout item that is in force: `None` when the item is
/// missing, its day has passed (TTL deletes late) or it is partial.
fn live_count(item: &Item, now_ms: u64) -> Option<(u64, Option<u64>)> {
    let number = |name: &str| item.get(name)?.as_n().ok()?.parse::<u64>().ok();
    let attempts = number("attempts")?;
    let expires_at = number("expires_at")?;
    (expires_at > now_ms / 1000).then_some((attempts, number("locked_until_ms")))
}

impl UserStore {
    /// Reserves one password check for `email`: its number since the count
    /// last started, or `TooManyAttempts` with how long to wait.
    pub async fn reserve_login_attempt(&self, email: &Email, now_ms: u64) -> Result<u64, ApiError> {
        for _ in 0..RESERVE_TRIES {
            if self.start_count(email, now_ms).await? {
                return Ok(1);
            }
            match self.count_attempt(email, now_ms).await? {
                Ok(number) => return Ok(number),
                Err(current) => {
                    if let Some((_, locked_until_ms)) =
                        current.as_ref().and_then(|item| live_count(item, now_ms))
                    {
                        return Err(ApiError::TooManyAttempts {
                            retry_after_seconds: retry_after(locked_until_ms, now_ms),
                        });
                    }
                    // Cleared or expired between the two writes: start again.
                }
            }
        }
        Err(ApiError::TooManyAttempts {
            retry_after_seconds: 1,
        })
    }

    /// A conditional write of `email`'s lockout item that reserves an
    /// attempt at `now_ms`, with the values both kinds of reservation use
    /// (`:one`, `:now_ms`, `:now_s`, `:expires_at`).
    fn reservation(
        &self,
        email: &Email,
        now_ms: u64,
        update: &str,
        condition: &str,
    ) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(login_pk(email), LOGIN_SK)))
            .update_expression(update)
            .condition_expression(condition)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now_ms", n(now_ms))
            .expression_attribute_values(":now_s", n(now_ms / 1000))
            .expression_attribute_values(":expires_at", n(now_ms / 1000 + FAILURE_MEMORY_SECONDS))
    }

    /// Starts a new count at attempt 1 where none is in force (no item, an
    /// expired one, or a partial one, which is thereby repaired). Returns
    /// whether it did.
    async fn start_count(&self, email: &Email, now_ms: u64) -> Result<bool, ApiError> {
        let request = self.reservation(
            email,
            now_ms,
            "SET attempts = :one, reserved_at_ms = :now_ms, expires_at = :expires_at \
             REMOVE locked_until_ms, lock_attempt",
            "attribute_not_exists(attempts) OR attribute_not_exists(expires_at) \
             OR expires_at <= :now_s",
        );
        Ok(update_if(request).await?.is_some())
    }

    /// Counts one more attempt on a count in force, if one may run now:
    /// below the threshold, or past it once the previous attempt's lock has
    /// passed (or that attempt was abandoned). Returns the attempt's number,
    /// or the item as it stood when the attempt was refused.
    async fn count_attempt(
        &self,
        email: &Email,
        now_ms: u64,
    ) -> Result<Result<u64, Option<Item>>, ApiError> {
        let request = self
            .reservation(
                email,
                now_ms,
                "ADD attempts :one SET reserved_at_ms = :now_ms, expires_at = :expires_at",
                "expires_at > :now_s AND (attempts < :threshold \
                 OR (lock_attempt = attempts AND locked_until_ms <= :now_ms) \
                 OR ((attribute_not_exists(lock_attempt) OR lock_attempt <> attempts) \
                     AND reserved_at_ms <= :abandoned_before))",
            )
            .expression_attribute_values(":threshold", n(LOCKOUT_THRESHOLD))
            .expression_attribute_values(
                ":abandoned_before",
                n(now_ms.saturating_sub(ABANDONED_ATTEMPT_MS)),
            )
            .return_values(ReturnValue::UpdatedNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let result = retry_conflicts(conflicts_with_transaction, || request.clone().send()).await;
        match result {
            Ok(output) => {
                let attempts = output
                    .attributes
                    .as_ref()
                    .and_then(|item| item.get("attempts")?.as_n().ok()?.parse().ok())
                    .ok_or_else(|| malformed("attempts"))?;
                Ok(Ok(attempts))
            }
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(Err(failed.item().cloned()))
                }
                _ => Err(sdk_error(error)),
            },
        }
    }

    /// Records that the `attempt`-th attempt failed: from the threshold on,
    /// it locks the address. The lock only ever grows, and is not written
    /// when a successful login or a reset cleared the count meanwhile.
    pub async fn record_login_failure(
        &self,
        email: &Email,
        attempt: u64,
        now_ms: u64,
    ) -> Result<(), ApiError> {
        let Some(seconds) = lockout_seconds(attempt) else {
            // Counted when it was reserved.
            return Ok(());
        };
        let until = now_ms + seconds * 1000;
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(login_pk(email), LOGIN_SK)))
            .update_expression("SET locked_until_ms = :until, lock_attempt = :attempt")
            .condition_expression(
                "attribute_exists(attempts) AND \
                 (attribute_not_exists(locked_until_ms) OR locked_until_ms < :until)",
            )
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":attempt", n(attempt));
        // A failed condition: a success cleared the count, or a longer lock stands.
        update_if(request).await.map(drop)
    }

    /// A successful login starts the count again.
    pub async fn clear_login_failures(&self, email: &Email) -> Result<(), ApiError> {
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(login_pk(email), LOGIN_SK)));
        retry_conflicts(conflicts_with_transaction, || request.clone().send())
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// Checks the password a signed-in user gives to confirm a sensitive
    /// change (password or email), counted by the same lockout as login:
    /// wrong is `InvalidCredentials` and counts a failure, a locked address
    /// is `TooManyAttempts` before any Argon2id work. A right password
    /// leaves the count to the caller, who clears it with its write.
    pub async fn check_current_password(
        &self,
        user: &StoredUser,
        password: SecretString,
    ) -> Result<(), ApiError> {
        let email = &user.user.email;
        let attempt = self.reserve_login_attempt(email, unix_now_ms()).await?;
        if password::verify(password, Some(user.password_hash.clone())).await? {
            return Ok(());
        }
        self.record_login_failure(email, attempt, unix_now_ms())
            .await?;
        Err(ApiError::InvalidCredentials)
    }

    pub(super) fn delete_lockout(&self, email: &Email) -> Result<TransactWriteItem, ApiError> {
        self.delete_if_present(login_pk(email), LOGIN_SK)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::types::AttributeValue;

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
        assert_eq!(retry_after(Some(10_500), 10_000), 1);
        assert_eq!(retry_after(Some(10_500), 8_000), 3);
        assert_eq!(retry_after(Some(10_500), 10_500), 1);
        assert_eq!(retry_after(None, 0), 1);
    }

    fn item(attributes: &[(&str, u64)]) -> Item {
        attributes
            .iter()
            .map(|(name, value)| ((*name).to_owned(), AttributeValue::N(value.to_string())))
            .collect::<HashMap<_, _>>()
    }

    #[test]
    fn only_a_whole_unexpired_item_is_a_count_in_force() {
        let now_ms = 1_000_000;
        assert_eq!(
            live_count(&item(&[("attempts", 5), ("expires_at", 2000)]), now_ms),
            Some((5, None))
        );
        assert_eq!(
            live_count(&item(&[("attempts", 5), ("expires_at", 1000)]), now_ms),
            None,
            "expired"
        );
        assert_eq!(
            live_count(&item(&[("locked_until_ms", 5_000_000)]), now_ms),
            None,
            "partial"
        );
    }
}
