//! The one-time tokens this API mails: password reset, email verification
//! and email change. Only the SHA-256 of a token is stored, in an item of
//! its own (`<KIND>#<sha256>`, with the user, the address it was mailed to
//! and its expiry) that the user item points at (`<kind>_token_hash`), so a
//! new token replaces the previous one and a delete removes it. Each use is
//! one transaction that deletes the token item on condition that it is
//! still there: of concurrent uses exactly one succeeds.
//!
//! A token item also records the user's `token_version` when it was
//! mailed. Reset and email-change tokens work only while that version
//! holds: whatever ends every session (a reset, a password change, a
//! logout of every or every other session) also ends them, so a change
//! started by someone who had the password does not outlive the owner's
//! recovery (API.md, "Changes to 1.1 behaviour").

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};

use super::items::{EMAIL_SK, NewToken, TokenKind, USER_SK, email_claim_item, token_pk};
use super::session_items::{SessionRecord, session_item};
use super::{
    Item, StoredUser, Transaction, UserStore, email_pk, key, n, number_attr, rfc3339, s,
    string_attr, updated_user, user_id_attr, user_pk,
};
use crate::config::SessionPolicy;
use crate::domain::{Email, User, UserId};
use crate::error::ApiError;

impl TokenKind {
    /// Whether the token ends with the sessions (module docs): those that
    /// could take the account from its owner.
    fn ends_with_sessions(self) -> bool {
        matches!(self, TokenKind::PasswordReset | TokenKind::EmailChange)
    }

    fn invalid(self) -> ApiError {
        match self {
            TokenKind::PasswordReset => ApiError::InvalidResetToken,
            TokenKind::EmailVerification => ApiError::InvalidVerificationToken,
            TokenKind::EmailChange | TokenKind::EmailChangeCancel => {
                ApiError::InvalidEmailChangeToken
            }
        }
    }
}

const DAY_SECONDS: u64 = 24 * 3600;
/// A verification link works for a day (API.md, "Email verification").
pub const VERIFICATION_TTL_SECONDS: u64 = DAY_SECONDS;
/// An email-change link works for an hour (API.md, "Update").
pub const EMAIL_CHANGE_TTL_SECONDS: u64 = 3600;
/// Email changes a user may start in a day.
pub const EMAIL_CHANGES_PER_DAY: usize = 10;
/// Reset and verification mails to one address in a day.
pub const MAILS_PER_DAY: usize = 5;

/// How often mail of one kind may go to one user.
#[derive(Debug, Clone, Copy)]
pub struct SendLimit {
    pub min_interval_seconds: u64,
    /// At most this many in 24 hours.
    pub per_day: usize,
}

impl TokenKind {
    /// API.md: a reset or verification mail at most once a minute and
    /// five times a day. An email change needs the current password each
    /// time, but a user who knows it could still mail any address over and
    /// over: ten a day, and each sends one cancel link to the old address.
    pub fn send_limit(self) -> SendLimit {
        match self {
            TokenKind::PasswordReset | TokenKind::EmailVerification => SendLimit {
                min_interval_seconds: 60,
                per_day: MAILS_PER_DAY,
            },
            TokenKind::EmailChange | TokenKind::EmailChangeCancel => SendLimit {
                min_interval_seconds: 0,
                per_day: EMAIL_CHANGES_PER_DAY,
            },
        }
    }
}

/// The tokens a user has outstanding, and when each kind was last mailed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PendingTokens {
    hashes: [Option<String>; 4],
    sends: [Vec<u64>; 4],
}

impl PendingTokens {
    pub fn hash(&self, kind: TokenKind) -> Option<&str> {
        self.hashes[kind as usize].as_deref()
    }

    /// When mail of this kind went to the user (the last 24 hours, oldest first).
    pub fn sends(&self, kind: TokenKind) -> &[u64] {
        &self.sends[kind as usize]
    }

