//! The two requests that mail a token to an address given by anyone (a
//! password reset, a verification mail): the answer is the same 200, after
//! the same time, whether or not the address is registered and whatever
//! happens inside. The work that only a known address causes (the token
//! write and the SES call) runs under a fixed response floor, its failures
//! are logged, not answered, and work that outlasts the floor is abandoned
//! there.

use std::time::Duration;

use accounts::ApiError;
use accounts::clock::unix_now;
use accounts::config::MailConfig;
use accounts::domain::Email;
use accounts::error::cause_chain;
use accounts::sdk;
use accounts::store::UserStore;
use accounts::store::client_limits::ClientRequest;
use http_api::field;
use http_api::http::{MessageBody, client_address, json_response, parse_body, respond};
use http_api::state::public_url;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use crate::Mailer;

/// Every answer past body validation takes this long: it covers two reads,
/// a DynamoDB transaction and an SES call (which gives up within 200 ms,
/// `Mailer`), so timing does not tell a known address from an unknown one.
pub const RESPONSE_FLOOR: Duration = Duration::from_millis(300);

/// The body of both requests.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailRequest {
    email: String,
}

/// What these functions need: no keys, no token verifier.
pub struct MailRequestState {
    pub store: UserStore,
    pub mailer: Mailer,
    pub config: MailConfig,
}

impl MailRequestState {
    pub async fn from_env() -> Result<Self, lambda_http::Error> {
        let config = MailConfig::from_env()?;
        let aws = sdk::defaults().load().await;
        let store = UserStore::new(aws_sdk_dynamodb::Client::new(&aws), &config.table_name);
        store.warm_up().await;
        Ok(Self {
            store,
            mailer: Mailer::new(&aws, &config),
            config,
        })
    }

    /// The API's public base URL for `request` (`http_api::state::public_url`).
    pub fn public_url(&self, request: &Request) -> Result<String, ApiError> {
        public_url(self.config.public_url.as_deref(), request)
    }
}

/// Answers `message` for every valid address, at the response floor, after
/// `work(address)` (whose failures are logged, never answered); a body
/// without a valid address gets its 400 at once, and a client past its
/// limit its 429 at once (which tells nothing about the address).
pub async fn answer_alike<Work, Fut>(
    state: &MailRequestState,
    request: &Request,
    message: &'static str,
    work: Work,
) -> Response<Body>
where
    Work: FnOnce(Email) -> Fut,
    Fut: Future<Output = Result<(), ApiError>>,
{
    let floor = tokio::time::Instant::now() + RESPONSE_FLOOR;
    let email = match requested_email(request) {
        Ok(email) => email,
        Err(error) => return respond(Err(error)),
    };
    // Within the floor too: a slow store must not show in the answer's time.
    let admitted = tokio::time::timeout_at(
        floor,
        state.store.admit_client(
            ClientRequest::Mail,
            &state.config.client_limits,
            client_address(request),
            unix_now(),
        ),
    )
    .await;
    match admitted {
        Ok(Err(error @ ApiError::TooManyRequests { .. })) => return respond(Err(error)),
        // Answered as always: this route never answers 5xx itself.
        Ok(Err(error)) => tracing::error!(
            code = http_api::http::code(&error),
            cause = %cause_chain(&error),
            "client count failed; answered as usual"
        ),
        Err(_) => tracing::error!("client count still running at the response floor; abandoned"),
        Ok(Ok(())) => {}
    }
    match tokio::time::timeout_at(floor, work(email)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::error!(
                code = http_api::http::code(&error),
                cause = %cause_chain(&error),
                "mail request failed; answered as usual"
            );
        }
        Err(_) => tracing::error!("mail request still running at the response floor; abandoned"),
    }
    tokio::time::sleep_until(floor).await;
    respond(json_response(StatusCode::OK, &MessageBody { message }))
}

fn requested_email(request: &Request) -> Result<Email, ApiError> {
    let EmailRequest { email } = parse_body(request)?;
    Email::parse(&email)
        .map_err(|problem| ApiError::invalid_fields([(field!(EmailRequest, email), Some(problem))]))
}
