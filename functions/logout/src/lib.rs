//! `POST /v1/api/logout`: end the caller's session, so its access tokens
//! are refused from the next request on.

use accounts::ApiError;
use http_api::AppState;
use http_api::http::{MessageBody, json_response, respond};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

#[tracing::instrument(name = "Log out a session", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(logout(state, &request).await))
}

async fn logout(state: &AppState, request: &Request) -> Result<Response<Body>, ApiError> {
    let caller = state.authenticate(request).await?;
    let token = &caller.token;
    state
        .store
        .end_session(&token.user_id, &token.session_id)
        .await?;
    tracing::info!("session ended");
    json_response(
        StatusCode::OK,
        &MessageBody {
            message: "Logout successful",
        },
    )
}
