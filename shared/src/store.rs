//! The DynamoDB user store: the only module that knows the table's layout.
//!
//! One table holds every kind of item, keyed by `pk` and `sk`:
//!
//! | item        | pk                | sk      | other attributes |
//! |-------------|-------------------|---------|------------------|
//! | user        | `USER#<id>`       | `USER`  | id, email, name, admin, created_at, updated_at, password_hash, list_pk = `USER`, list_sk = id |
//! | email claim | `EMAIL#<email>`   | `EMAIL` | user_id |
//!
//! The email claim makes addresses unique: it is written in the same
//! transaction as the user, on condition that it does not exist yet.
//! User items alone carry `list_pk`/`list_sk`, so the `users_by_creation`
//! index is sparse and lists users in creation order (ids are UUIDv7).

pub mod schema;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::Serialize;

use crate::domain::{Email, UserId, UserName};
use crate::error::{ApiError, BoxError};
use crate::token::unix_now;

type Item = HashMap<String, AttributeValue>;

const USER_SK: &str = "USER";
const EMAIL_SK: &str = "EMAIL";
const USER_LIST_PK: &str = "USER";
/// Real DynamoDB cancels a transaction that races another on the same item
/// (`TransactionConflict`) instead of queueing it; a retry then sees the
/// winner's write and fails its condition as it should.
const TRANSACTION_CONFLICT_ATTEMPTS: u32 = 3;

/// A user as the API shows it: exactly the fields of API.md's user object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub name: UserName,
    pub admin: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A user with the password hash, for logging in. Not serialisable, so the
/// hash cannot end up in a response.
#[derive(Debug)]
pub struct UserCredentials {
    pub user: User,
    pub password_hash: String,
}

#[derive(Debug)]
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

impl UserStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates the user and claims its email in one transaction:
    /// `EmailTaken` if the address is already claimed, and nothing written.
    #[tracing::instrument(name = "Store a new user", skip_all, fields(user_id))]
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
        tracing::Span::current().record("user_id", user.id.as_str());

        let user_item = Put::builder()
            .table_name(&self.table)
            .set_item(Some(user_item(&user, &new_user.password_hash)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(ApiError::unexpected)?;
        let claim_item = Put::builder()
            .table_name(&self.table)
            .set_item(Some(email_claim_item(&user.email, &user.id)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(ApiError::unexpected)?;

        let mut attempt = 1;
        loop {
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(user_item.clone()).build())
                .transact_items(TransactWriteItem::builder().put(claim_item.clone()).build())
                .send()
                .await;
            let Err(error) = result else { return Ok(user) };
            match cancellation_reasons(&error).as_deref() {
                Some([_, "ConditionalCheckFailed"]) => return Err(ApiError::EmailTaken),
                Some(reasons)
                    if reasons.contains(&"TransactionConflict")
                        && attempt < TRANSACTION_CONFLICT_ATTEMPTS =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                }
                _ => return Err(sdk_error(error)),
            }
        }
    }

    pub async fn find_by_id(&self, id: &UserId) -> Result<Option<User>, ApiError> {
        let item = self.get_item(user_pk(id), USER_SK).await?;
        item.map(|item| user_from_item(&item)).transpose()
    }

    /// The user registered with `email` and its password hash, if any.
    pub async fn find_credentials(
        &self,
        email: &Email,
    ) -> Result<Option<UserCredentials>, ApiError> {
        let Some(claim) = self.get_item(email_pk(email), EMAIL_SK).await? else {
            return Ok(None);
        };
        let user_id = UserId::parse(&string_attr(&claim, "user_id")?)
            .ok_or_else(|| ApiError::unexpected(MalformedItem("user_id")))?;
        // A claim without its user can only be seen between the two writes of
        // a delete; it is an unknown account, as it is about to be.
        let Some(item) = self.get_item(user_pk(&user_id), USER_SK).await? else {
            return Ok(None);
        };
        Ok(Some(UserCredentials {
            user: user_from_item(&item)?,
            password_hash: string_attr(&item, "password_hash")?,
        }))
    }

    async fn get_item(&self, pk: String, sk: &str) -> Result<Option<Item>, ApiError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(output.item)
    }
}

fn user_pk(id: &UserId) -> String {
    format!("USER#{id}")
}

fn email_pk(email: &Email) -> String {
    format!("EMAIL#{}", email.as_str())
}

