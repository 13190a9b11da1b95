//! `POST /v1/api/login`: exchange email and password for an access token.
//!
//! An unknown email and a wrong password get the same 401 body, after the same
//! Argon2id work (a dummy verify runs for unknown emails).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use shared::domain::Email;
use shared::http::{Fields, json_response, respond};
use shared::{ApiError, AppState, password};

const FIELDS: [&str; 2] = ["email", "password"];

#[derive(Serialize)]
struct LoggedIn<'a> {
    message: &'static str,
    token: &'a str,
    token_type: &'static str,
    expires_in: u64,
}

#[tracing::instrument(name = "Log in a user", skip_all)]
pub async fn handler(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(login(state, &request).await))
}

async fn login(state: &AppState, request: &Request) -> Result<Response<Body>, ApiError> {
    let mut fields = Fields::from_request(request, &FIELDS, &FIELDS)?;
    let password = SecretString::from(fields.take_required("password")?);
    // An address that cannot be registered is simply an unknown account: it
    // gets the same dummy verify and the same 401 as any other.
    let credentials = match Email::parse(&fields.take_required("email")?) {
        Ok(email) => state.store.find_credentials(&email).await?,
        Err(_) => None,
    };
    let (user, stored_hash) = match credentials {
        Some(found) => (Some(found.user), Some(found.password_hash)),
        None => (None, None),
    };
    let verified = password::verify(password, stored_hash).await?;
    let Some(user) = user.filter(|_| verified) else {
        return Err(ApiError::InvalidCredentials);
    };

    let issued = state.tokens.issue(&user.id)?;
    tracing::info!(user_id = %user.id, "user logged in");
    json_response(
        StatusCode::OK,
        &LoggedIn {
            message: "Login successful",
            token: issued.token.expose_secret(),
            token_type: "Bearer",
            expires_in: issued.expires_in,
        },
    )
}
