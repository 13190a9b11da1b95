//! The DynamoDB user store: the only module that knows the table's layout.
//!
//! One table holds every kind of item, keyed by `pk` and `sk`:
//!
//! | item          | pk               | sk              | other attributes |
//! |---------------|------------------|-----------------|------------------|
//! | user          | `USER#<id>`      | `USER`          | id, email, name, admin, email_verified, created_at, updated_at, password_hash, token_version, {reset,verify,email_change,email_change_cancel}_token_hash?, {…}_sends?, list_pk = `USER`, list_sk = id |
//! | email claim   | `EMAIL#<email>`  | `EMAIL`         | user_id |
//! | session       | `SESSIONS#<id>`  | `SESSION#<sid>` | session_id, user_id, created_at, last_used_at, user_agent?, epoch, counter, rotated_at, expires_at (no key: `refresh_token`) |
//! | mailed token  | `RESET#<sha256>`, `VERIFY#…`, `EMAIL_CHANGE#…`, `CANCEL_EMAIL_CHANGE#…` | the same kind | user_id, sent_to, expires_at, token_version |
//! | login lockout | `LOGIN#<email>`  | `LOGIN`         | attempts, reserved_at_ms, locked_until_ms?, lock_attempt?, expires_at |
//! | client count  | `CLIENT#<kind>#<address>` | `<window start>` | requests, expires_at |
//! | signing keys  | `KEYS`           | `KEYS`          | key_set (JSON: the published public keys, the active kid), version |
//! | decoy         | `DECOY`          | `USER`          | a user item's attributes (the dummy hash, the all-zero id), no `list_pk`: what an unknown address's lookup reads |
//!
//! The email claim makes addresses unique: it is written in the same
//! transaction as the user, on condition that it does not exist yet. User
//! items alone carry `list_pk`/`list_sk`, so the `users_by_creation` index is
//! sparse and lists users in creation order (ids are UUIDv7). Every write that
//! must stay consistent is one transaction or one conditional write. Expiry is
//! checked in code; the TTL attribute `expires_at` only cleans up.

pub mod client_limits;
mod items;
pub mod keys;
mod lockout;
pub mod mail_tokens;
pub mod permissions;
pub mod schema;
pub mod session_items;
mod sessions;
mod users;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_get_items::TransactGetItemsError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Delete, Put, ReturnValue, TransactWriteItem,
};

use crate::domain::{Email, User, UserId, UserName};
use crate::error::{ApiError, cause_chain, sdk_error};

pub use items::{NewToken, TokenKind, user_item};
pub use lockout::LOCKOUT_THRESHOLD;
pub use mail_tokens::{
    EMAIL_CHANGE_TTL_SECONDS, EMAIL_CHANGES_PER_DAY, Issue, PendingTokens, SendLimit, TokenTicket,
    VERIFICATION_TTL_SECONDS,
};
pub use sessions::Session;
pub use users::UserPage;

/// A DynamoDB item as the SDK gives and takes it.
pub type Item = HashMap<String, AttributeValue>;

/// How often a request that meets a transaction in flight is sent at most.
const CONFLICT_ATTEMPTS: u32 = 3;

/// A user with what only the service may see. Not serialisable, so none of
/// it can end up in a response, and its `Debug` leaves the hash out, so
/// none of it can end up in a log line either.
#[derive(Clone)]
pub struct StoredUser {
    pub user: User,
    pub password_hash: String,
    /// Bumped by a password reset or change and by a global logout; a
    /// session is live only at the version it was begun or moved to.
    pub token_version: u64,
    /// The mailed tokens outstanding (hashes) and the recent mails.
    pub pending: PendingTokens,
}

impl std::fmt::Debug for StoredUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredUser")
            .field("user", &self.user)
            .field("password_hash", &"[redacted]")
            .field("token_version", &self.token_version)
            .field("pending", &"[redacted]")
            .finish()
    }
}

pub struct NewUser {
    pub email: Email,
    pub name: UserName,
    pub password_hash: String,
}

#[derive(Clone)]
pub struct UserStore {
    client: Client,
    table: String,
}

/// How a conditional transaction ended.
enum Transaction {
    Committed,
    /// Cancelled because these items' conditions failed (by position).
    ConditionFailed(Vec<bool>),
}

