//! `GET /v1/api/user`: the caller's own profile.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Serialize;
use shared::http::{json_response, respond};
use shared::store::User;
use shared::{ApiError, AppState};

#[derive(Serialize)]
struct Profile {
    user: User,
}

#[tracing::instrument(name = "Read own profile", skip_all)]
pub async fn handler(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(get_user(state, &request).await))
}

async fn get_user(state: &AppState, request: &Request) -> Result<Response<Body>, ApiError> {
    let token = state.authenticate(request)?;
    let user = state
        .store
        .find_by_id(&token.user_id)
        .await?
        .ok_or(ApiError::UserNotFound)?;
    json_response(StatusCode::OK, &Profile { user })
}
