//! `POST /v1/api/logout?scope=local|others|global`: end the caller's
//! session (`local`, the default), every other session of the user
//! (`others`), or all of them (`global`). An ended session's access tokens
//! are refused from the next request on, and its refresh token too.

use accounts::ApiError;
use http_api::AppState;
use http_api::http::{MessageBody, json_response, respond};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, RequestExt, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Local,
    Others,
    Global,
}

/// `scope` given at most once, as one of the three names.
pub fn parse_scope(values: &[&str]) -> Result<Scope, ApiError> {
    match values {
        [] | ["local"] => Ok(Scope::Local),
        ["others"] => Ok(Scope::Others),
        ["global"] => Ok(Scope::Global),
        _ => Err(ApiError::InvalidScope),
    }
}

#[tracing::instrument(name = "Log out", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(logout(state, &request).await))
}

async fn logout(state: &AppState, request: &Request) -> Result<Response<Body>, ApiError> {
    let caller = state.authenticate(request).await?;
    let query = request.query_string_parameters();
    let scope = parse_scope(query.all("scope").as_deref().unwrap_or_default())?;
    let user_id = &caller.user.user.id;
    let session_id = &caller.session.id;
    let store = &state.store;
    // For `local` and `global`, a `false` means a concurrent logout, reset
    // or delete ended the session first: what the caller asked for, or more.
    match scope {
        Scope::Local => {
            store.end_session(user_id, session_id).await?;
        }
        Scope::Others => {
            let kept = store
                .end_other_sessions(user_id, session_id, caller.user.token_version)
                .await?;
            // The session to keep ended meanwhile (another `others` logout
            // of this user won, or a reset): its token no longer counts.
            if !kept {
                return Err(ApiError::InvalidToken);
            }
        }
        Scope::Global => {
            store.end_all_sessions(user_id).await?;
        }
    }
    tracing::info!(?scope, session_id = %session_id, "logged out");
    json_response(
        StatusCode::OK,
        &MessageBody {
            message: "Logout successful",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_is_local_others_or_global_and_local_by_default() {
        assert_eq!(parse_scope(&[]).unwrap(), Scope::Local);
        assert_eq!(parse_scope(&["local"]).unwrap(), Scope::Local);
        assert_eq!(parse_scope(&["others"]).unwrap(), Scope::Others);
        assert_eq!(parse_scope(&["global"]).unwrap(), Scope::Global);
        for bad in [
            &["Global"][..],
            &[""],
            &["all"],
            &["local", "global"],
            &["local", "local"],
        ] {
            assert!(
                matches!(parse_scope(bad), Err(ApiError::InvalidScope)),
                "{bad:?}"
            );
        }
    }
}
