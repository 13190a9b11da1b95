//! `GET /v1/api/user`: the caller's own profile.

use accounts::ApiError;
use accounts::domain::User;
use http_api::AppState;
use http_api::http::{json_response, respond};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Serialize;

#[derive(Serialize)]
struct Profile {
    user: User,
}

#[tracing::instrument(name = "Read own profile", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(get_user(state, &request).await))
}

async fn get_user(state: &AppState, request: &Request) -> Result<Response<Body>, ApiError> {
    let caller = state.authenticate(request).await?;
    json_response(
        StatusCode::OK,
        &Profile {
            user: caller.user.user,
        },
    )
}
