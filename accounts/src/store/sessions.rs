//! Token revocation: logout writes a denylist item for the token's `jti`
//! beside the user item, and authentication reads both in one round trip.

use aws_sdk_dynamodb::types::{Get, TransactGetItem};

use super::users::USER_SK;
use super::{
    StoredUser, UserStore, cancelled_by_conflict, key, n, retry_conflicts, stored_user_from_item,
    transaction_failure, user_pk,
};
use crate::domain::UserId;
use crate::error::{ApiError, sdk_error};

/// What authentication needs to know about a token's subject.
#[derive(Debug)]
pub struct Session {
    pub user: Option<StoredUser>,
    pub revoked: bool,
}

fn revoked_sk(token_id: &str) -> String {
    format!("REVOKED#{token_id}")
}

impl UserStore {
    /// The token's user and whether the token was revoked, read together in
    /// one `TransactGetItems`, so checking revocation costs no extra round trip.
    pub async fn session(&self, user_id: &UserId, token_id: &str) -> Result<Session, ApiError> {
        let get = |sk: String| -> Result<TransactGetItem, ApiError> {
            let get = Get::builder()
                .table_name(&self.table)
                .set_key(Some(key(user_pk(user_id), &sk)))
                .build()
                .map_err(ApiError::unexpected)?;
            Ok(TransactGetItem::builder().get(get).build())
        };
        let request = self
            .client
            .transact_get_items()
            .transact_items(get(USER_SK.to_owned())?)
            .transact_items(get(revoked_sk(token_id))?);
        // A read meets a write transaction on the user item whenever someone
        // asks for a reset of this user's password, which anyone can do.
        let output = retry_conflicts(cancelled_by_conflict, || request.clone().send())
            .await
            .map_err(transaction_failure)?;
        let mut responses = output
            .responses
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.item);
        let user = responses.next().flatten();
        let revoked = responses.next().flatten().is_some();
        Ok(Session {
            user: user.as_ref().map(stored_user_from_item).transpose()?,
            revoked,
        })
    }

    /// Denies the token from now on. The item expires with the token: after
    /// `exp` the token is refused anyway.
    pub async fn revoke_token(
        &self,
        user_id: &UserId,
        token_id: &str,
        expires_at: u64,
    ) -> Result<(), ApiError> {
        let mut item = key(user_pk(user_id), &revoked_sk(token_id));
        item.insert("expires_at".to_owned(), n(expires_at));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}
