//! What the functions that sign access tokens share (login, refresh-token,
//! change-password): the private keys beside the common state, and the one
//! answer that hands a session's tokens to the client.

use accounts::refresh_token::{RefreshToken, SessionKeys};
use accounts::token::{IssuedToken, TokenSigner};
use accounts::{ApiError, Config, sdk};
use aws_config::SdkConfig;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use signing_keys::{KeyVault, SessionSecret, Signer};

use http_api::AppState;
use http_api::http::json_response;

pub struct SigningState {
    pub app: AppState,
    pub signer: Signer,
    /// What refresh tokens' keys derive from.
    pub sessions: SessionSecret,
}

/// An access token and a refresh token of one session, signed and encoded
/// but not yet sent.
pub struct SessionTokens {
    access_token: SecretString,
    expires_in: u64,
    refresh_token: SecretString,
}

#[derive(Serialize)]
struct TokensBody<'a> {
    message: &'static str,
    token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    refresh_token: &'a str,
}

impl SigningState {
    pub async fn from_env() -> Result<Self, Error> {
        Self::load(Config::from_env()?, &sdk::defaults().load().await).await
    }

    /// The key set, the private keys and the session secret are read side by side.
    pub async fn load(config: Config, aws: &SdkConfig) -> Result<Self, Error> {
        let secret_id = signing_keys::secret_id_from_env()?;
        let session_secret_id = signing_keys::session_secret_id_from_env()?;
        let tokens = TokenSigner::new(&config.jwt_audience, config.access_token_ttl_seconds);
        let (app, signer, sessions) = tokio::join!(
            AppState::load(config, aws),
            Signer::load(KeyVault::new(aws, &secret_id), tokens),
            SessionSecret::load(aws, &session_secret_id)
        );
        Ok(Self {
            app: app?,
            signer,
            sessions,
        })
    }

    /// A new access token for the session of `refresh`, issued by `issuer`
    /// (`AppState::public_url`), and `refresh` encoded under the session's key.
    pub async fn session_tokens(
        &self,
        issuer: &str,
        refresh: &RefreshToken,
    ) -> Result<SessionTokens, ApiError> {
        let (access, keys) = tokio::join!(self.access_token(issuer, refresh), self.sessions.keys());
        SessionTokens::new(access?, refresh, &*keys?)
    }

    /// A new access token of the session that `refresh` names.
    pub async fn access_token(
        &self,
        issuer: &str,
        refresh: &RefreshToken,
    ) -> Result<IssuedToken, ApiError> {
        let state = &self.app;
        let keys = state.keys.current(&state.store).await?;
        self.signer
            .issue(&keys, issuer, &refresh.user_id, &refresh.session_id)
            .await
    }
}

impl SessionTokens {
    /// `access` with the refresh token `refresh`, encoded under its session's key.
    pub fn new(
        access: IssuedToken,
        refresh: &RefreshToken,
        keys: &SessionKeys,
    ) -> Result<Self, ApiError> {
        Ok(Self {
            access_token: access.token,
            expires_in: access.expires_in,
            refresh_token: refresh.encode(keys)?,
        })
    }

    /// The 200 answer of login, refresh and password change.
    pub fn respond(&self, message: &'static str) -> Result<Response<Body>, ApiError> {
        json_response(
            StatusCode::OK,
            &TokensBody {
                message,
                token: self.access_token.expose_secret(),
                token_type: "Bearer",
                expires_in: self.expires_in,
                refresh_token: self.refresh_token.expose_secret(),
            },
        )
    }
}
