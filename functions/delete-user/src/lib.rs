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
    // The sessions are listed beside the delete and removed after it. They
    // died with the user item (every token check and refresh reads it), so
    // removing them only tidies: a failure here must not turn a done delete
    // into an error the client would retry in vain, and a session begun
    // between the two (or an item left by a failure) goes with its TTL.
    let (deleted, sessions) = tokio::join!(
        state.store.delete_user(&caller.user),
        state.store.session_records(&caller.user.user.id)
    );
    deleted?;
    let removed = match sessions {
        Ok(records) => state.store.remove_sessions(&records).await,
        Err(error) => Err(error),
    };
    if let Err(error) = removed {
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
