//! What a function builds once per cold start and shares across invocations.

use aws_config::SdkConfig;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::http::bearer_token;
use crate::keys::PublishedKeys;
use accounts::clock::unix_now;
use accounts::config::Config;
use accounts::error::ApiError;
use accounts::sdk;
use accounts::store::session_items::SessionRecord;
use accounts::store::{StoredUser, UserStore};
use accounts::token::{Rejected, TokenVerifier, VerifiedToken};

/// The API's public base URL: `configured` (`JWT_ISSUER`), or else the
/// address API Gateway received `request` at.
pub fn public_url(configured: Option<&str>, request: &Request) -> Result<String, ApiError> {
    if let Some(url) = configured {
        return Ok(url.to_owned());
    }
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .domain_name
            .as_deref()
            .filter(|domain| !domain.is_empty())
            .map(|domain| format!("https://{domain}")),
        _ => None,
    }
    .ok_or_else(|| ApiError::unexpected("no JWT_ISSUER and no domain name in the request"))
}

pub struct AppState {
    pub config: Config,
    pub store: UserStore,
    pub verifier: TokenVerifier,
    pub keys: PublishedKeys,
}

/// A request whose bearer token passed every check, with its user as stored now.
#[derive(Debug)]
pub struct Authenticated {
    pub token: VerifiedToken,
    pub user: StoredUser,
    pub session: SessionRecord,
}

impl AppState {
    pub fn new(config: Config, dynamodb: aws_sdk_dynamodb::Client, keys: PublishedKeys) -> Self {
        let store = UserStore::new(dynamodb, &config.table_name);
        let verifier = TokenVerifier::new(&config.jwt_audience);
        Self {
            config,
            store,
            verifier,
            keys,
        }
    }

    /// The state of a function that signs or verifies tokens.
    pub async fn from_env() -> Result<Self, lambda_http::Error> {
        let aws = sdk::defaults().load().await;
        Self::load(Config::from_env()?, &aws).await
    }

    /// Reading the key set is the cold start's first DynamoDB request, which
    /// opens the connection the handler then reuses.
    pub async fn load(config: Config, aws: &SdkConfig) -> Result<Self, lambda_http::Error> {
        let dynamodb = aws_sdk_dynamodb::Client::new(aws);
        let store = UserStore::new(dynamodb.clone(), &config.table_name);
        let keys = PublishedKeys::load(&store).await;
        Ok(Self::new(config, dynamodb, keys))
    }

    /// The API's public base URL for this request (`public_url`): the
    /// tokens' `iss`, and where mailed links point unless `LINK_BASE` says.
    pub fn public_url(&self, request: &Request) -> Result<String, ApiError> {
        public_url(self.config.jwt_issuer.as_deref(), request)
    }

    /// Checks the bearer token: algorithm, key, signature, claims, then, in
    /// one read, that its user still exists and that its session is live
    /// (not ended by a logout, a password reset or its age). Any failure is
    /// `InvalidToken`.
    pub async fn authenticate(&self, request: &Request) -> Result<Authenticated, ApiError> {
        let presented = bearer_token(request)?;
        let issuer = self.public_url(request)?;
        let keys = self.keys.current(&self.store).await?;
        let token = match self.verifier.verify(presented, &keys, &issuer) {
            Err(Rejected::UnknownKey) => {
                let keys = self.keys.after_unknown_kid(&self.store).await?;
                self.verifier.verify(presented, &keys, &issuer)
            }
            verified => verified,
        }?;
        let session = self
            .store
            .session(&token.user_id, &token.session_id)
            .await?;
        match (session.user, session.record) {
            (Some(user), Some(record))
                if record.is_live(user.token_version, &self.config.sessions, unix_now()) =>
            {
                tracing::Span::current().record("user_id", user.user.id.as_str());
                Ok(Authenticated {
                    token,
                    user,
                    session: record,
                })
            }
            _ => Err(ApiError::InvalidToken),
        }
    }
}
