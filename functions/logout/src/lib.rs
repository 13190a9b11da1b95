//! `POST /v1/api/logout`: revoke the presented token, and only it.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use shared::http::{MessageBody, json_response, respond};
use shared::{ApiError, AppState};

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
