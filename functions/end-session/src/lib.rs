//! `DELETE /v1/api/sessions/{id}`: end one of the caller's sessions (its
//! access and refresh tokens stop working). An id that is not one of the
//! caller's live sessions (unknown, ended, malformed or another user's)
//! gets the same 404.

use accounts::ApiError;
use accounts::clock::unix_now;
use accounts::refresh_token::SessionId;
use http_api::AppState;
use http_api::http::{MessageBody, json_response, respond};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, RequestExt, Response};

#[tracing::instrument(name = "End a session", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(end_session(state, &request).await))
}

async fn end_session(state: &AppState, request: &Request) -> Result<Response<Body>, ApiError> {
    let caller = state.authenticate(request).await?;
    let id = request
        .path_parameters()
        .first("id")
        .and_then(SessionId::parse)
        .ok_or(ApiError::SessionNotFound)?;
    let ended = state
        .store
        .end_live_session(
            &caller.user.user.id,
            &id,
            caller.user.token_version,
            unix_now(),
        )
        .await?;
    if !ended {
        return Err(ApiError::SessionNotFound);
    }
    tracing::info!(session_id = %id, "session ended");
    json_response(
        StatusCode::OK,
        &MessageBody {
            message: "Session ended",
        },
    )
}
