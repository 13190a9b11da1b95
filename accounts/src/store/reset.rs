//! Password-reset tokens. Only the SHA-256 of a token is stored, in an item
//! of its own (`RESET#<sha256>`) that the user item points at, so a new
//! request can replace the previous token and a delete can remove it.

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem, Update};

use super::users::USER_SK;
use super::{StoredUser, Transaction, UserStore, key, n, number_attr, s, user_id_attr, user_pk};
use crate::clock::unix_now;
use crate::domain::{Email, UserId};
use crate::error::ApiError;

const RESET_SK: &str = "RESET";

/// A stored reset token: whose it is and until when it is valid.
#[derive(Debug)]
pub struct ResetTicket {
    pub user_id: UserId,
    pub expires_at: u64,
}

fn reset_pk(token_hash: &str) -> String {
    format!("RESET#{token_hash}")
}

impl UserStore {
    /// Stores a new reset token for `user`, replacing the previous one, unless
    /// one was issued less than `resend_window` seconds ago. Returns whether
    /// the new token was stored (and so an email is due).
    pub async fn start_reset(
        &self,
        user: &StoredUser,
        token_hash: &str,
        expires_at: u64,
        resend_window: u64,
    ) -> Result<bool, ApiError> {
        let now = unix_now();
        let mut item = key(reset_pk(token_hash), RESET_SK);
        item.insert("user_id".to_owned(), s(user.user.id.as_str()));
        item.insert("expires_at".to_owned(), n(expires_at));
        // The condition makes the resend window hold under concurrent
        // requests: only one of them can move reset_sent_at forward.
        let user_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(&user.user.id), USER_SK)))
            .update_expression("SET reset_token_hash = :hash, reset_sent_at = :now")
            .condition_expression(
                "email = :email AND (attribute_not_exists(reset_sent_at) OR reset_sent_at <= :window_start)",
            )
            .expression_attribute_values(":hash", s(token_hash))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":email", s(user.user.email.as_str()))
            .expression_attribute_values(":window_start", n(now.saturating_sub(resend_window)))
            .build()
            .map_err(ApiError::unexpected)?;
        let mut items = vec![
            self.put_new(item)?,
            TransactWriteItem::builder().update(user_update).build(),
        ];
        if let Some(previous) = &user.reset_token_hash {
            items.push(self.delete_reset_item(previous)?);
        }
        Ok(matches!(
            self.transact(items).await?,
            Transaction::Committed
        ))
    }

    /// Withdraws a token whose email could not be sent, so no usable token
    /// exists that its owner never received, and a new request may follow at once.
    pub async fn cancel_reset(&self, user_id: &UserId, token_hash: &str) -> Result<(), ApiError> {
        let user_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user_id), USER_SK)))
            .update_expression("REMOVE reset_token_hash, reset_sent_at")
            .condition_expression("reset_token_hash = :hash")
            .expression_attribute_values(":hash", s(token_hash))
            .build()
            .map_err(ApiError::unexpected)?;
        let items = vec![
            self.delete_reset_item(token_hash)?,
            TransactWriteItem::builder().update(user_update).build(),
        ];
        // A failed condition means a newer request already replaced the token.
        self.transact(items).await.map(|_| ())
    }

    /// The stored token with this hash, if any (expired or not).
    pub async fn find_reset(&self, token_hash: &str) -> Result<Option<ResetTicket>, ApiError> {
        let Some(item) = self.get_item(reset_pk(token_hash), RESET_SK).await? else {
            return Ok(None);
        };
        Ok(Some(ResetTicket {
            user_id: user_id_attr(&item, "user_id")?,
            expires_at: number_attr(&item, "expires_at")?,
        }))
    }

    /// Consumes the token and sets the new password in one transaction: of
    /// concurrent uses exactly one succeeds. The user's token version moves
    /// on, so every access token issued before is refused from now on, and
    /// the login lockout for the address is cleared. `InvalidResetToken` if
    /// the token was used, replaced or expired meanwhile.
    pub async fn complete_reset(
        &self,
        token_hash: &str,
        user_id: &UserId,
        email: &Email,
        password_hash: &str,
    ) -> Result<(), ApiError> {
        let now = unix_now();
        let consume = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(reset_pk(token_hash), RESET_SK)))
            .condition_expression("user_id = :user_id AND expires_at > :now")
            .expression_attribute_values(":user_id", s(user_id.as_str()))
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(ApiError::unexpected)?;
        let user_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user_id), USER_SK)))
            .update_expression(
                "SET password_hash = :password_hash, updated_at = :updated_at \
                 ADD token_version :one REMOVE reset_token_hash, reset_sent_at",
            )
            .condition_expression("reset_token_hash = :token_hash")
            .expression_attribute_values(":password_hash", s(password_hash))
            .expression_attribute_values(":updated_at", s(&super::rfc3339(now)))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":token_hash", s(token_hash))
            .build()
            .map_err(ApiError::unexpected)?;
        let items = vec![
            TransactWriteItem::builder().delete(consume).build(),
            TransactWriteItem::builder().update(user_update).build(),
            self.delete_lockout(email)?,
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(()),
            Transaction::ConditionFailed(_) => Err(ApiError::InvalidResetToken),
        }
    }

    pub(super) fn delete_reset_item(
        &self,
        token_hash: &str,
    ) -> Result<TransactWriteItem, ApiError> {
        self.delete_if_present(reset_pk(token_hash), RESET_SK)
    }
}
