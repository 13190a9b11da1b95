//! Users and their email claims.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, ReturnValue, TransactWriteItem, Update};

use super::schema::{INDEX_PARTITION_KEY, INDEX_SORT_KEY, USERS_BY_CREATION_INDEX};
use super::{
    Item, NewUser, StoredUser, Transaction, User, UserStore, email_pk, key, n, rfc3339, s,
    stored_user_from_item, update_if, user_from_item, user_id_attr, user_pk,
};
use crate::clock::unix_now;
use crate::domain::{Email, UserId, UserName};
use crate::error::{ApiError, sdk_error};

pub(super) const USER_SK: &str = "USER";
const EMAIL_SK: &str = "EMAIL";
const USER_LIST_PK: &str = "USER";
/// A delete that keeps meeting new reset tokens gives up after this many reads.
const DELETE_TRIES: u32 = 3;

/// What a profile update changes; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ProfileChange {
    pub name: Option<UserName>,
    pub email: Option<Email>,
}

/// One page of the admin listing, in creation order.
#[derive(Debug)]
pub struct UserPage {
    pub users: Vec<User>,
    /// The id of the last user on this page, when more follow.
    pub last: Option<UserId>,
}

impl UserStore {
    /// Creates the user and claims its email in one transaction:
    /// `EmailTaken` if the address is already claimed, and nothing written.
    pub async fn create_user(&self, new_user: NewUser) -> Result<User, ApiError> {
        let now = rfc3339(unix_now());
        let user = User {
            id: UserId::generate(),
            email: new_user.email,
            name: new_user.name,
            admin: false,
            created_at: now.clone(),
            updated_at: now,
        };
        let items = vec![
            self.put_new(user_item(&user, &new_user.password_hash))?,
            self.put_new(email_claim_item(&user.email, &user.id))?,
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(user),
            Transaction::ConditionFailed(_) => Err(ApiError::EmailTaken),
        }
    }

    /// The user registered with `email`, if any. An unknown address costs
    /// the same two reads as a registered one (the second of a user key no
    /// item has), so response times do not tell the two apart.
    pub async fn find_by_email(&self, email: &Email) -> Result<Option<StoredUser>, ApiError> {
        let claim = self.get_item(email_pk(email), EMAIL_SK).await?;
        let user_id = match &claim {
            Some(claim) => user_id_attr(claim, "user_id")?,
            None => UserId::nil(),
        };
        let user = self.find_by_id(&user_id).await?;
        Ok(user.filter(|_| claim.is_some()))
    }

    pub async fn find_by_id(&self, id: &UserId) -> Result<Option<StoredUser>, ApiError> {
        let item = self.get_item(user_pk(id), USER_SK).await?;
        item.as_ref().map(stored_user_from_item).transpose()
    }

