//! `POST /v1/api/reset_password/{token}`: set a new password with a reset
//! token from the email. The token is consumed in the same transaction that
//! sets the password, so of concurrent uses exactly one succeeds, and every
//! access token issued before the reset stops working.

use accounts::clock::unix_now;
use accounts::domain::Password;
use accounts::{ApiError, password, reset_token};
use http_api::AppState;
use http_api::field;
use http_api::http::{MessageBody, json_response, parse_body, respond};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, RequestExt, Response};
use secrecy::SecretString;
use serde::Deserialize;

/// The body of `POST /v1/api/reset_password/{token}`: the new password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    password: SecretString,
}

#[tracing::instrument(name = "Reset a password", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(reset_password(state, &request).await))
}

async fn reset_password(state: &AppState, request: &Request) -> Result<Response<Body>, ApiError> {
    let ResetPasswordRequest {
        password: new_password,
    } = parse_body(request)?;
    let path = request.path_parameters();
    let token = path
        .first("token")
        .filter(|token| reset_token::is_well_formed(token))
        .ok_or(ApiError::InvalidResetToken)?;
    let token_hash = reset_token::hash(&SecretString::from(token));

    let ticket = state
        .store
        .find_reset(&token_hash)
        .await?
        .filter(|ticket| ticket.expires_at > unix_now())
        .ok_or(ApiError::InvalidResetToken)?;
    // The token is genuine: the new password is hashed while its user is
    // read, on the blocking pool, which takes that read off the critical path
    // (make bench). A password refused below wastes one hash, and only for a
    // holder of a live token; an invalid token still costs no Argon2 work.
    let (stored, password_hash) = tokio::join!(
        state.store.find_by_id(&ticket.user_id),
        password::hash(new_password.clone()),
    );
    let user = stored?.ok_or(ApiError::InvalidResetToken)?.user;
    tracing::Span::current().record("user_id", user.id.as_str());
    // Checked before anything is written: a refused password leaves the token usable.
    Password::parse(new_password, Some(&user.email)).map_err(|problem| {
        ApiError::invalid_fields([(field!(ResetPasswordRequest, password), Some(problem))])
    })?;
    let password_hash = password_hash?;

    state
        .store
        .complete_reset(&token_hash, &user.id, &user.email, &password_hash)
        .await?;
    tracing::info!("password reset");
    json_response(
        StatusCode::OK,
        &MessageBody {
            message: "Password reset successful",
        },
    )
}
