//! `GET /v1/api/sessions`: the caller's live sessions, newest first, the
//! caller's own marked `current`. Nothing of the refresh-token state leaves.

use accounts::ApiError;
use accounts::clock::unix_now;
use accounts::store::rfc3339;
use accounts::store::session_items::SessionRecord;
use http_api::AppState;
use http_api::http::{json_response, respond};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Serialize;

#[derive(Serialize)]
struct SessionList {
    sessions: Vec<SessionView>,
}

#[derive(Serialize)]
struct SessionView {
    id: String,
    created_at: String,
    last_used_at: String,
    user_agent: Option<String>,
    current: bool,
}

#[tracing::instrument(name = "List own sessions", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(list_sessions(state, &request).await))
}

async fn list_sessions(state: &AppState, request: &Request) -> Result<Response<Body>, ApiError> {
    let caller = state.authenticate(request).await?;
    let records = state.store.session_records(&caller.user.user.id).await?;
    let now = unix_now();
    let mut live: Vec<SessionRecord> = records
        .into_iter()
        .filter(|record| record.is_live(caller.user.token_version, &state.config.sessions, now))
        .collect();
    // Session ids are UUIDv7: within one second they still sort by creation.
    live.sort_by(|a, b| (b.created_at, b.id.as_str()).cmp(&(a.created_at, a.id.as_str())));
    let sessions = live
        .into_iter()
        .map(|record| SessionView {
            current: record.id == caller.session.id,
            id: record.id.to_string(),
            created_at: rfc3339(record.created_at),
            last_used_at: rfc3339(record.last_used_at),
            user_agent: record.user_agent,
        })
        .collect();
    json_response(StatusCode::OK, &SessionList { sessions })
}
