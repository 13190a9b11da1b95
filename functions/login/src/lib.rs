//! `POST /v1/api/login`: exchange email and password for an access token.
//!
//! An unknown email and a wrong password get the same 401 body, after the same
//! Argon2id work and the same reads (a dummy verify, and a decoy item read,
//! for unknown emails). Five consecutive failures for one address, registered or
//! not, lock it with exponential back-off; while locked, every attempt gets
//! 429 before anything else is read, even with the right password. Each
//! password check is reserved first, so concurrent attempts cannot outrun
//! the count. With `EMAIL_VERIFICATION=required`, a right password for an
//! unverified address gets 403 `email_not_verified`. Each client address may
//! try `CLIENT_LOGIN_LIMIT` times in 10 minutes (429 `too_many_requests`).

use accounts::clock::{unix_now, unix_now_ms};
use accounts::config::EmailVerification;
use accounts::domain::Email;
use accounts::store::client_limits::ClientRequest;
use accounts::store::session_items::{MAX_LIVE_SESSIONS, SessionRecord};
use accounts::{ApiError, password};
use http_api::AppState;
use http_api::http::{client_address, parse_body, respond};
use lambda_http::http::header::USER_AGENT;
use lambda_http::{Body, Error, Request, Response};
use secrecy::SecretString;
use serde::Deserialize;
use token_issuer::SigningState;

/// The body of `POST /v1/api/login`. The password is only compared, so
/// neither field is held to the field rules here.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    password: SecretString,
}

#[tracing::instrument(name = "Log in a user", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &SigningState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(login(state, &request).await))
}

async fn login(signing: &SigningState, request: &Request) -> Result<Response<Body>, ApiError> {
    let state = &signing.app;
    let LoginRequest { email, password } = parse_body(request)?;
    let issuer = state.public_url(request)?;
    // Per client, before any Argon2id work: the address lockout below does
    // nothing against one try at each of many addresses.
    state
        .store
        .admit_client(
            ClientRequest::Login,
            &state.config.client_limits,
            client_address(request),
            unix_now(),
        )
        .await?;
    let Ok(email) = Email::parse(&email) else {
        // An address that cannot be registered is an unknown account: the
        // same dummy verify and the same 401 as any other.
        password::verify(password, None).await?;
        return Err(ApiError::InvalidCredentials);
    };

    // The attempt is reserved before anything else: a locked address gets
    // its 429 before the user is read, so the answer takes the same time
    // whether or not the address is registered.
    let attempt = state
        .store
        .reserve_login_attempt(&email, unix_now_ms())
        .await?;
    let stored = state.store.find_by_email_keeping_decoy(&email).await?;
    let stored_hash = stored.as_ref().map(|stored| stored.password_hash.clone());
    let verified = password::verify(password, stored_hash).await?;
    let Some(stored) = stored.filter(|_| verified) else {
        state
            .store
            .record_login_failure(&email, attempt, unix_now_ms())
            .await?;
        return Err(ApiError::InvalidCredentials);
    };
    let user_id = &stored.user.id;
    tracing::Span::current().record("user_id", user_id.as_str());
    // Only after the password check, so the answer tells nothing about an
    // address to whoever does not know its password.
    if state.config.email_verification == EmailVerification::Required && !stored.user.email_verified
    {
        state.store.clear_login_failures(&email).await?;
        tracing::info!("login refused: email not verified");
        return Err(ApiError::EmailNotVerified);
    }
    let user_agent = request
        .headers()
        .get(USER_AGENT)
        .and_then(|agent| agent.to_str().ok());
    let session = SessionRecord::begin(user_id, stored.token_version, user_agent, unix_now())?;
    // Signed before the session is stored: a failure to sign leaves no
    // session behind, and a token whose session write failed is refused.
    // The lockout is cleared and the user's sessions counted meanwhile.
    let first = session.current_token();
    let (cleared, tokens, existing) = tokio::join!(
        state.store.clear_login_failures(&email),
        signing.session_tokens(&issuer, &first),
        state.store.session_item_count(user_id)
    );
    cleared?;
    let tokens = tokens?;
    state
        .store
        .create_session(&session, &state.config.sessions)
        .await?;
    if existing? >= MAX_LIVE_SESSIONS {
        end_least_recently_used(state, &session).await?;
    }
    tracing::info!(session_id = %session.id, "user logged in");
    tokens.respond("Login successful")
}

/// Ends the least recently used sessions beyond `MAX_LIVE_SESSIONS`
/// (API.md: at most 100 per user), `new` excepted. Simultaneous logins at
/// the cap may each keep one too many; the next login trims them.
async fn end_least_recently_used(state: &AppState, new: &SessionRecord) -> Result<(), ApiError> {
    let now = unix_now();
    let mut live: Vec<SessionRecord> = state
        .store
        .session_records(&new.user_id)
        .await?
        .into_iter()
        .filter(|record| record.id != new.id)
        .filter(|record| record.is_live(new.epoch, &state.config.sessions, now))
        .collect();
    let excess = (live.len() + 1).saturating_sub(MAX_LIVE_SESSIONS);
    live.sort_by_key(|record| record.last_used_at);
    for record in live.iter().take(excess) {
        state.store.end_session(&record.user_id, &record.id).await?;
        tracing::info!(session_id = %record.id, "least recently used session ended: too many sessions");
    }
    Ok(())
}
