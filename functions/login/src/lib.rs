//! `POST /v1/api/login`: exchange email and password for an access token.
//!
//! An unknown email and a wrong password get the same 401 body, after the same
//! Argon2id work and the same reads (a dummy verify and a dummy read run for
//! unknown emails). Five consecutive failures for one address, registered or
//! not, lock it with exponential back-off; while locked, every attempt gets
//! 429 before anything else is read, even with the right password. Each
//! password check is reserved first, so concurrent attempts cannot outrun
//! the count.

use accounts::clock::{unix_now, unix_now_ms};
use accounts::domain::Email;
use accounts::store::LoginAttempt;
use accounts::store::session_items::SessionRecord;
use accounts::token::TokenSigner;
use accounts::{ApiError, Config, password, sdk};
use http_api::AppState;
use http_api::http::{json_response, parse_body, respond};
use lambda_http::http::StatusCode;
use lambda_http::http::header::USER_AGENT;
use lambda_http::{Body, Error, Request, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use signing_keys::{KeyVault, Signer};

/// The body of `POST /v1/api/login`. The password is only compared, so
/// neither field is held to the field rules here.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    password: SecretString,
}

#[derive(Serialize)]
struct LoggedIn<'a> {
    message: &'static str,
    token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    refresh_token: &'a str,
}

/// Login verifies nothing but signs: beside the common state it holds the
/// private keys, read from Secrets Manager at cold start.
pub struct LoginState {
    pub app: AppState,
    pub signer: Signer,
}

impl LoginState {
    /// The key set and the private keys are read side by side.
    pub async fn from_env() -> Result<Self, Error> {
        let config = Config::from_env()?;
        let secret_id = signing_keys::secret_id_from_env()?;
        let aws = sdk::defaults().load().await;
        let tokens = TokenSigner::new(&config.jwt_audience, config.access_token_ttl_seconds);
        let (app, signer) = tokio::join!(
            AppState::load(config, &aws),
            Signer::load(KeyVault::new(&aws, &secret_id), tokens)
        );
        Ok(Self { app: app?, signer })
    }
}

#[tracing::instrument(name = "Log in a user", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &LoginState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(login(state, &request).await))
}

async fn login(login_state: &LoginState, request: &Request) -> Result<Response<Body>, ApiError> {
    let state = &login_state.app;
    let LoginRequest { email, password } = parse_body(request)?;
    let Ok(email) = Email::parse(&email) else {
        // An address that cannot be registered is an unknown account: the
        // same dummy verify and the same 401 as any other.
        password::verify(password, None).await?;
        return Err(ApiError::InvalidCredentials);
    };

    // The attempt is reserved before anything else: a locked address gets
    // its 429 before the user is read, so the answer takes the same time
    // whether or not the address is registered.
    let attempt = match state
        .store
        .reserve_login_attempt(&email, unix_now_ms())
        .await?
    {
        LoginAttempt::Granted { number } => number,
        LoginAttempt::Refused {
            retry_after_seconds,
        } => {
            return Err(ApiError::TooManyAttempts {
                retry_after_seconds,
            });
        }
    };
    let stored = state.store.find_by_email(&email).await?;
    let stored_hash = stored.as_ref().map(|stored| stored.password_hash.clone());
    let verified = password::verify(password, stored_hash).await?;
    let Some(stored) = stored.filter(|_| verified) else {
        state
            .store
            .record_login_failure(&email, attempt, unix_now_ms())
            .await?;
        return Err(ApiError::InvalidCredentials);
    };
    state.store.clear_login_failures(&email).await?;

    let user_id = &stored.user.id;
    tracing::Span::current().record("user_id", user_id.as_str());
    let issuer = state.issuer(request)?;
    let keys = state.keys.current(&state.store).await?;
    let now = unix_now();
    let session = SessionRecord::begin(
        user_id,
        stored.token_version,
        request
            .headers()
            .get(USER_AGENT)
            .and_then(|agent| agent.to_str().ok()),
        now,
    )?;
    // Signed before the session is stored: a failure to sign leaves no
    // session behind, and a token whose session write failed is refused.
    let issued = login_state
        .signer
        .issue(&keys, &issuer, user_id, &session.id)
        .await?;
    let refresh_token = session.current_token().encode(&session.key)?;
    state
        .store
        .create_session(&session, &state.config.sessions)
        .await?;
    tracing::info!("user logged in");
    json_response(
        StatusCode::OK,
        &LoggedIn {
            message: "Login successful",
            token: issued.token.expose_secret(),
            token_type: "Bearer",
            expires_in: issued.expires_in,
            refresh_token: refresh_token.expose_secret(),
        },
    )
}
