//! `POST /v1/api/confirm_email_change/{token}`: finish an email change with
//! the token mailed to the new address. The account moves to that address
//! (verified, since the link reached it) and its uniqueness claim moves
//! with it in one transaction (409 if someone claimed it meanwhile); a
//! pending password reset, mailed to the old address, is cancelled.

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
struct Changed {
    message: &'static str,
    user: User,
}

#[tracing::instrument(name = "Confirm an email change", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(confirm_email_change(state, &request).await))
}

async fn confirm_email_change(
    state: &AppState,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let invalid = || ApiError::InvalidEmailChangeToken;
    let token_hash = mailed_token_hash(request, invalid())?;
    let now = unix_now();
    let ticket = state
        .store
        .find_token(TokenKind::EmailChange, &token_hash, now)
        .await?
        .ok_or_else(invalid)?;
    tracing::Span::current().record("user_id", ticket.user_id.as_str());
    let stored = state
        .store
        .find_by_id(&ticket.user_id)
        .await?
        .ok_or_else(invalid)?;
    let user = state
        .store
        .confirm_email_change(&token_hash, &ticket, &stored, now)
        .await?;
    tracing::info!("email address changed");
    json_response(
        StatusCode::OK,
        &Changed {
            message: "Email address changed",
            user,
        },
    )
}