fn rfc3339(unix_seconds: u64) -> String {
    let seconds = i64::try_from(unix_seconds).unwrap_or(i64::MAX);
    DateTime::from_secs(seconds)
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_default()
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn user_item(user: &User, password_hash: &str) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(&user_pk(&user.id))),
        ("sk".to_owned(), s(USER_SK)),
        ("list_pk".to_owned(), s(USER_LIST_PK)),
        ("list_sk".to_owned(), s(user.id.as_str())),
        ("id".to_owned(), s(user.id.as_str())),
        ("email".to_owned(), s(user.email.as_str())),
        ("name".to_owned(), s(user.name.as_str())),
        ("admin".to_owned(), AttributeValue::Bool(user.admin)),
        ("created_at".to_owned(), s(&user.created_at)),
        ("updated_at".to_owned(), s(&user.updated_at)),
        ("password_hash".to_owned(), s(password_hash)),
    ])
}

fn email_claim_item(email: &Email, user_id: &UserId) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(&email_pk(email))),
        ("sk".to_owned(), s(EMAIL_SK)),
        ("user_id".to_owned(), s(user_id.as_str())),
    ])
}

/// Items are written only by this module, so a value that does not parse
/// is corrupt data: an unexpected error, never a panic.
fn user_from_item(item: &Item) -> Result<User, ApiError> {
    let malformed = |attribute| ApiError::unexpected(MalformedItem(attribute));
    Ok(User {
        id: UserId::parse(&string_attr(item, "id")?).ok_or_else(|| malformed("id"))?,
        email: Email::parse(&string_attr(item, "email")?).map_err(|_| malformed("email"))?,
        name: UserName::parse(&string_attr(item, "name")?).map_err(|_| malformed("name"))?,
        admin: match item.get("admin") {
            Some(AttributeValue::Bool(admin)) => *admin,
            _ => return Err(malformed("admin")),
        },
        created_at: string_attr(item, "created_at")?,
        updated_at: string_attr(item, "updated_at")?,
    })
}

fn string_attr(item: &Item, name: &'static str) -> Result<String, ApiError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(ApiError::unexpected(MalformedItem(name))),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a stored item has a missing or malformed attribute `{0}`")]
struct MalformedItem(&'static str);

/// The per-item cancellation codes of a cancelled transaction ("None" where
/// an item was fine), or `None` for any other error.
fn cancellation_reasons<R>(error: &SdkError<TransactWriteItemsError, R>) -> Option<Vec<&str>> {
    match error.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => Some(
            cancelled
                .cancellation_reasons()
                .iter()
                .map(|reason| reason.code().unwrap_or("None"))
                .collect(),
        ),
        _ => None,
    }
}

/// DynamoDB out of reach, or throttling past the SDK's retries, is 503;
/// anything else from the SDK is unexpected (500). Either way the cause is
/// kept for the log and never shown to the client.
pub(crate) fn sdk_error<E, R>(error: SdkError<E, R>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let unavailable = match &error {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => true,
        SdkError::ServiceError(service) => matches!(
            service.err().code(),
            Some(
                "ThrottlingException"
                    | "ProvisionedThroughputExceededException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
            )
        ),
        _ => false,
    };
    let cause: BoxError = Box::new(error);
    if unavailable {
        ApiError::Unavailable(cause)
    } else {
        ApiError::Unexpected(cause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_user() -> User {
        User {
            id: UserId::generate(),
            email: Email::parse("ada@example.com").unwrap(),
            name: UserName::parse("Ada").unwrap(),
            admin: false,
            created_at: rfc3339(0),
            updated_at: rfc3339(0),
        }
    }

    #[test]
    fn a_user_survives_the_trip_through_an_item() {
        let user = sample_user();
        assert_eq!(
            user_from_item(&user_item(&user, "$argon2id$...")).unwrap(),
            user
        );
    }

    #[test]
    fn an_item_missing_an_attribute_is_an_unexpected_error() {
        let mut item = user_item(&sample_user(), "$argon2id$...");
        item.remove("email");
        assert!(matches!(
            user_from_item(&item),
            Err(ApiError::Unexpected(_))
        ));
    }

    #[test]
    fn the_user_object_has_exactly_the_contract_fields() {
        let json = serde_json::to_value(sample_user()).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["admin", "created_at", "email", "id", "name", "updated_at"]
        );
        assert_eq!(json["created_at"], "1970-01-01T00:00:00Z");
    }
}
