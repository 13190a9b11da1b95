//! Users and their email claims.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};

use super::items::{
    EMAIL_SK, NewToken, TokenKind, USER_LIST_PK, USER_SK, email_claim_item, user_item,
};
use super::schema::{INDEX_PARTITION_KEY, INDEX_SORT_KEY, USERS_BY_CREATION_INDEX};
use super::{
    Item, NewUser, StoredUser, Transaction, User, UserStore, email_pk, key, n, rfc3339, s,
    stored_user_from_item, updated_user, user_from_item, user_id_attr, user_pk,
};
use crate::clock::unix_now;
use crate::domain::{Email, UserId, UserName};
use crate::error::{ApiError, sdk_error};
use crate::password;

/// A delete that keeps meeting new mailed tokens gives up after this many reads.
const DELETE_TRIES: u32 = 3;

/// The partition of the decoy: an item shaped as a user's that no address
/// claims, outside every user's partition and the listing's index.
pub const DECOY_PK: &str = "DECOY";

struct EmailLookup {
    user: Option<StoredUser>,
    decoy_missing: bool,
}

/// One page of the admin listing, in creation order.
#[derive(Debug)]
pub struct UserPage {
    pub users: Vec<User>,
    /// The id of the last user on this page, when more follow.
    pub last: Option<UserId>,
}

impl UserStore {
    /// Creates the user, unverified, with the verification token that is
    /// about to be mailed, and claims its email, in one transaction:
    /// `EmailTaken` if the address is already claimed, and nothing written.
    pub async fn create_user(
        &self,
        new_user: NewUser,
        verification_hash: &str,
        verification_expires_at: u64,
    ) -> Result<User, ApiError> {
        let now = unix_now();
        let user = User {
            id: UserId::generate(),
            email: new_user.email,
            name: new_user.name,
            admin: false,
            email_verified: false,
            created_at: rfc3339(now),
            updated_at: rfc3339(now),
        };
        let token = NewToken {
            kind: TokenKind::EmailVerification,
            hash: verification_hash,
            sent_to: &user.email,
            expires_at: verification_expires_at,
            token_version: 0,
        };
        let mut item = user_item(&user, &new_user.password_hash);
        item.insert(token.kind.hash_attribute().to_owned(), s(verification_hash));
        item.insert(
            token.kind.sends_attribute().to_owned(),
            AttributeValue::L(vec![n(now)]),
        );
        let items = vec![
            self.put_new(item)?,
            self.put_new(email_claim_item(&user.email, &user.id))?,
            self.put_new(self.token_item(&token, &user.id))?,
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(user),
            Transaction::ConditionFailed(_) => Err(ApiError::EmailTaken),
        }
    }

    /// The user registered with `email`, if any. An unknown address costs
    /// the same two reads as a registered one, and both find an item: the
    /// second is the decoy's (`decoy_item`), so response times do not tell
    /// the two apart.
    pub async fn find_by_email(&self, email: &Email) -> Result<Option<StoredUser>, ApiError> {
        Ok(self.look_up(email).await?.user)
    }

