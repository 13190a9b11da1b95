//! The keys and shapes of the items that more than one kind of store call
//! writes (a user, its email claim, a mailed token's kinds): here, so that
//! the modules that write them import from one place below them, not from
//! each other.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::schema::{INDEX_PARTITION_KEY, INDEX_SORT_KEY};
use super::{Item, email_pk, n, s, user_pk};
use crate::domain::{Email, User, UserId};

pub(super) const USER_SK: &str = "USER";
pub(super) const EMAIL_SK: &str = "EMAIL";
/// The listing index's partition of every user item.
pub(super) const USER_LIST_PK: &str = "USER";

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
        (
            "email_verified".to_owned(),
            AttributeValue::Bool(user.email_verified),
        ),
        ("created_at".to_owned(), s(&user.created_at)),
        ("updated_at".to_owned(), s(&user.updated_at)),
        ("password_hash".to_owned(), s(password_hash)),
        ("token_version".to_owned(), n(0)),
    ])
}

pub(super) fn email_claim_item(email: &Email, user_id: &UserId) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(&email_pk(email))),
        ("sk".to_owned(), s(EMAIL_SK)),
        ("user_id".to_owned(), s(user_id.as_str())),
    ])
}

/// What a mailed token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    PasswordReset,
    EmailVerification,
    EmailChange,
    /// Mailed to the old address with the notice of an email change: it
    /// cancels the change with no login.
    EmailChangeCancel,
}

impl TokenKind {
    pub const ALL: [TokenKind; 4] = [
        TokenKind::PasswordReset,
        TokenKind::EmailVerification,
        TokenKind::EmailChange,
        TokenKind::EmailChangeCancel,
    ];

    /// The token item's sort key, and its partition key's prefix.
    pub(super) fn item_kind(self) -> &'static str {
        match self {
            TokenKind::PasswordReset => "RESET",
            TokenKind::EmailVerification => "VERIFY",
            TokenKind::EmailChange => "EMAIL_CHANGE",
            TokenKind::EmailChangeCancel => "CANCEL_EMAIL_CHANGE",
        }
    }

    /// The user attribute holding the live token's hash.
    pub(super) fn hash_attribute(self) -> &'static str {
        match self {
            TokenKind::PasswordReset => "reset_token_hash",
            TokenKind::EmailVerification => "verify_token_hash",
            TokenKind::EmailChange => "email_change_token_hash",
            TokenKind::EmailChangeCancel => "email_change_cancel_token_hash",
        }
    }

    /// The user attribute with the times of this kind's mails in the last
    /// 24 hours, newest last: the send limits are counted on it.
    pub(super) fn sends_attribute(self) -> &'static str {
        match self {
            TokenKind::PasswordReset => "reset_sends",
            TokenKind::EmailVerification => "verify_sends",
            TokenKind::EmailChange => "email_change_sends",
            TokenKind::EmailChangeCancel => "email_change_cancel_sends",
        }
    }
}

/// A token to store for a user: its hash, the address it goes to and its expiry.
pub struct NewToken<'a> {
    pub kind: TokenKind,
    pub hash: &'a str,
    pub sent_to: &'a Email,
    pub expires_at: u64,
    /// The user's `token_version` now.
    pub token_version: u64,
}

pub(super) fn token_pk(kind: TokenKind, token_hash: &str) -> String {
    format!("{}#{token_hash}", kind.item_kind())
}
