//! What a function builds once per cold start and shares across invocations.

use lambda_http::Request;

use crate::http::bearer_token;
use accounts::config::Config;
use accounts::error::ApiError;
use accounts::sdk;
use accounts::store::{StoredUser, UserStore};
use accounts::token::{TokenKeys, VerifiedToken};

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
        let aws = sdk::defaults().load().await;
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
