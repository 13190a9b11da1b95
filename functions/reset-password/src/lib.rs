//! `POST /v1/api/reset_password/{token}`: set a new password with a reset
//! token from the email. The token is consumed in the same transaction that
//! sets the password, so of concurrent uses exactly one succeeds; every
//! session of the user ends, and the address the token reached is verified.
//! A "your password was changed" notice follows.

use accounts::clock::unix_now;
use accounts::domain::Password;
use accounts::error::cause_chain;
use accounts::store::TokenKind;
use accounts::store::client_limits::ClientRequest;
use accounts::{ApiError, password};
use http_api::field;
use http_api::http::{
    MessageBody, client_address, json_response, mailed_token_hash, parse_body, respond,
};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use mailer::{Mail, MailingState};
use secrecy::SecretString;
use serde::Deserialize;

/// The body of `POST /v1/api/reset_password/{token}`: the new password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    password: SecretString,
}

#[tracing::instrument(name = "Reset a password", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &MailingState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(reset_password(state, &request).await))
}

async fn reset_password(
    mailing: &MailingState,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let state = &mailing.app;
    let ResetPasswordRequest {
        password: new_password,
    } = parse_body(request)?;
    let token_hash = mailed_token_hash(request, ApiError::InvalidResetToken)?;
    let public_url = state.public_url(request)?;
    let now = unix_now();
    state
        .store
        .admit_client(
            ClientRequest::Mail,
            &state.config.client_limits,
            client_address(request),
            now,
        )
        .await?;
    let ticket = state
        .store
        .find_token(TokenKind::PasswordReset, &token_hash, now)
        .await?
        .ok_or(ApiError::InvalidResetToken)?;
    tracing::Span::current().record("user_id", ticket.user_id.as_str());
    // The token is genuine: the new password is checked against the
    // address the token went to and hashed (on the blocking pool). A
    // password refused here leaves the token usable; an invalid token
    // costs no Argon2 work.
    Password::parse(new_password.clone(), Some(&ticket.sent_to)).map_err(|problem| {
        ApiError::invalid_fields([(field!(ResetPasswordRequest, password), Some(problem))])
    })?;
    let password_hash = password::hash(new_password).await?;
    state
        .store
        .complete_reset(&token_hash, &ticket, &password_hash, now)
        .await?;
    tracing::info!("password reset");
    if let Err(error) = mailing
        .mailer
        .send(&public_url, &ticket.sent_to, &Mail::PasswordChanged)
        .await
    {
        // The password is set; the notice is a courtesy that must not
        // turn a completed reset into an error.
        tracing::error!(cause = %cause_chain(&error), "password-changed notice not sent");
    }
    json_response(
        StatusCode::OK,
        &MessageBody {
            message: "Password reset successful",
        },
    )
}