    /// Applies `change` to `current`. An email change moves the claim in the
    /// same transaction: `EmailTaken` if the new address is claimed, and then
    /// nothing changes. `UserNotFound` if the user was deleted (or its email
    /// changed) meanwhile.
    pub async fn update_profile(
        &self,
        current: &User,
        change: ProfileChange,
    ) -> Result<User, ApiError> {
        let new_email = change.email.filter(|email| *email != current.email);
        let new_name = change.name.filter(|name| *name != current.name);
        if new_email.is_none() && new_name.is_none() {
            return Ok(current.clone());
        }
        let updated = User {
            name: new_name.unwrap_or_else(|| current.name.clone()),
            email: new_email.clone().unwrap_or_else(|| current.email.clone()),
            updated_at: rfc3339(unix_now()),
            ..current.clone()
        };

        let user_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(&current.id), USER_SK)))
            .update_expression("SET #name = :name, email = :email, updated_at = :updated_at")
            .condition_expression("email = :current_email")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", s(updated.name.as_str()))
            .expression_attribute_values(":email", s(updated.email.as_str()))
            .expression_attribute_values(":updated_at", s(&updated.updated_at))
            .expression_attribute_values(":current_email", s(current.email.as_str()))
            .build()
            .map_err(ApiError::unexpected)?;
        let mut items = vec![TransactWriteItem::builder().update(user_update).build()];
        if let Some(new_email) = &new_email {
            items.push(self.put_new(email_claim_item(new_email, &current.id))?);
            items.push(self.delete_claim(&current.email, &current.id)?);
        }
        match self.transact(items).await? {
            Transaction::Committed => Ok(updated),
            Transaction::ConditionFailed(failed) if failed.get(1) == Some(&true) => {
                Err(ApiError::EmailTaken)
            }
            Transaction::ConditionFailed(_) => Err(ApiError::UserNotFound),
        }
    }

    /// Removes the user, its email claim and its reset token in one
    /// transaction. `UserNotFound` if it was deleted or its email changed
    /// meanwhile. A reset requested meanwhile replaced the token `current`
    /// knows of: the delete then reads the user again and removes the new
    /// one, so no reset token outlives its user.
    pub async fn delete_user(&self, current: &StoredUser) -> Result<(), ApiError> {
        let mut current = current.clone();
        for _ in 0..DELETE_TRIES {
            if self.try_delete_user(&current).await? {
                return Ok(());
            }
            match self.find_by_id(&current.user.id).await? {
                Some(now) if now.user.email == current.user.email => current = now,
                _ => return Err(ApiError::UserNotFound),
            }
        }
        Err(ApiError::Unavailable(
            "the user's reset token kept changing during the delete".into(),
        ))
    }

    /// One delete of the user as `current` knows it; `false` if the stored
    /// user no longer matches (deleted, email or reset token changed).
    async fn try_delete_user(&self, current: &StoredUser) -> Result<bool, ApiError> {
        let user = &current.user;
        let mut user_delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(&user.id), USER_SK)))
            .expression_attribute_values(":email", s(user.email.as_str()));
        user_delete = match &current.reset_token_hash {
            Some(hash) => user_delete
                .condition_expression("email = :email AND reset_token_hash = :reset_hash")
                .expression_attribute_values(":reset_hash", s(hash)),
            None => user_delete
                .condition_expression("email = :email AND attribute_not_exists(reset_token_hash)"),
        };
        let mut items = vec![
            TransactWriteItem::builder()
                .delete(user_delete.build().map_err(ApiError::unexpected)?)
                .build(),
            self.delete_claim(&user.email, &user.id)?,
        ];
        if let Some(hash) = &current.reset_token_hash {
            items.push(self.delete_reset_item(hash)?);
        }
        Ok(matches!(
            self.transact(items).await?,
            Transaction::Committed
        ))
    }

    /// Up to `limit` users created after `after`, oldest first, read from the
    /// sparse creation-order index (a Query, never a Scan).
    pub async fn list_users(
        &self,
        limit: usize,
        after: Option<&UserId>,
    ) -> Result<UserPage, ApiError> {
        // One extra item tells whether another page follows, so the last page
        // never points at an empty one.
        let fetch = i32::try_from(limit + 1).map_err(ApiError::unexpected)?;
        let start = after.map(|id| {
            HashMap::from([
                ("pk".to_owned(), s(&user_pk(id))),
                ("sk".to_owned(), s(USER_SK)),
                (INDEX_PARTITION_KEY.to_owned(), s(USER_LIST_PK)),
                (INDEX_SORT_KEY.to_owned(), s(id.as_str())),
            ])
        });
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(USERS_BY_CREATION_INDEX)
            .key_condition_expression("#pk = :users")
            .expression_attribute_names("#pk", INDEX_PARTITION_KEY)
            .expression_attribute_values(":users", s(USER_LIST_PK))
            .set_exclusive_start_key(start)
            .limit(fetch)
            .send()
            .await
            .map_err(sdk_error)?;
        let mut users = output
            .items
            .unwrap_or_default()
            .iter()
            .map(user_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let more = users.len() > limit;
        users.truncate(limit);
        let last = more
            .then(|| users.last().map(|user| user.id.clone()))
            .flatten();
        Ok(UserPage { users, last })
    }

    /// Grants or withdraws admin rights; `None` if no such user.
    pub async fn set_admin(&self, id: &UserId, admin: bool) -> Result<Option<User>, ApiError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(id), USER_SK)))
            .update_expression("SET admin = :admin, updated_at = :updated_at")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":admin", AttributeValue::Bool(admin))
            .expression_attribute_values(":updated_at", s(&rfc3339(unix_now())))
            .return_values(ReturnValue::AllNew);
        update_if(request)
            .await?
            .and_then(|output| output.attributes)
            .as_ref()
            .map(user_from_item)
            .transpose()
    }

    fn delete_claim(&self, email: &Email, owner: &UserId) -> Result<TransactWriteItem, ApiError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(email_pk(email), EMAIL_SK)))
            .condition_expression("user_id = :owner")
            .expression_attribute_values(":owner", s(owner.as_str()))
            .build()
            .map_err(ApiError::unexpected)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}

/// The item a new user is stored as.
pub fn user_item(user: &User, password_hash: &str) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(&user_pk(&user.id))),
        ("sk".to_owned(), s(USER_SK)),
        (INDEX_PARTITION_KEY.to_owned(), s(USER_LIST_PK)),
        (INDEX_SORT_KEY.to_owned(), s(user.id.as_str())),
        ("id".to_owned(), s(user.id.as_str())),
        ("email".to_owned(), s(user.email.as_str())),
        ("name".to_owned(), s(user.name.as_str())),
        ("admin".to_owned(), AttributeValue::Bool(user.admin)),
        ("created_at".to_owned(), s(&user.created_at)),
        ("updated_at".to_owned(), s(&user.updated_at)),
        ("password_hash".to_owned(), s(password_hash)),
        ("token_version".to_owned(), n(0)),
    ])
}

fn email_claim_item(email: &Email, user_id: &UserId) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(&email_pk(email))),
        ("sk".to_owned(), s(EMAIL_SK)),
        ("user_id".to_owned(), s(user_id.as_str())),
    ])
}
