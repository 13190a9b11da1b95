//! `POST /v1/api/verify_email/{token}`: prove the address with the token
//! from the verification mail. Only this POST consumes the token (opening
//! the mailed link does not: mail scanners open links); of concurrent uses
//! exactly one succeeds. Two DynamoDB requests: the token, then one
//! conditional update of the user that returns it.

use accounts::ApiError;
use accounts::clock::unix_now;
use accounts::domain::User;
use accounts::store::TokenKind;
use http_api::AppState;
use http_api::http::{json_response, mailed_token_hash, respond};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Serialize;

#[derive(Serialize)]
struct Verified {
    message: &'static str,
    user: User,
}

#[tracing::instrument(name = "Verify an email address", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(verify_email(state, &request).await))
}

async fn verify_email(state: &AppState, request: &Request) -> Result<Response<Body>, ApiError> {
    let invalid = || ApiError::InvalidVerificationToken;
    let token_hash = mailed_token_hash(request, invalid())?;
    let now = unix_now();
    let kind = TokenKind::EmailVerification;
    let ticket = state
        .store
        .find_token(kind, &token_hash, now)
        .await?
        .ok_or_else(invalid)?;
    tracing::Span::current().record("user_id", ticket.user_id.as_str());
    let user = state.store.verify_email(&token_hash, &ticket, now).await?;
    tracing::info!("email verified");
    json_response(
        StatusCode::OK,
        &Verified {
            message: "Email verified",
            user,
        },
    )
}
