//! `POST /v1/api/reset_password`: email a password-reset token.
//!
//! The answer is the same 200, after the same time, whether or not the
//! address is registered and whatever happens inside: the work that only a
//! known address causes (the token write and the SES call) runs under a
//! fixed response floor, its failures are logged, not answered, and work
//! that outlasts the floor is abandoned there.

use std::time::Duration;

use accounts::clock::unix_now;
use accounts::config::ResetRequestConfig;
use accounts::domain::Email;
use accounts::error::cause_chain;
use accounts::sdk;
use accounts::store::{StoredUser, UserStore};
use accounts::{ApiError, reset_token};
use http_api::field;
use http_api::http::{MessageBody, json_response, parse_body, respond};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use mailer::Mailer;
use serde::Deserialize;

/// The body of `POST /v1/api/reset_password`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    email: String,
}
const MESSAGE: &str = "If that email is registered, a password reset token has been sent";
/// At most one email per user in this many seconds; a request inside the
/// window changes nothing, and the earlier token stays valid.
pub const RESEND_WINDOW_SECONDS: u64 = 60;
/// Every answer past body validation takes this long: it covers two reads,
/// a DynamoDB transaction and an SES call (which gives up within 200 ms,
/// `Mailer`), so timing does not tell a known address from an unknown one.
pub const RESPONSE_FLOOR: Duration = Duration::from_millis(300);

pub struct ResetRequestState {
    pub store: UserStore,
    pub mailer: Mailer,
    pub token_ttl_seconds: u64,
}

impl ResetRequestState {
    pub async fn from_env() -> Result<Self, Error> {
        let config = ResetRequestConfig::from_env()?;
        let aws = sdk::defaults().load().await;
        let store = UserStore::new(aws_sdk_dynamodb::Client::new(&aws), config.table_name);
        store.warm_up().await;
        Ok(Self {
            store,
            mailer: Mailer::new(&aws, config.ses_from_address, config.reset_url_base),
            token_ttl_seconds: config.reset_token_ttl_seconds,
        })
    }
}

#[tracing::instrument(name = "Request a password reset", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &ResetRequestState, request: Request) -> Result<Response<Body>, Error> {
    let floor = tokio::time::Instant::now() + RESPONSE_FLOOR;
    let email = match requested_email(&request) {
        Ok(email) => email,
        Err(error) => return Ok(respond(Err(error))),
    };
    // Past body validation every outcome is the same 200 at the same time:
    // a store or mail failure, which only a registered address can meet, is
    // logged, and work still running at the floor is abandoned there.
    match tokio::time::timeout_at(floor, reset_if_registered(state, &email)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::error!(
                code = http_api::http::code(&error),
                cause = %cause_chain(&error),
                "reset request failed; answered as usual"
            );
        }
        Err(_) => tracing::error!("reset request still running at the response floor; abandoned"),
    }
    tokio::time::sleep_until(floor).await;
    Ok(respond(json_response(
        StatusCode::OK,
        &MessageBody { message: MESSAGE },
    )))
}

fn requested_email(request: &Request) -> Result<Email, ApiError> {
    let ResetRequest { email } = parse_body(request)?;
    Email::parse(&email)
        .map_err(|problem| ApiError::invalid_fields([(field!(ResetRequest, email), Some(problem))]))
}

async fn reset_if_registered(state: &ResetRequestState, email: &Email) -> Result<(), ApiError> {
    if let Some(user) = state.store.find_by_email(email).await? {
        tracing::Span::current().record("user_id", user.user.id.as_str());
        send_reset(state, &user).await?;
    }
    Ok(())
}

async fn send_reset(state: &ResetRequestState, user: &StoredUser) -> Result<(), ApiError> {
    let token = reset_token::generate()?;
    let token_hash = reset_token::hash(&token);
    let expires_at = unix_now() + state.token_ttl_seconds;
    let stored = state
        .store
        .start_reset(user, &token_hash, expires_at, RESEND_WINDOW_SECONDS)
        .await?;
    if !stored {
        tracing::info!("reset email withheld: one was sent less than a minute ago");
        return Ok(());
    }
    let valid_minutes = state.token_ttl_seconds / 60;
    match state
        .mailer
        .send_password_reset(&user.user.email, &token, valid_minutes)
        .await
    {
        Ok(()) => tracing::info!("reset email sent"),
        Err(error) => {
            // The client still gets the usual 200 (anything else would tell
            // that the address is registered); the token nobody received is
            // withdrawn so it cannot linger, and a retry may follow at once.
            tracing::error!(cause = %cause_chain(&error), "reset email not sent; token withdrawn");
            state.store.cancel_reset(&user.user.id, &token_hash).await?;
        }
    }
    Ok(())
}
