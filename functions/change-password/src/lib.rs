//! `PUT /v1/api/user/password`: change the password, knowing the current
//! one. The current password is checked under the login lockout (a wrong
//! one counts as a failed login). On success, in one transaction with the
//! new hash, the caller gets a new session (its tokens are the answer) and
//! every other session and every earlier access token, the presented one
//! included, ends; a "your password was changed" notice is mailed.

use accounts::clock::unix_now;
use accounts::config::MailConfig;
use accounts::domain::Password;
use accounts::error::cause_chain;
use accounts::sdk;
use accounts::store::session_items::SessionRecord;
use accounts::{ApiError, Config, password};
use http_api::field;
use http_api::http::{parse_body, respond};
use lambda_http::http::header::USER_AGENT;
use lambda_http::{Body, Error, Request, Response};
use mailer::{Mail, Mailer};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use token_issuer::SigningState;

/// The body of `PUT /v1/api/user/password`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    current_password: SecretString,
    new_password: SecretString,
}

pub struct ChangePasswordState {
    pub signing: SigningState,
    pub mailer: Mailer,
}

impl ChangePasswordState {
    pub async fn from_env() -> Result<Self, Error> {
        let (config, mail) = (Config::from_env()?, MailConfig::from_env()?);
        let aws = sdk::defaults().load().await;
        Ok(Self {
            signing: SigningState::load(config, &aws).await?,
            mailer: Mailer::new(&aws, &mail),
        })
    }
}

#[tracing::instrument(name = "Change the password", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(
    state: &ChangePasswordState,
    request: Request,
) -> Result<Response<Body>, Error> {
    Ok(respond(change_password(state, &request).await))
}

async fn change_password(
    state: &ChangePasswordState,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let signing = &state.signing;
    let app = &signing.app;
    let caller = app.authenticate(request).await?;
    let ChangePasswordRequest {
        current_password,
        new_password,
    } = parse_body(request)?;
    let public_url = app.public_url(request)?;
    let user = &caller.user;
    let new_field = field!(ChangePasswordRequest, new_password);
    // Both checks of the new password come before any Argon2id work.
    Password::parse(new_password.clone(), Some(&user.user.email))
        .map_err(|problem| ApiError::invalid_fields([(new_field, Some(problem))]))?;
    if new_password.expose_secret() == current_password.expose_secret() {
        return Err(ApiError::invalid_fields([(
            new_field,
            Some("must differ from the current password"),
        )]));
    }
    app.store
        .check_current_password(user, current_password)
        .await?;
    let password_hash = password::hash(new_password).await?;

    let now = unix_now();
    let user_agent = request
        .headers()
        .get(USER_AGENT)
        .and_then(|agent| agent.to_str().ok());
    // The new session lives at the next token version, which the change
    // moves the user to: every other session ends with it.
    let session = SessionRecord::begin(&user.user.id, user.token_version + 1, user_agent, now)?;
    // Signed before anything is written: a failure to sign changes nothing.
    let tokens = signing
        .session_tokens(&public_url, &session.current_token())
        .await?;
    app.store
        .change_password(user, &password_hash, &session, &app.config.sessions, now)
        .await?;
    tracing::info!(session_id = %session.id, "password changed");
    if let Err(error) = state
        .mailer
        .send(&public_url, &user.user.email, &Mail::PasswordChanged)
        .await
    {
        tracing::error!(cause = %cause_chain(&error), "password-changed notice not sent");
    }
    tokens.respond("Password changed")
}
