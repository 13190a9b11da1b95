//! `POST /v1/api/register`: create an account.

use accounts::clock::unix_now;
use accounts::domain::{Email, Password, User, UserName};
use accounts::error::cause_chain;
use accounts::store::client_limits::ClientRequest;
use accounts::store::{NewUser, TokenKind, VERIFICATION_TTL_SECONDS};
use accounts::{ApiError, mail_token, password};
use http_api::field;
use http_api::http::{client_address, json_response, parse_body, respond};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use mailer::{Mail, MailingState};
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
pub async fn handler(state: &MailingState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(register(state, &request).await))
}

async fn register(mailing: &MailingState, request: &Request) -> Result<Response<Body>, ApiError> {
    let state = &mailing.app;
    let Registration {
        email,
        name,
        password,
    } = parse_body::<RegisterRequest>(request)?.try_into()?;
    let public_url = state.public_url(request)?;
    state
        .store
        .admit_client(
            ClientRequest::Register,
            &state.config.client_limits,
            client_address(request),
            unix_now(),
        )
        .await?;

    let password_hash = password::hash(password.into_secret()).await?;
    let token = mail_token::generate()?;
    let token_hash = mail_token::hash(&token);
    let user = state
        .store
        .create_user(
            NewUser {
                email,
                name,
                password_hash,
            },
            &token_hash,
            unix_now() + VERIFICATION_TTL_SECONDS,
        )
        .await?;
    tracing::Span::current().record("user_id", user.id.as_str());
    tracing::info!("user registered");
    let mail = Mail::EmailVerification {
        token: &token,
        valid_hours: VERIFICATION_TTL_SECONDS / 3600,
    };
    if let Err(error) = mailing.mailer.send(&public_url, &user.email, &mail).await {
        // The account exists either way (API.md: a failed send still
        // answers 201); its owner can ask for the mail again.
        tracing::error!(cause = %cause_chain(&error), "verification email not sent; token withdrawn");
        let kind = TokenKind::EmailVerification;
        let withdrawn = state.store.cancel_token(kind, &user.id, &token_hash, &[]);
        if let Err(error) = withdrawn.await {
            tracing::error!(cause = %cause_chain(&error), "withdrawing the unsent verification token failed");
        }
    }
    json_response(
        StatusCode::CREATED,
        &Registered {
            message: "User registered successfully",
            user,
        },
    )
}
