//! `POST /v1/api/token/refresh`: trade a session's refresh token for a new
//! access token and the session's next refresh token.
//!
//! No Argon2id and at most four DynamoDB requests: the client's count
//! (per-client limits) beside one read of the user and the session
//! together, then either nothing (a retry), one conditional advance of the
//! counter (and, when another refresh won that race, one read again), or
//! one delete (a reused token ends the session).

use accounts::ApiError;
use accounts::clock::unix_now;
use accounts::config::SessionPolicy;
use accounts::refresh_token::{Presented, RefreshToken, Rotation, SessionKeys, rotation};
use accounts::store::Session;
use accounts::store::client_limits::ClientRequest;
use accounts::store::session_items::SessionRecord;
use http_api::field;
use http_api::http::{client_address, parse_body, respond};
use lambda_http::{Body, Error, Request, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use token_issuer::{SessionTokens, SigningState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: SecretString,
}

#[tracing::instrument(name = "Refresh a session", skip_all, fields(user_id = tracing::field::Empty, session_id = tracing::field::Empty))]
pub async fn handler(state: &SigningState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(refresh(state, &request).await))
}

async fn refresh(signing: &SigningState, request: &Request) -> Result<Response<Body>, ApiError> {
    let state = &signing.app;
    let policy = &state.config.sessions;
    let RefreshRequest { refresh_token } = parse_body(request)?;
    let issuer = signing.app.public_url(request)?;
    // Empty is missing, as for every other required field (API.md).
    if refresh_token.expose_secret().is_empty() {
        return Err(ApiError::invalid_fields([(
            field!(RefreshRequest, refresh_token),
            Some("must not be empty"),
        )]));
    }
    // Text that is not shaped like a token costs no read.
    let presented = Presented::parse(&refresh_token).ok_or(ApiError::InvalidRefreshToken)?;
    let claimed = presented.claimed().clone();
    // The client's count goes beside the read: a refresh costs no Argon2id,
    // and the count is what makes flooding it cost the flooder alone.
    let (admitted, stored, keys) = tokio::join!(
        state.store.admit_client(
            ClientRequest::Refresh,
            &state.config.client_limits,
            client_address(request),
            unix_now(),
        ),
        state.store.session(&claimed.user_id, &claimed.session_id),
        signing.sessions.keys()
    );
    admitted?;
    let (stored, keys) = (stored?, keys?);
    let Session {
        user: Some(user),
        record: Some(session),
    } = stored
    else {
        return Err(ApiError::InvalidRefreshToken);
    };
    // Until its MAC is checked, the token proves nothing: a guessed or
    // tampered one gets the same answer as an unknown one, no write, and
    // no ids in the log (they would be whatever the sender wrote).
    let token = presented
        .verify(&keys)
        .ok_or(ApiError::InvalidRefreshToken)?;
    let span = tracing::Span::current();
    span.record("user_id", token.user_id.as_str());
    span.record("session_id", token.session_id.as_str());
    // Ended with all the user's sessions (a password reset, a global or
    // `others` logout moved the user's version on): as unknown. Past its
    // age: expired, so the client knows to log in again.
    if session.epoch != user.token_version {
        return Err(ApiError::InvalidRefreshToken);
    }
    let now = unix_now();
    if !session.is_live(user.token_version, policy, now) {
        return Err(ApiError::SessionExpired);
    }

    match decide(&token, &session, policy, now) {
        Rotation::Advance => advance(signing, &issuer, &token, &session, &keys, now).await,
        Rotation::Retry => {
            let current = session.current_token();
            let tokens = signing.session_tokens(&issuer, &current).await?;
            refreshed(tokens, &current)
        }
        Rotation::Reused => Err(end_reused(signing, &token).await),
    }
}

/// Moves the session from `token` to the next one, which is the answer;
/// when another refresh with the same token got there first, the answer is
/// what that one left (the same next token, or a reuse).
async fn advance(
    signing: &SigningState,
    issuer: &str,
    token: &RefreshToken,
    session: &SessionRecord,
    keys: &SessionKeys,
    now: u64,
) -> Result<Response<Body>, ApiError> {
    let store = &signing.app.store;
    let policy = &signing.app.config.sessions;
    // The access token does not depend on the counter: it is signed while
    // the advance is in flight, and dropped if the session ends instead.
    let (advanced, access) = tokio::join!(
        store.advance_session(token, policy, session.created_at, now),
        signing.access_token(issuer, token)
    );
    if advanced? {
        let next = token.next();
        return refreshed(SessionTokens::new(access?, &next, keys)?, &next);
    }
    let again = store.session(&token.user_id, &token.session_id).await?;
    let (Some(user), Some(now_stored)) = (again.user, again.record) else {
        return Err(ApiError::InvalidRefreshToken);
    };
    if !now_stored.is_live(user.token_version, policy, now) {
        return Err(ApiError::InvalidRefreshToken);
    }
    match decide(token, &now_stored, policy, now) {
        Rotation::Retry => {
            let current = now_stored.current_token();
            refreshed(SessionTokens::new(access?, &current, keys)?, &current)
        }
        Rotation::Reused => Err(end_reused(signing, token).await),
        Rotation::Advance => Err(ApiError::unexpected(
            "the session's counter did not move after a failed advance",
        )),
    }
}

fn refreshed(tokens: SessionTokens, handed_out: &RefreshToken) -> Result<Response<Body>, ApiError> {
    tracing::info!(counter = handed_out.counter, "session refreshed");
    tokens.respond("Token refreshed")
}

fn decide(
    token: &RefreshToken,
    session: &SessionRecord,
    policy: &SessionPolicy,
    now: u64,
) -> Rotation {
    rotation(
        token.counter,
        session.counter,
        session.rotated_at,
        now,
        policy.reuse_interval_seconds,
    )
}

/// A stale token came back: someone else holds a copy, so the whole
/// session ends (its newest refresh token and its access tokens too).
async fn end_reused(signing: &SigningState, token: &RefreshToken) -> ApiError {
    match signing
        .app
        .store
        .end_session(&token.user_id, &token.session_id)
        .await
    {
        Ok(_) => {
            tracing::warn!("a reused refresh token ended its session");
            ApiError::RefreshTokenReused
        }
        Err(error) => error,
    }
}
