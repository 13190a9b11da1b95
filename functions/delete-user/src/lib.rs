//! `DELETE /v1/api/user`: delete the caller's account, its email claim and
//! its reset token. The address can be registered again at once.

use accounts::ApiError;
use http_api::AppState;
use http_api::http::{MessageBody, json_response, respond};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

#[tracing::instrument(name = "Delete own account", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(delete_user(state, &request).await))
}

async fn delete_user(state: &AppState, request: &Request) -> Result<Response<Body>, ApiError> {
    let caller = state.authenticate(request).await?;
    state.store.delete_user(&caller.user).await?;
    tracing::info!("user deleted");
    json_response(
        StatusCode::OK,
        &MessageBody {
            message: "User profile deleted successfully",
        },
    )
}
