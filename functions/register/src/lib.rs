//! `POST /v1/api/register`: create an account.

use accounts::domain::{Email, Password, User, UserName};
use accounts::store::NewUser;
use accounts::{ApiError, password};
use http_api::AppState;
use http_api::field;
use http_api::http::{json_response, parse_body, respond};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// The body of `POST /v1/api/register`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    email: String,
    password: SecretString,
    name: String,
}

/// A registration whose fields passed the field rules.
struct Registration {
    email: Email,
    name: UserName,
    password: Password,
}

impl TryFrom<RegisterRequest> for Registration {
    type Error = ApiError;

    fn try_from(request: RegisterRequest) -> Result<Self, ApiError> {
        let email = Email::parse(&request.email);
        let name = UserName::parse(&request.name);
        let password = Password::parse(request.password, email.as_ref().ok());
        match (email, name, password) {
            (Ok(email), Ok(name), Ok(password)) => Ok(Self {
                email,
                name,
                password,
            }),
            (email, name, password) => Err(ApiError::invalid_fields([
                (field!(RegisterRequest, email), email.err()),
                (field!(RegisterRequest, name), name.err()),
                (field!(RegisterRequest, password), password.err()),
            ])),
        }
    }
}

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
    let Registration {
        email,
        name,
        password,
    } = parse_body::<RegisterRequest>(request)?.try_into()?;

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
