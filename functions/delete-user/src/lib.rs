//! `DELETE /v1/api/user`: delete the caller's account, its email claim,
//! its reset token and its sessions. The address can be registered again
//! at once.

use accounts::ApiError;
use accounts::error::cause_chain;
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
    let user_id = &caller.user.user.id;
    state.store.delete_user(&caller.user).await?;
    // The sessions died with the user item (every token check and refresh
    // reads it); removing their items only tidies. A failure here must not
    // turn a done delete into an error the client would retry in vain: the
    // items' TTL removes them anyway.
    if let Err(error) = state.store.remove_sessions(user_id).await {
        tracing::warn!(cause = %cause_chain(&error), "the deleted user's session items stay until their TTL");
    }
    tracing::info!("user deleted");
    json_response(
        StatusCode::OK,
        &MessageBody {
            message: "User profile deleted successfully",
        },
    )
}
