//! What a function builds once per cold start and shares across invocations.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use lambda_http::Request;

use crate::config::Config;
use crate::error::ApiError;
use crate::http::bearer_token;
use crate::store::{StoredUser, UserStore};
use crate::token::{TokenKeys, VerifiedToken};

pub struct AppState {
    pub config: Config,
    pub store: UserStore,
    pub tokens: TokenKeys,
}

/// A request whose bearer token passed every check, with its user as stored now.
#[derive(Debug)]
pub struct Authenticated {
    pub token: VerifiedToken,
    pub user: StoredUser,
}

impl AppState {
    pub fn new(config: Config, dynamodb: aws_sdk_dynamodb::Client) -> Self {
        let store = UserStore::new(dynamodb, &config.table_name);
        let tokens = TokenKeys::new(&config);
        Self {
            config,
            store,
            tokens,
        }
    }

    pub async fn from_env() -> Result<Self, lambda_http::Error> {
        let config = Config::from_env()?;
        let aws = aws_defaults().load().await;
        let state = Self::new(config, aws_sdk_dynamodb::Client::new(&aws));
        state.store.warm_up().await;
        Ok(state)
    }

    /// Checks the bearer token: signature, algorithm, claims, then, in one
    /// read, that its user still exists, that it was not revoked by a logout
    /// and that no password reset came after it. Any failure is `InvalidToken`.
    pub async fn authenticate(&self, request: &Request) -> Result<Authenticated, ApiError> {
        let token = self.tokens.verify(bearer_token(request)?)?;
        let session = self.store.session(&token.user_id, &token.token_id).await?;
        match session.user {
            Some(user) if !session.revoked && user.token_version == token.token_version => {
                tracing::Span::current().record("user_id", user.user.id.as_str());
                Ok(Authenticated { token, user })
            }
            _ => Err(ApiError::InvalidToken),
        }
    }
}

/// The AWS SDK settings every client uses. Credentials, region and endpoints
/// come from the standard environment variables (`AWS_ENDPOINT_URL_DYNAMODB`
/// points the functions at DynamoDB Local), so no code knows about emulators.
///
/// The timeouts keep a dependency outage a prompt 503 instead of a request
/// that hangs until the Lambda timeout: a connection gets 1 s, an attempt 1 s,
/// and the whole call, retries included, 2.5 s.
///
/// The HTTPS client is rustls on ring, the crypto library the JWT code uses
/// too: the SDK's default client would link aws-lc as a second one.
pub fn aws_defaults() -> ConfigLoader {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(1))
                .operation_timeout(Duration::from_millis(2500))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
}
