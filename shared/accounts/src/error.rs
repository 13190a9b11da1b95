//! The one error type of the API. Its one mapping to an HTTP response
//! (status, code and body) is `http_api::http::respond`: expected failures
//! become 4xx responses, never an `Err` handed to the Lambda runtime (which
//! API Gateway would turn into a 502).

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt::Write as _;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Field name to what is wrong with it, as sent in the `fields` member.
pub type FieldErrors = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("The request body must be a JSON object.")]
    InvalidJson,
    #[error("The request body must be sent as application/json.")]
    UnsupportedMediaType,
    #[error("The request body is larger than 16 KiB.")]
    PayloadTooLarge,
    #[error("Some required fields are missing.")]
    MissingFields(FieldErrors),
    #[error("Some fields are invalid.")]
    Validation(FieldErrors),
    #[error("An account with this email address already exists.")]
    EmailTaken,
    #[error("The email address or password is incorrect.")]
    InvalidCredentials,
    #[error("The access token is missing, malformed, expired or revoked.")]
    InvalidToken,
    #[error("This action needs admin rights.")]
    AdminRequired,
    #[error("The user does not exist.")]
    UserNotFound,
    #[error("Too many failed login attempts. Try again later.")]
    TooManyAttempts { retry_after_seconds: u64 },
    #[error("Too many requests from this address. Try again later.")]
    TooManyRequests { retry_after_seconds: u64 },
    #[error("The reset token is invalid, expired or already used.")]
    InvalidResetToken,
    #[error(
        "The email address is not verified yet. Open the link in the verification email, or ask for a new one."
    )]
    EmailNotVerified,
    #[error("The verification token is invalid, expired or already used.")]
    InvalidVerificationToken,
    #[error("The email change token is invalid, expired or already used.")]
    InvalidEmailChangeToken,
    #[error("The refresh token is not one this API issued, or its session has ended.")]
    InvalidRefreshToken,
    #[error("The refresh token was already used: the session has ended. Log in again.")]
    RefreshTokenReused,
    #[error("The session has expired. Log in again.")]
    SessionExpired,
    #[error("No such session.")]
    SessionNotFound,
    #[error("No such page.")]
    PageNotFound,
    #[error("The scope must be local, others or global.")]
    InvalidScope,
    #[error("The limit must be a whole number from 1 to 100.")]
    InvalidLimit,
    #[error("The cursor is not one this API issued.")]
    InvalidCursor,
    #[error("A service the API depends on is unavailable. Try again later.")]
    Unavailable(#[source] BoxError),
    #[error("An unexpected error occurred.")]
    Unexpected(#[source] BoxError),
}

impl ApiError {
    pub fn fields(&self) -> Option<&FieldErrors> {
        match self {
            Self::MissingFields(fields) | Self::Validation(fields) => Some(fields),
            _ => None,
        }
    }

    pub fn unexpected(cause: impl Into<BoxError>) -> Self {
        Self::Unexpected(cause.into())
    }

    /// A validation error for the fields whose check failed; `None` entries passed.
    pub fn invalid_fields<'a>(
        checks: impl IntoIterator<Item = (&'a str, Option<impl ToString>)>,
    ) -> Self {
        Self::Validation(
            checks
                .into_iter()
                .filter_map(|(field, problem)| Some((field.to_owned(), problem?.to_string())))
                .collect(),
        )
    }
}

/// An AWS service (DynamoDB, SES) out of reach, throttling past the SDK's
/// retries or a transaction conflict past the store's is 503;
/// anything else from the SDK is unexpected (500). Either way the cause is
/// kept for the log and never shown to the client.
pub fn sdk_error<E, R>(error: SdkError<E, R>) -> ApiError
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
                    | "TransactionConflictException"
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

/// The error and every cause beneath it on one line, for the log.
pub fn cause_chain(error: &dyn StdError) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(chain, ": {cause}");
        source = cause.source();
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_cause_chain_names_every_layer() {
        let error = ApiError::unexpected(Outer(std::io::Error::other("inner")));
        assert_eq!(
            cause_chain(&error),
            "An unexpected error occurred.: outer: inner"
        );
    }

    #[test]
    fn invalid_fields_keeps_only_failed_checks() {
        let error = ApiError::invalid_fields([("email", Some("is not valid")), ("name", None)]);
        let fields = error.fields().unwrap();
        assert_eq!(fields.len(), 1);
        assert_eq!(fields["email"], "is not valid");
    }
}
