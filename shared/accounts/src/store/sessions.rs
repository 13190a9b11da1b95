//! What authentication reads: the token's user and its session, together in
//! one `TransactGetItems`, so checking that the session is live costs no
//! extra round trip.

use aws_sdk_dynamodb::types::{Get, TransactGetItem};

use super::items::USER_SK;
use super::session_items::{SessionRecord, session_from_item, session_key};
use super::{
    Item, StoredUser, UserStore, cancelled_by_conflict, key, retry_conflicts,
    stored_user_from_item, transaction_failure, user_pk,
};
use crate::domain::UserId;
use crate::error::ApiError;
use crate::refresh_token::SessionId;

/// A token's user and session as stored now; either may be gone.
#[derive(Debug)]
pub struct Session {
    pub user: Option<StoredUser>,
    pub record: Option<SessionRecord>,
}

impl UserStore {
    pub async fn session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<Session, ApiError> {
        let get = |item_key: Item| -> Result<TransactGetItem, ApiError> {
            let get = Get::builder()
                .table_name(&self.table)
                .set_key(Some(item_key))
                .build()
                .map_err(ApiError::unexpected)?;
            Ok(TransactGetItem::builder().get(get).build())
        };
        let request = self
            .client
            .transact_get_items()
            .transact_items(get(key(user_pk(user_id), USER_SK))?)
            .transact_items(get(session_key(user_id, session_id))?);
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
        let record = responses.next().flatten();
        Ok(Session {
            user: user.as_ref().map(stored_user_from_item).transpose()?,
            record: record.as_ref().map(session_from_item).transpose()?,
        })
    }
}