impl UserStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Reads the key set during the cold start of a function that needs no
    /// keys: the connection (and on AWS its TLS handshake), the endpoint and
    /// the credentials are then ready when the first request comes. A
    /// failure changes nothing (the first request will meet the same outage
    /// and answer 503), so it is only logged.
    pub async fn warm_up(&self) {
        if let Err(error) = self.key_set().await {
            tracing::warn!(cause = %cause_chain(&error), "the DynamoDB connection could not be primed");
        }
    }

    async fn get_item(&self, pk: String, sk: &str) -> Result<Option<Item>, ApiError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(output.item)
    }

    /// A transaction step that creates `item`, on condition that no item
    /// has its key yet.
    fn put_new(&self, item: Item) -> Result<TransactWriteItem, ApiError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(ApiError::unexpected)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A transaction step that deletes the item at this key, if there is one.
    fn delete_if_present(&self, pk: String, sk: &str) -> Result<TransactWriteItem, ApiError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .build()
            .map_err(ApiError::unexpected)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Transaction, ApiError> {
        let request = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items));
        let result = retry_conflicts(cancelled_by_conflict, || request.clone().send()).await;
        let error = match result {
            Ok(_) => return Ok(Transaction::Committed),
            Err(error) => error,
        };
        let failed_conditions: Option<Vec<bool>> = error
            .as_service_error()
            .and_then(Transactional::cancellation_reasons)
            .filter(|reasons| {
                reasons
                    .iter()
                    .any(|reason| reason.code() == Some("ConditionalCheckFailed"))
            })
            .map(|reasons| {
                reasons
                    .iter()
                    .map(|reason| reason.code() == Some("ConditionalCheckFailed"))
                    .collect()
            });
        match failed_conditions {
            Some(failed) => Ok(Transaction::ConditionFailed(failed)),
            None => Err(transaction_failure(error)),
        }
    }
}

/// Sends a conditional update (again while it meets a transaction in
/// flight); `None` when its condition failed.
async fn update_if(request: UpdateItemFluentBuilder) -> Result<Option<UpdateItemOutput>, ApiError> {
    match retry_conflicts(conflicts_with_transaction, || request.clone().send()).await {
        Ok(output) => Ok(Some(output)),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Ok(None)
        }
        Err(error) => Err(sdk_error(error)),
    }
}

/// Sends a conditional update of a user item; the user as updated, or
/// `None` when its condition failed.
async fn updated_user(request: UpdateItemFluentBuilder) -> Result<Option<User>, ApiError> {
    update_if(request.return_values(ReturnValue::AllNew))
        .await?
        .and_then(|output| output.attributes)
        .as_ref()
        .map(user_from_item)
        .transpose()
}

/// Sends a request again, a bounded number of times, while it meets a
/// transaction in flight on the same item: real DynamoDB cancels such a
/// request (`TransactionConflict`) instead of queueing it, and a retry then
/// sees the winner's write (and fails its condition where it should). The
/// last error is returned as it is; `sdk_error` and
/// `cancelled_transaction_error` make a conflict past the retries a 503.
async fn retry_conflicts<T, E, R, Fut>(
    is_conflict: impl Fn(&E) -> bool,
    mut send: impl FnMut() -> Fut,
) -> Result<T, SdkError<E, R>>
where
    Fut: Future<Output = Result<T, SdkError<E, R>>>,
{
    let mut attempt = 1;
    loop {
        match send().await {
            Err(error)
                if attempt < CONFLICT_ATTEMPTS
                    && error.as_service_error().is_some_and(&is_conflict) =>
            {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
            }
            result => return result,
        }
    }
}

/// Whether a plain request was refused because a transaction held its item.
fn conflicts_with_transaction<E: ProvideErrorMetadata>(error: &E) -> bool {
    error.code() == Some("TransactionConflictException")
}

/// The errors of the two transaction operations, read alike.
trait Transactional {
    /// Why each item cancelled the transaction; `None` for any other error.
    fn cancellation_reasons(&self) -> Option<&[CancellationReason]>;
}

impl Transactional for TransactWriteItemsError {
    fn cancellation_reasons(&self) -> Option<&[CancellationReason]> {
        match self {
            Self::TransactionCanceledException(cancelled) => Some(cancelled.cancellation_reasons()),
            _ => None,
        }
    }
}

impl Transactional for TransactGetItemsError {
    fn cancellation_reasons(&self) -> Option<&[CancellationReason]> {
        match self {
            Self::TransactionCanceledException(cancelled) => Some(cancelled.cancellation_reasons()),
            _ => None,
        }
    }
}

