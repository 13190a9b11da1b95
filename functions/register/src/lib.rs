//! `POST /v1/api/register`: create an account.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use secrecy::SecretString;
use serde::Serialize;
use shared::domain::{Email, Password, UserName};
use shared::http::{Fields, json_response, respond};
use shared::store::{NewUser, User};
use shared::{ApiError, AppState, password};

const FIELDS: [&str; 3] = ["email", "password", "name"];

#[derive(Serialize)]
struct Registered {
    message: &'static str,
    user: User,
}

#[tracing::instrument(name = "Register a user", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(register(state, &request).await))
}

async fn register(state: &AppState, request: &Request) -> Result<Response<Body>, ApiError> {
    let mut fields = Fields::from_request(request, &FIELDS, &FIELDS)?;
    let email = Email::parse(&fields.take_required("email")?);
    let name = UserName::parse(&fields.take_required("name")?);
    let password = Password::parse(
        SecretString::from(fields.take_required("password")?),
        email.as_ref().ok(),
    );
    let (email, name, password) = match (email, name, password) {
        (Ok(email), Ok(name), Ok(password)) => (email, name, password),
        (email, name, password) => {
            return Err(ApiError::invalid_fields([
                ("email", email.err()),
                ("name", name.err()),
                ("password", password.err()),
            ]));
        }
    };

    let password_hash = password::hash(password.into_secret()).await?;
    let user = state
        .store
        .create_user(NewUser {
            email,
            name,
            password_hash,
        })
        .await?;
    tracing::Span::current().record("user_id", user.id.as_str());
    tracing::info!("user registered");
    json_response(
        StatusCode::CREATED,
        &Registered {
            message: "User registered successfully",
            user,
        },
    )
}