    /// `find_by_email`, and where the decoy is missing (before a table's
    /// first unknown address) it is put there: only login, which answers
    /// registered and unknown addresses alike, may write it.
    pub async fn find_by_email_keeping_decoy(
        &self,
        email: &Email,
    ) -> Result<Option<StoredUser>, ApiError> {
        let lookup = self.look_up(email).await?;
        if lookup.decoy_missing {
            let request = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(decoy_item()?))
                .condition_expression("attribute_not_exists(pk)");
            match request.send().await {
                Ok(_) => {}
                // Another request put it first.
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(error) => return Err(sdk_error(error)),
            }
        }
        Ok(lookup.user)
    }

    async fn look_up(&self, email: &Email) -> Result<EmailLookup, ApiError> {
        let Some(claim) = self.get_item(email_pk(email), EMAIL_SK).await? else {
            let decoy = self.get_item(DECOY_PK.to_owned(), USER_SK).await?;
            // Read as a user's item is, for the same work.
            decoy.as_ref().map(stored_user_from_item).transpose()?;
            return Ok(EmailLookup {
                user: None,
                decoy_missing: decoy.is_none(),
            });
        };
        let user_id = user_id_attr(&claim, "user_id")?;
        Ok(EmailLookup {
            user: self.find_by_id(&user_id).await?,
            decoy_missing: false,
        })
    }

    pub async fn find_by_id(&self, id: &UserId) -> Result<Option<StoredUser>, ApiError> {
        let item = self.get_item(user_pk(id), USER_SK).await?;
        item.as_ref().map(stored_user_from_item).transpose()
    }

    /// Renames the user. `UserNotFound` if it was deleted meanwhile.
    pub async fn rename(&self, current: &User, name: UserName) -> Result<User, ApiError> {
        if name == current.name {
            return Ok(current.clone());
        }
        let updated = User {
            name,
            updated_at: rfc3339(unix_now()),
            ..current.clone()
        };
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(&current.id), USER_SK)))
            .update_expression("SET #name = :name, updated_at = :updated_at")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", s(updated.name.as_str()))
            .expression_attribute_values(":updated_at", s(&updated.updated_at));
        updated_user(request).await?.ok_or(ApiError::UserNotFound)
    }

    /// Removes the user, its email claim and its mailed tokens in one
    /// transaction. `UserNotFound` if it was deleted or its email changed
    /// meanwhile. A token mailed meanwhile replaced one `current` knows of:
    /// the delete then reads the user again and removes the new one, so no
    /// token outlives its user.
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
            "the user's mailed tokens kept changing during the delete".into(),
        ))
    }

    /// One delete of the user as `current` knows it; `false` if the stored
    /// user no longer matches (deleted, email or a mailed token changed).
    async fn try_delete_user(&self, current: &StoredUser) -> Result<bool, ApiError> {
        let user = &current.user;
        let mut conditions = vec!["email = :email".to_owned()];
        let mut user_delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(&user.id), USER_SK)))
            .expression_attribute_values(":email", s(user.email.as_str()));
        let mut token_deletes = Vec::new();
        for kind in TokenKind::ALL {
            let attribute = kind.hash_attribute();
            match current.pending.hash(kind) {
                Some(hash) => {
                    conditions.push(format!("{attribute} = :{attribute}"));
                    user_delete =
                        user_delete.expression_attribute_values(format!(":{attribute}"), s(hash));
                    token_deletes.push(self.delete_token_item(kind, hash)?);
                }
                None => conditions.push(format!("attribute_not_exists({attribute})")),
            }
        }
        let user_delete = user_delete
            .condition_expression(conditions.join(" AND "))
            .build()
            .map_err(ApiError::unexpected)?;
        let mut items = vec![
            TransactWriteItem::builder().delete(user_delete).build(),
            self.delete_claim(&user.email, &user.id)?,
        ];
        items.extend(token_deletes);
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
            .expression_attribute_values(":updated_at", s(&rfc3339(unix_now())));
        updated_user(request).await
    }

    pub(super) fn delete_claim(
        &self,
        email: &Email,
        owner: &UserId,
    ) -> Result<TransactWriteItem, ApiError> {
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

/// What an unknown address reads in place of a user: a user's attributes
/// (the dummy hash, the all-zero id, a reserved `.invalid` address), under
/// its own key and without the listing's index attributes.
fn decoy_item() -> Result<Item, ApiError> {
    let decoy = User {
        id: UserId::nil(),
        email: Email::parse("unknown-address@decoy.invalid").map_err(ApiError::unexpected)?,
        name: UserName::parse("Unknown address").map_err(ApiError::unexpected)?,
        admin: false,
        email_verified: true,
        created_at: rfc3339(0),
        updated_at: rfc3339(0),
    };
    let mut item = user_item(&decoy, password::DUMMY_HASH);
    item.insert("pk".to_owned(), s(DECOY_PK));
    item.remove(INDEX_PARTITION_KEY);
    item.remove(INDEX_SORT_KEY);
    Ok(item)
}