    pub(super) fn from_item(item: &Item) -> Result<Self, ApiError> {
        let mut pending = Self::default();
        for kind in TokenKind::ALL {
            pending.hashes[kind as usize] = match item.get(kind.hash_attribute()) {
                None => None,
                Some(_) => Some(string_attr(item, kind.hash_attribute())?),
            };
            pending.sends[kind as usize] = match item.get(kind.sends_attribute()) {
                None => Vec::new(),
                Some(AttributeValue::L(times)) => times
                    .iter()
                    .map(|time| match time {
                        AttributeValue::N(time) => time.parse().ok(),
                        _ => None,
                    })
                    .collect::<Option<Vec<u64>>>()
                    .ok_or_else(|| super::malformed(kind.sends_attribute()))?,
                Some(_) => return Err(super::malformed(kind.sends_attribute())),
            };
        }
        Ok(pending)
    }

    /// The send times to store after a mail at `now`, or, when `limit`
    /// withholds it, the time from which a mail may go.
    fn after_send(&self, kind: TokenKind, limit: SendLimit, now: u64) -> Result<Vec<u64>, u64> {
        let mut recent: Vec<u64> = self
            .sends(kind)
            .iter()
            .copied()
            .filter(|sent| sent + DAY_SECONDS > now)
            .collect();
        let interval_ends = recent
            .last()
            .map_or(now, |last| last + limit.min_interval_seconds);
        // The oldest of the day's sends that must age out for one more.
        let day_ends = recent
            .len()
            .checked_sub(limit.per_day)
            .and_then(|excess| recent.get(excess))
            .map_or(now, |oldest| oldest + DAY_SECONDS);
        let allowed_from = interval_ends.max(day_ends);
        if allowed_from > now {
            return Err(allowed_from);
        }
        recent.push(now);
        Ok(recent)
    }
}

/// What became of a token to store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issue {
    /// Stored: its mail is due.
    Stored,
    /// The kind's send limit holds the mail back this long; the earlier
    /// token stays valid.
    Withheld { retry_after_seconds: u64 },
}

/// A stored token: whose it is, where it was mailed and until when it is valid.
#[derive(Debug)]
pub struct TokenTicket {
    pub user_id: UserId,
    pub sent_to: Email,
    pub expires_at: u64,
    /// The user's `token_version` when it was mailed (module docs).
    pub token_version: u64,
}

fn numbers(values: &[u64]) -> AttributeValue {
    AttributeValue::L(values.iter().map(|value| n(*value)).collect())
}

impl UserStore {
    /// The item a new token is stored as.
    pub(super) fn token_item(&self, token: &NewToken<'_>, user_id: &UserId) -> Item {
        let mut item = key(token_pk(token.kind, token.hash), token.kind.item_kind());
        item.insert("user_id".to_owned(), s(user_id.as_str()));
        item.insert("sent_to".to_owned(), s(token.sent_to.as_str()));
        item.insert("expires_at".to_owned(), n(token.expires_at));
        item.insert("token_version".to_owned(), n(token.token_version));
        item
    }

