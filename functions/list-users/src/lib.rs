//! `GET /v1/api/users?limit=&cursor=`: every user, for admins, in creation
//! order, a page at a time. Admin rights are read from the stored user on
//! every call, so a promotion or demotion takes effect at once.

use accounts::ApiError;
use accounts::domain::{User, UserId};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_api::AppState;
use http_api::http::{json_response, respond};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, RequestExt, Response};
use serde::Serialize;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 100;
/// Cursors are versioned so their form can change without old ones being
/// misread; today one is the id of the last user of the page before.
const CURSOR_PREFIX: &str = "v1:";

#[derive(Serialize)]
struct Page {
    users: Vec<User>,
    next_cursor: Option<String>,
}

#[tracing::instrument(name = "List users", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(list_users(state, &request).await))
}

async fn list_users(state: &AppState, request: &Request) -> Result<Response<Body>, ApiError> {
    let caller = state.authenticate(request).await?;
    if !caller.user.user.admin {
        return Err(ApiError::AdminRequired);
    }
    let query = request.query_string_parameters();
    let limit = parse_limit(query.all("limit").as_deref().unwrap_or_default())?;
    let after = match query.all("cursor").as_deref().unwrap_or_default() {
        [] => None,
        [cursor] => Some(decode_cursor(cursor)?),
        _ => return Err(ApiError::InvalidCursor),
    };

    let page = state.store.list_users(limit, after.as_ref()).await?;
    json_response(
        StatusCode::OK,
        &Page {
            users: page.users,
            next_cursor: page.last.as_ref().map(encode_cursor),
        },
    )
}

/// `limit` given once, as a whole number from 1 to 100; 50 when absent.
pub fn parse_limit(values: &[&str]) -> Result<usize, ApiError> {
    match values {
        [] => Ok(DEFAULT_LIMIT),
        [raw] => raw
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_LIMIT).contains(limit))
            .ok_or(ApiError::InvalidLimit),
        _ => Err(ApiError::InvalidLimit),
    }
}

pub fn encode_cursor(last: &UserId) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{last}"))
}

/// The user id a cursor points after; anything this API did not issue is
/// `InvalidCursor`.
pub fn decode_cursor(cursor: &str) -> Result<UserId, ApiError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| ApiError::InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| ApiError::InvalidCursor)?;
    text.strip_prefix(CURSOR_PREFIX)
        .and_then(UserId::parse)
        .ok_or(ApiError::InvalidCursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_decodes_to_the_id_it_was_made_from() {
        let id = UserId::generate();
        assert_eq!(decode_cursor(&encode_cursor(&id)).unwrap(), id);
    }

    #[test]
    fn forged_cursors_are_refused() {
        for cursor in [
            "",
            "x",
            "!!!",
            &URL_SAFE_NO_PAD.encode("v1:not-an-id"),
            &URL_SAFE_NO_PAD.encode("v2:0"),
        ] {
            assert!(
                matches!(decode_cursor(cursor), Err(ApiError::InvalidCursor)),
                "{cursor}"
            );
        }
    }

    #[test]
    fn limits_outside_one_to_a_hundred_are_refused() {
        assert_eq!(parse_limit(&[]).unwrap(), 50);
        assert_eq!(parse_limit(&["1"]).unwrap(), 1);
        assert_eq!(parse_limit(&["100"]).unwrap(), 100);
        for bad in [
            &["0"][..],
            &["101"],
            &["-1"],
            &["ten"],
            &[""],
            &["1.5"],
            &["5", "6"],
        ] {
            assert!(
                matches!(parse_limit(bad), Err(ApiError::InvalidLimit)),
                "{bad:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn cursor_decoding_never_panics(cursor in proptest::prelude::any::<String>()) {
            let _ = decode_cursor(&cursor);
        }

        #[test]
        fn limit_parsing_never_panics(limit in proptest::prelude::any::<String>()) {
            let _ = parse_limit(&[&limit]);
        }
    }
}