/// Whether a transaction was cancelled because another held one of its items.
fn cancelled_by_conflict(error: &impl Transactional) -> bool {
    error.cancellation_reasons().is_some_and(|reasons| {
        reasons
            .iter()
            .any(|reason| reason.code() == Some("TransactionConflict"))
    })
}

/// The error of a transaction that did not go through: cancelled (for a
/// reason other than a failed condition) or failed before it ran.
fn transaction_failure<E, R>(error: SdkError<E, R>) -> ApiError
where
    E: Transactional + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match error
        .as_service_error()
        .and_then(Transactional::cancellation_reasons)
        .map(<[CancellationReason]>::to_vec)
    {
        Some(reasons) => cancelled_transaction_error(&reasons, error),
        None => sdk_error(error),
    }
}

/// A transaction cancelled for a reason other than a failed condition: a
/// conflict past the retries or throttling is a 503, anything else a 500.
fn cancelled_transaction_error<E, R>(
    reasons: &[CancellationReason],
    error: SdkError<E, R>,
) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let transient = reasons.iter().any(|reason| {
        matches!(
            reason.code(),
            Some("TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded")
        )
    });
    if transient {
        ApiError::Unavailable(Box::new(error))
    } else {
        sdk_error(error)
    }
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk)),
        ("sk".to_owned(), s(sk)),
    ])
}

fn user_pk(id: &UserId) -> String {
    format!("USER#{id}")
}

fn email_pk(email: &Email) -> String {
    format!("EMAIL#{}", email.as_str())
}

pub fn rfc3339(unix_seconds: u64) -> String {
    let seconds = i64::try_from(unix_seconds).unwrap_or(i64::MAX);
    DateTime::from_secs(seconds)
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_default()
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn string_attr(item: &Item, name: &'static str) -> Result<String, ApiError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(malformed(name)),
    }
}

fn optional_number_attr(item: &Item, name: &'static str) -> Result<Option<u64>, ApiError> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::N(value)) => value.parse().map(Some).map_err(|_| malformed(name)),
        Some(_) => Err(malformed(name)),
    }
}

fn number_attr(item: &Item, name: &'static str) -> Result<u64, ApiError> {
    optional_number_attr(item, name)?.ok_or_else(|| malformed(name))
}

fn user_id_attr(item: &Item, name: &'static str) -> Result<UserId, ApiError> {
    UserId::parse(&string_attr(item, name)?).ok_or_else(|| malformed(name))
}

/// Items are written only by this module, so a value that does not parse is
/// corrupt data: an unexpected error with the attribute named, never a panic.
fn malformed(attribute: &'static str) -> ApiError {
    ApiError::unexpected(MalformedItem(attribute))
}

