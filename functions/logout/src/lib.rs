//! `POST /v1/api/logout`: revoke the presented token, and only it.

use accounts::ApiError;
use http_api::AppState;
use http_api::http::{MessageBody, json_response, respond};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

#[tracing::instrument(name = "Log out a token", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(logout(state, &request).await))
}

async fn logout(state: &AppState, request: &Request) -> Result<Response<Body>, ApiError> {
    let caller = state.authenticate(request).await?;
    let token = &caller.token;
    state
        .store
        .revoke_token(&token.user_id, &token.token_id, token.expires_at)
        .await?;
    tracing::info!("token revoked");
    json_response(
        StatusCode::OK,
        &MessageBody {
            message: "Logout successful",
        },
    )
}
