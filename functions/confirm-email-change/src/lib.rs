//! `POST /v1/api/confirm_email_change/{token}`: finish an email change with
//! the token mailed to the new address. The account moves to that address
//! (verified, since the link reached it) and its uniqueness claim moves
//! with it in one transaction (409 if someone claimed it meanwhile); the
//! tokens mailed to the old address (a pending reset, the cancel link) are
//! withdrawn, and the old address is told.
//!
//! `POST /v1/api/cancel_email_change/{token}`: end a pending change with the
//! token mailed to the old address beside the notice of it, with no login,
//! so that an owner whose password someone else used can stop the change
//! from the notice itself. One function serves both: they read and write
//! the same items.

use accounts::ApiError;
use accounts::clock::unix_now;
use accounts::domain::User;
use accounts::error::cause_chain;
use accounts::store::TokenKind;
use http_api::http::{json_response, mailed_token_hash, respond};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use mailer::{Mail, MailingState};
use serde::Serialize;

/// The path prefix of the cancel route; every other request is a confirmation.
const CANCEL_PATH: &str = "/v1/api/cancel_email_change/";

#[derive(Serialize)]
struct Changed {
    message: &'static str,
    user: User,
}

#[derive(Serialize)]
struct Cancelled {
    message: &'static str,
}

#[tracing::instrument(name = "Confirm or cancel an email change", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &MailingState, request: Request) -> Result<Response<Body>, Error> {
    let result = if request.uri().path().starts_with(CANCEL_PATH) {
        cancel_email_change(state, &request).await
    } else {
        confirm_email_change(state, &request).await
    };
    Ok(respond(result))
}

async fn confirm_email_change(
    mailing: &MailingState,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let state = &mailing.app;
    let invalid = || ApiError::InvalidEmailChangeToken;
    let token_hash = mailed_token_hash(request, invalid())?;
    let public_url = state.public_url(request)?;
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
    let notice = Mail::EmailChanged {
        new_email: &user.email,
    };
    if let Err(error) = mailing
        .mailer
        .send(&public_url, &stored.user.email, &notice)
        .await
    {
        tracing::error!(cause = %cause_chain(&error), "email-changed notice to the old address not sent");
    }
    json_response(
        StatusCode::OK,
        &Changed {
            message: "Email address changed",
            user,
        },
    )
}

async fn cancel_email_change(
    mailing: &MailingState,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let state = &mailing.app;
    let invalid = || ApiError::InvalidEmailChangeToken;
    let token_hash = mailed_token_hash(request, invalid())?;
    let now = unix_now();
    let ticket = state
        .store
        .find_token(TokenKind::EmailChangeCancel, &token_hash, now)
        .await?
        .ok_or_else(invalid)?;
    tracing::Span::current().record("user_id", ticket.user_id.as_str());
    let stored = state
        .store
        .find_by_id(&ticket.user_id)
        .await?
        .ok_or_else(invalid)?;
    state
        .store
        .cancel_email_change(&token_hash, &ticket, &stored, now)
        .await?;
    tracing::info!("email change cancelled");
    json_response(
        StatusCode::OK,
        &Cancelled {
            message: "Email change cancelled",
        },
    )
}