#[derive(Debug, thiserror::Error)]
#[error("a stored item has a missing or malformed attribute `{0}`")]
struct MalformedItem(&'static str);

/// The public user fields of an item (a user item or its index projection).
fn user_from_item(item: &Item) -> Result<User, ApiError> {
    Ok(User {
        id: user_id_attr(item, "id")?,
        email: Email::parse(&string_attr(item, "email")?).map_err(|_| malformed("email"))?,
        name: UserName::parse(&string_attr(item, "name")?).map_err(|_| malformed("name"))?,
        admin: match item.get("admin") {
            Some(AttributeValue::Bool(admin)) => *admin,
            _ => return Err(malformed("admin")),
        },
        // Accounts from before verification existed never proved their
        // address: they are unverified, and may ask for a verification mail.
        email_verified: match item.get("email_verified") {
            None => false,
            Some(AttributeValue::Bool(verified)) => *verified,
            Some(_) => return Err(malformed("email_verified")),
        },
        created_at: string_attr(item, "created_at")?,
        updated_at: string_attr(item, "updated_at")?,
    })
}

/// Reads a user item; `Unexpected` if any attribute is missing or mistyped.
pub fn stored_user_from_item(item: &Item) -> Result<StoredUser, ApiError> {
    Ok(StoredUser {
        user: user_from_item(item)?,
        password_hash: string_attr(item, "password_hash")?,
        token_version: number_attr(item, "token_version")?,
        pending: PendingTokens::from_item(item)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn sample_user() -> User {
        User {
            id: UserId::generate(),
            email: Email::parse("ada@example.com").unwrap(),
            name: UserName::parse("Ada").unwrap(),
            admin: false,
            email_verified: false,
            created_at: rfc3339(0),
            updated_at: rfc3339(0),
        }
    }

    #[test]
    fn a_user_survives_the_trip_through_an_item() {
        let user = sample_user();
        let stored = stored_user_from_item(&items::user_item(&user, "$argon2id$...")).unwrap();
        assert_eq!(stored.user, user);
        assert_eq!(stored.token_version, 0);
        assert_eq!(stored.pending.hash(TokenKind::PasswordReset), None);
    }

    #[test]
    fn an_item_missing_an_attribute_is_an_unexpected_error() {
        let mut item = items::user_item(&sample_user(), "$argon2id$...");
        item.remove("email");
        assert!(matches!(
            user_from_item(&item),
            Err(ApiError::Unexpected(_))
        ));
    }

    fn conflict_reason() -> CancellationReason {
        CancellationReason::builder()
            .code("TransactionConflict")
            .build()
    }

    #[tokio::test]
    async fn a_request_meeting_a_transaction_is_sent_again_and_then_succeeds() {
        use aws_sdk_dynamodb::types::error::TransactionCanceledException;

        let mut sent = 0;
        let result: Result<&str, SdkError<TransactGetItemsError, ()>> =
            retry_conflicts(cancelled_by_conflict, || {
                sent += 1;
                let attempt = sent;
                async move {
                    if attempt < CONFLICT_ATTEMPTS {
                        let cancelled = TransactionCanceledException::builder()
                            .cancellation_reasons(conflict_reason())
                            .build();
                        Err(SdkError::service_error(
                            TransactGetItemsError::TransactionCanceledException(cancelled),
                            (),
                        ))
                    } else {
                        Ok("read")
                    }
                }
            })
            .await;
        assert_eq!(result.unwrap(), "read");
        assert_eq!(sent, CONFLICT_ATTEMPTS);
    }

    #[test]
    fn a_conflict_past_the_retries_or_throttling_is_a_503_not_a_500() {
        use aws_sdk_dynamodb::error::ErrorMetadata;
        use aws_sdk_dynamodb::operation::transact_get_items::TransactGetItemsError;
        use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
        use aws_sdk_dynamodb::types::error::{
            TransactionCanceledException, TransactionConflictException,
        };

        let cancelled = |code: &str| {
            let reason = CancellationReason::builder().code(code).build();
            let error = SdkError::service_error(
                TransactGetItemsError::TransactionCanceledException(
                    TransactionCanceledException::builder()
                        .cancellation_reasons(reason.clone())
                        .build(),
                ),
                (),
            );
            cancelled_transaction_error(&[reason], error)
        };
        assert!(matches!(
            cancelled("TransactionConflict"),
            ApiError::Unavailable(_)
        ));
        assert!(matches!(
            cancelled("ThrottlingError"),
            ApiError::Unavailable(_)
        ));
        assert!(matches!(
            cancelled("ValidationError"),
            ApiError::Unexpected(_)
        ));

        let plain_write_conflict = SdkError::service_error(
            UpdateItemError::TransactionConflictException(
                TransactionConflictException::builder()
                    .meta(
                        ErrorMetadata::builder()
                            .code("TransactionConflictException")
                            .build(),
                    )
                    .build(),
            ),
            (),
        );
        assert!(conflicts_with_transaction(
            plain_write_conflict.as_service_error().unwrap()
        ));
        assert!(matches!(
            sdk_error(plain_write_conflict),
            ApiError::Unavailable(_)
        ));
    }

    #[test]
    fn a_stored_user_never_prints_its_hashes() {
        let mut item = items::user_item(&sample_user(), "$argon2id$secret");
        item.insert("reset_token_hash".into(), s("reset-hash-secret"));
        let stored = stored_user_from_item(&item).unwrap();
        assert_eq!(
            stored.pending.hash(TokenKind::PasswordReset),
            Some("reset-hash-secret")
        );
        let printed = format!("{stored:?}");
        assert!(!printed.contains("secret"), "{printed}");
        assert!(printed.contains("[redacted]"));
    }

    #[test]
    fn the_user_object_has_exactly_the_contract_fields() {
        let json = serde_json::to_value(sample_user()).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "admin",
                "created_at",
                "email",
                "email_verified",
                "id",
                "name",
                "updated_at"
            ]
        );
        assert_eq!(json["created_at"], "1970-01-01T00:00:00Z");
    }
}