    /// Stores `token` for `user`, replacing its previous token of that kind,
    /// unless the kind's send limit withholds the mail (then nothing
    /// changes). The condition on the send times read makes the limit hold
    /// under concurrent requests: of those that read the same state, one
    /// writes, and the others are withheld.
    pub async fn issue_token(
        &self,
        user: &StoredUser,
        token: NewToken<'_>,
        now: u64,
    ) -> Result<Issue, ApiError> {
        let kind = token.kind;
        let sends = match user.pending.after_send(kind, kind.send_limit(), now) {
            Ok(sends) => sends,
            Err(allowed_from) => {
                return Ok(Issue::Withheld {
                    retry_after_seconds: allowed_from - now,
                });
            }
        };
        let mut user_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(&user.user.id), USER_SK)))
            .update_expression("SET #hash = :hash, #sends = :sends")
            .expression_attribute_names("#hash", kind.hash_attribute())
            .expression_attribute_names("#sends", kind.sends_attribute())
            .expression_attribute_values(":hash", s(token.hash))
            .expression_attribute_values(":sends", numbers(&sends))
            .expression_attribute_values(":email", s(user.user.email.as_str()));
        let previous = user.pending.sends(kind);
        user_update = if previous.is_empty() {
            user_update.condition_expression("email = :email AND attribute_not_exists(#sends)")
        } else {
            user_update
                .condition_expression("email = :email AND #sends = :previous")
                .expression_attribute_values(":previous", numbers(previous))
        };
        let mut items = vec![
            self.put_new(self.token_item(&token, &user.user.id))?,
            TransactWriteItem::builder()
                .update(user_update.build().map_err(ApiError::unexpected)?)
                .build(),
        ];
        if let Some(previous) = user.pending.hash(kind) {
            items.push(self.delete_token_item(kind, previous)?);
        }
        Ok(match self.transact(items).await? {
            Transaction::Committed => Issue::Stored,
            // Another request mailed meanwhile.
            Transaction::ConditionFailed(_) => Issue::Withheld {
                retry_after_seconds: kind.send_limit().min_interval_seconds.max(1),
            },
        })
    }

    /// Withdraws a token whose mail could not be sent, so no usable token
    /// exists that its owner never received; the send times go back to
    /// `sends_before` (those read before the token was issued), so the
    /// failed send does not count and a retry may follow at once.
    pub async fn cancel_token(
        &self,
        kind: TokenKind,
        user_id: &UserId,
        token_hash: &str,
        sends_before: &[u64],
    ) -> Result<(), ApiError> {
        let sends = sends_before;
        let mut user_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user_id), USER_SK)))
            .condition_expression("#hash = :hash")
            .expression_attribute_names("#hash", kind.hash_attribute())
            .expression_attribute_names("#sends", kind.sends_attribute())
            .expression_attribute_values(":hash", s(token_hash));
        user_update = if sends.is_empty() {
            user_update.update_expression("REMOVE #hash, #sends")
        } else {
            user_update
                .update_expression("SET #sends = :sends REMOVE #hash")
                .expression_attribute_values(":sends", numbers(sends))
        };
        let items = vec![
            self.delete_token_item(kind, token_hash)?,
            TransactWriteItem::builder()
                .update(user_update.build().map_err(ApiError::unexpected)?)
                .build(),
        ];
        // A failed condition means a newer request already replaced the token.
        self.transact(items).await.map(|_| ())
    }

    /// The unexpired token of this kind with this hash, if any. Expiry is
    /// checked here, never left to DynamoDB's TTL. An item without
    /// `token_version` was mailed before 1.2 and counts as none: such links
    /// end once, at the upgrade.
    pub async fn find_token(
        &self,
        kind: TokenKind,
        token_hash: &str,
        now: u64,
    ) -> Result<Option<TokenTicket>, ApiError> {
        let Some(item) = self
            .get_item(token_pk(kind, token_hash), kind.item_kind())
            .await?
        else {
            return Ok(None);
        };
        if !item.contains_key("token_version") {
            return Ok(None);
        }
        let ticket = TokenTicket {
            user_id: user_id_attr(&item, "user_id")?,
            sent_to: Email::parse(&string_attr(&item, "sent_to")?)
                .map_err(|_| super::malformed("sent_to"))?,
            expires_at: number_attr(&item, "expires_at")?,
            token_version: number_attr(&item, "token_version")?,
        };
        Ok(Some(ticket).filter(|ticket| ticket.expires_at > now))
    }

    /// The transaction steps that use a token: its item goes, on condition
    /// that it is still there and unexpired; the user is updated by
    /// `user_update`, on condition that the token is still its live one of
    /// that kind and that its address is still the one the token was
    /// mailed to (or, for an email change, the one it had when read), and,
    /// for the kinds that end with the sessions, that no session-ending
    /// change came since it was mailed.
    fn consume(
        &self,
        kind: TokenKind,
        token_hash: &str,
        ticket: &TokenTicket,
        now: u64,
        current_email: &Email,
        user_update: aws_sdk_dynamodb::types::builders::UpdateBuilder,
    ) -> Result<[TransactWriteItem; 2], ApiError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(token_pk(kind, token_hash), kind.item_kind())))
            .condition_expression("user_id = :user_id AND expires_at > :now")
            .expression_attribute_values(":user_id", s(ticket.user_id.as_str()))
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(ApiError::unexpected)?;
        let mut update = user_update
            .table_name(&self.table)
            .set_key(Some(key(user_pk(&ticket.user_id), USER_SK)))
            .expression_attribute_names("#hash", kind.hash_attribute())
            .expression_attribute_values(":token_hash", s(token_hash))
            .expression_attribute_values(":current_email", s(current_email.as_str()));
        update = if kind.ends_with_sessions() {
            update
                .condition_expression(
                    "#hash = :token_hash AND email = :current_email AND token_version = :mailed_at_version",
                )
                .expression_attribute_values(":mailed_at_version", n(ticket.token_version))
        } else {
            update.condition_expression("#hash = :token_hash AND email = :current_email")
        };
        let update = update.build().map_err(ApiError::unexpected)?;
        Ok([
            TransactWriteItem::builder().delete(delete).build(),
            TransactWriteItem::builder().update(update).build(),
        ])
    }

    /// Consumes a reset token and sets the new password in one transaction.
    /// The user's token version moves on (every session ends), the login
    /// lockout is cleared, and the address the token reached is verified.
    /// `InvalidResetToken` if the token was used, replaced or expired
    /// meanwhile, or the address changed since it was mailed.
    pub async fn complete_reset(
        &self,
        token_hash: &str,
        ticket: &TokenTicket,
        password_hash: &str,
        now: u64,
    ) -> Result<(), ApiError> {
        let kind = TokenKind::PasswordReset;
        let update = Update::builder()
            .update_expression(
                "SET password_hash = :password_hash, updated_at = :updated_at, \
                 email_verified = :verified ADD token_version :one REMOVE #hash",
            )
            .expression_attribute_values(":password_hash", s(password_hash))
            .expression_attribute_values(":updated_at", s(&rfc3339(now)))
            .expression_attribute_values(":verified", AttributeValue::Bool(true))
            .expression_attribute_values(":one", n(1));
        let mut items = self
            .consume(kind, token_hash, ticket, now, &ticket.sent_to, update)?
            .to_vec();
        items.push(self.delete_lockout(&ticket.sent_to)?);
        match self.transact(items).await? {
            Transaction::Committed => Ok(()),
            Transaction::ConditionFailed(_) => Err(kind.invalid()),
        }
    }

    /// Consumes a verification token and marks the address it reached
    /// verified, in one conditional update of the user: the token must
    /// still be the user's live one and the address the one it was mailed
    /// to, and the update removes it, so of concurrent uses exactly one
    /// succeeds. Returns the user as updated. The token's own item is left
    /// to its TTL (at most a day): nothing accepts it once the user no
    /// longer points at it, and leaving it saves a transaction (make
    /// bench). `InvalidVerificationToken` if it was used, replaced or the
    /// address changed since it was mailed.
    pub async fn verify_email(
        &self,
        token_hash: &str,
        ticket: &TokenTicket,
        now: u64,
    ) -> Result<User, ApiError> {
        let kind = TokenKind::EmailVerification;
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(&ticket.user_id), USER_SK)))
            .update_expression(
                "SET email_verified = :verified, updated_at = :updated_at REMOVE #hash",
            )
            .condition_expression("#hash = :token_hash AND email = :sent_to")
            .expression_attribute_names("#hash", kind.hash_attribute())
            .expression_attribute_values(":verified", AttributeValue::Bool(true))
            .expression_attribute_values(":updated_at", s(&rfc3339(now)))
            .expression_attribute_values(":token_hash", s(token_hash))
            .expression_attribute_values(":sent_to", s(ticket.sent_to.as_str()));
        updated_user(request).await?.ok_or_else(|| kind.invalid())
    }

    /// Consumes an email-change token: the user moves to the address the
    /// token reached, which is thereby verified, and the uniqueness claim
    /// moves with it, in one transaction. Tokens mailed to the old address
    /// (a pending reset above all) are withdrawn: none may outlive the
    /// mailbox it was sent to, the cancel link among them. `EmailTaken` if the new address was claimed
    /// meanwhile; `InvalidEmailChangeToken` if the token was used, replaced
    /// or expired, or the address changed meanwhile.
    pub async fn confirm_email_change(
        &self,
        token_hash: &str,
        ticket: &TokenTicket,
        current: &StoredUser,
        now: u64,
    ) -> Result<User, ApiError> {
        let kind = TokenKind::EmailChange;
        let user = &current.user;
        let updated = User {
            email: ticket.sent_to.clone(),
            email_verified: true,
            updated_at: rfc3339(now),
            ..user.clone()
        };
        let update = Update::builder()
            .update_expression(
                "SET email = :new_email, email_verified = :verified, updated_at = :updated_at \
                 REMOVE #hash, reset_token_hash, verify_token_hash, email_change_cancel_token_hash",
            )
            .expression_attribute_values(":new_email", s(updated.email.as_str()))
            .expression_attribute_values(":verified", AttributeValue::Bool(true))
            .expression_attribute_values(":updated_at", s(&updated.updated_at));
        let mut items = self
            .consume(kind, token_hash, ticket, now, &user.email, update)?
            .to_vec();
        items.push(self.put_new(email_claim_item(&updated.email, &user.id))?);
        items.push(self.delete_claim(&user.email, &user.id)?);
        for stale in [
            TokenKind::PasswordReset,
            TokenKind::EmailVerification,
            TokenKind::EmailChangeCancel,
        ] {
            if let Some(hash) = current.pending.hash(stale) {
                items.push(self.delete_token_item(stale, hash)?);
            }
        }
        match self.transact(items).await? {
            Transaction::Committed => Ok(updated),
            // A used or replaced token is the answer even when the address
            // is claimed too (by the use that won, say).
            Transaction::ConditionFailed(failed) if failed.iter().take(2).any(|failed| *failed) => {
                Err(kind.invalid())
            }
            Transaction::ConditionFailed(_) => Err(ApiError::EmailTaken),
        }
    }

    /// Consumes a cancel token (mailed to the old address with the notice of
    /// an email change): the pending change ends, its token with it, in one
    /// transaction. `InvalidEmailChangeToken` if the cancel token was used,
    /// replaced by a newer change's or expired, or the change completed.
    pub async fn cancel_email_change(
        &self,
        token_hash: &str,
        ticket: &TokenTicket,
        current: &StoredUser,
        now: u64,
    ) -> Result<(), ApiError> {
        let kind = TokenKind::EmailChangeCancel;
        let update = Update::builder()
            .update_expression("SET updated_at = :updated_at REMOVE #hash, email_change_token_hash")
            .expression_attribute_values(":updated_at", s(&rfc3339(now)));
        let mut items = self
            .consume(kind, token_hash, ticket, now, &ticket.sent_to, update)?
            .to_vec();
        if let Some(change) = current.pending.hash(TokenKind::EmailChange) {
            items.push(self.delete_token_item(TokenKind::EmailChange, change)?);
        }
        match self.transact(items).await? {
            Transaction::Committed => Ok(()),
            Transaction::ConditionFailed(_) => Err(kind.invalid()),
        }
    }

    /// Sets a new password and begins `session` in one transaction: the
    /// user's token version moves on, so every other session and every
    /// access token issued before ends, while `session` is stored at the
    /// new version, which also ends a pending reset or email change (module
    /// docs). The login lockout of the address is cleared (its
    /// password was just proven). `InvalidToken` if the password or the
    /// token version changed since `current` was read: the caller's session
    /// has ended meanwhile.
    pub async fn change_password(
        &self,
        current: &StoredUser,
        password_hash: &str,
        session: &SessionRecord,
        policy: &SessionPolicy,
        now: u64,
    ) -> Result<User, ApiError> {
        let user = &current.user;
        let updated = User {
            updated_at: rfc3339(now),
            ..user.clone()
        };
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(&user.id), USER_SK)))
            .update_expression(
                "SET password_hash = :new_hash, updated_at = :updated_at, token_version = :next",
            )
            .condition_expression("password_hash = :old_hash AND token_version = :current")
            .expression_attribute_values(":new_hash", s(password_hash))
            .expression_attribute_values(":old_hash", s(&current.password_hash))
            .expression_attribute_values(":updated_at", s(&updated.updated_at))
            .expression_attribute_values(":current", n(current.token_version))
            .expression_attribute_values(":next", n(session.epoch))
            .build()
            .map_err(ApiError::unexpected)?;
        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            self.put_new(session_item(session, policy))?,
            self.delete_lockout(&user.email)?,
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(updated),
            Transaction::ConditionFailed(_) => Err(ApiError::InvalidToken),
        }
    }

    /// Whether `email` is claimed by anyone (one consistent read).
    pub async fn email_is_claimed(&self, email: &Email) -> Result<bool, ApiError> {
        Ok(self.get_item(email_pk(email), EMAIL_SK).await?.is_some())
    }

    pub(super) fn delete_token_item(
        &self,
        kind: TokenKind,
        token_hash: &str,
    ) -> Result<TransactWriteItem, ApiError> {
        self.delete_if_present(token_pk(kind, token_hash), kind.item_kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_email_changes_a_day() {
        let kind = TokenKind::EmailChange;
        let limit = kind.send_limit();
        let nine: Vec<u64> = (1..=9).collect();
        assert!(
            with_sends(kind, nine.clone())
                .after_send(kind, limit, 100)
                .is_ok()
        );
        let ten: Vec<u64> = (1..=10).collect();
        assert_eq!(
            with_sends(kind, ten).after_send(kind, limit, 100),
            Err(1 + DAY_SECONDS)
        );
    }

    const LIMIT: SendLimit = SendLimit {
        min_interval_seconds: 60,
        per_day: 5,
    };

    fn with_sends(kind: TokenKind, sends: Vec<u64>) -> PendingTokens {
        let mut pending = PendingTokens::default();
        pending.sends[kind as usize] = sends;
        pending
    }

    #[test]
    fn a_mail_waits_a_minute_after_the_last_and_five_a_day_at_most() {
        let kind = TokenKind::EmailVerification;
        let now = 100_000;
        assert_eq!(
            PendingTokens::default().after_send(kind, LIMIT, now),
            Ok(vec![now])
        );
        assert_eq!(
            with_sends(kind, vec![now - 59]).after_send(kind, LIMIT, now),
            Err(now + 1)
        );
        assert_eq!(
            with_sends(kind, vec![now - 60]).after_send(kind, LIMIT, now),
            Ok(vec![now - 60, now])
        );
        let five = vec![now - 5000, now - 4000, now - 3000, now - 2000, now - 1000];
        assert_eq!(
            with_sends(kind, five).after_send(kind, LIMIT, now),
            Err(now - 5000 + DAY_SECONDS)
        );
        let old_and_four = vec![
            now - DAY_SECONDS,
            now - 4000,
            now - 3000,
            now - 2000,
            now - 1000,
        ];
        assert_eq!(
            with_sends(kind, old_and_four).after_send(kind, LIMIT, now),
            Ok(vec![now - 4000, now - 3000, now - 2000, now - 1000, now])
        );
    }

    #[test]
    fn each_kind_keeps_its_own_count() {
        let pending = with_sends(TokenKind::PasswordReset, vec![99_990]);
        assert_eq!(
            pending.after_send(TokenKind::EmailVerification, LIMIT, 100_000),
            Ok(vec![100_000])
        );
    }
}
