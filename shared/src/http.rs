//! Request parsing and response building shared by every route.
//!
//! Bodies are read in one order everywhere: size (413), media type (415),
//! JSON object (400 `invalid_json`), then field names and types
//! (400 `validation_failed`), then presence (400 `missing_fields`).

use std::collections::BTreeMap;
use std::fmt;

use lambda_http::http::StatusCode;
use lambda_http::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE,
    X_CONTENT_TYPE_OPTIONS,
};
use lambda_http::{Body, Request, Response};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ApiError, FieldErrors, cause_chain};

pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Field names echoed back in errors are cut to this many characters.
const MAX_ECHOED_FIELD_CHARS: usize = 64;
/// Longer than any token this API issues; anything bigger is refused unread.
const MAX_BEARER_TOKEN_BYTES: usize = 4096;

/// The string fields of a JSON object body, each checked to be one the route
/// accepts and present at most once.
#[derive(Debug)]
pub struct Fields(BTreeMap<&'static str, String>);

impl Fields {
    /// Parses the request body as a JSON object whose members are all among
    /// `allowed` and all strings, and whose `required` members are present.
    pub fn from_request(
        request: &Request,
        allowed: &[&'static str],
        required: &[&'static str],
    ) -> Result<Self, ApiError> {
        let body: &[u8] = request.body().as_ref();
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        if let Some(content_type) = request.headers().get(CONTENT_TYPE)
            && !is_json_media_type(content_type)
        {
            return Err(ApiError::UnsupportedMediaType);
        }
        let Ok(JsonObjectMembers(members)) = serde_json::from_slice(body) else {
            return Err(ApiError::InvalidJson);
        };

        let mut fields = BTreeMap::new();
        let mut problems = FieldErrors::new();
        for (name, value) in members {
            let Some(&known) = allowed.iter().find(|known| **known == name) else {
                problems.insert(echoable(&name), "is not a field of this request".to_owned());
                continue;
            };
            let Value::String(text) = value else {
                problems.insert(known.to_owned(), "must be a string".to_owned());
                continue;
            };
            if fields.insert(known, text).is_some() {
                problems.insert(known.to_owned(), "must appear only once".to_owned());
            }
        }
        if !problems.is_empty() {
            return Err(ApiError::Validation(problems));
        }

        let missing: FieldErrors = required
            .iter()
            .filter(|name| !fields.contains_key(**name))
            .map(|name| ((*name).to_owned(), "is required".to_owned()))
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::MissingFields(missing));
        }
        Ok(Self(fields))
    }

    pub fn take(&mut self, name: &'static str) -> Option<String> {
        self.0.remove(name)
    }

    /// A field listed as required in `from_request`, so present by construction.
    pub fn take_required(&mut self, name: &'static str) -> Result<String, ApiError> {
        self.take(name).ok_or_else(|| {
            ApiError::unexpected(format!("required field {name} was not checked for"))
        })
    }
}

fn is_json_media_type(content_type: &HeaderValue) -> bool {
    content_type
        .to_str()
        .ok()
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

fn echoable(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_control())
        .take(MAX_ECHOED_FIELD_CHARS)
        .collect()
}

/// The members of a top-level JSON object in document order, duplicates kept
/// (`serde_json::Map` would silently keep the last), so they can be refused.
struct JsonObjectMembers(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for JsonObjectMembers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = JsonObjectMembers;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Value>()? {
                    members.push(member);
                }
                Ok(JsonObjectMembers(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme in any case).
pub fn bearer_token(request: &Request) -> Result<&str, ApiError> {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or(ApiError::InvalidToken)?;
    let (scheme, token) = header
        .trim()
        .split_once(' ')
        .ok_or(ApiError::InvalidToken)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer")
        || token.is_empty()
        || token.len() > MAX_BEARER_TOKEN_BYTES
        || token.contains(char::is_whitespace)
    {
        return Err(ApiError::InvalidToken);
    }
    Ok(token)
}

/// A JSON success response.
pub fn json_response(
    status: StatusCode,
    body: &impl Serialize,
) -> Result<Response<Body>, ApiError> {
    let json = serde_json::to_string(body).map_err(ApiError::unexpected)?;
    Ok(with_standard_headers(
        Response::builder().status(status),
        json,
    ))
}

#[derive(Serialize)]
pub struct MessageBody {
    pub message: &'static str,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: String,
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a FieldErrors>,
}

/// The one place results become responses: errors are logged here, once, and
/// turned into the JSON error body of API.md.
pub fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    let error = match result {
        Ok(response) => return response,
        Err(error) => error,
    };
    let status = error.status();
    if status.is_server_error() {
        tracing::error!(
            status = status.as_u16(),
            code = error.code(),
            cause = %cause_chain(&error),
            "request failed"
        );
    } else {
        tracing::info!(
            status = status.as_u16(),
            code = error.code(),
            "request refused"
        );
    }

    let body = ErrorBody {
        error: error.to_string(),
        code: error.code(),
        fields: error.fields(),
    };
    // Serialising owned strings and a string map cannot fail; the fallback keeps
    // the contract even so.
    let json = serde_json::to_string(&body).unwrap_or_else(|_| {
        r#"{"error":"An unexpected error occurred.","code":"internal_error"}"#.to_owned()
    });
    let mut builder = Response::builder().status(status);
    match error {
        ApiError::InvalidToken => builder = builder.header(WWW_AUTHENTICATE, "Bearer"),
        ApiError::TooManyAttempts {
            retry_after_seconds,
        } => builder = builder.header(RETRY_AFTER, retry_after_seconds),
        _ => {}
    }
    with_standard_headers(builder, json)
}

fn with_standard_headers(
    builder: lambda_http::http::response::Builder,
    json: String,
) -> Response<Body> {
    let headers = [
        (CONTENT_TYPE, "application/json"),
        (CACHE_CONTROL, "no-store"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    let builder = headers.into_iter().fold(builder, |builder, (name, value)| {
        builder.header(name, value)
    });
    builder.body(Body::Text(json)).unwrap_or_else(|_| {
        // Only reachable with an invalid header value, which the constants above are not.
        let mut response = Response::new(Body::Text(String::new()));
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        response
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = http::Request::builder()
            .method("POST")
            .uri("/v1/api/register");
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        builder.body(Body::from(body)).unwrap()
    }

    fn parse(content_type: Option<&str>, body: &str) -> Result<Fields, ApiError> {
        Fields::from_request(&request(content_type, body), &["email", "name"], &["email"])
    }

    #[test]
    fn media_type_parameters_and_case_are_accepted() {
        assert!(parse(Some("Application/JSON; charset=utf-8"), r#"{"email":"a"}"#).is_ok());
        assert!(parse(None, r#"{"email":"a"}"#).is_ok());
    }

    #[test]
    fn other_media_types_are_refused() {
        for content_type in [
            "text/plain",
            "application/jsonx",
            "application/x-www-form-urlencoded",
            "",
        ] {
            assert!(matches!(
                parse(Some(content_type), r#"{"email":"a"}"#),
                Err(ApiError::UnsupportedMediaType)
            ));
        }
    }

    #[test]
    fn bodies_that_are_not_json_objects_are_invalid_json() {
        for body in [
            "",
            "null",
            "[]",
            "\"x\"",
            "5",
            "{",
            "{\"email\":\"a\"} trailing",
        ] {
            assert!(
                matches!(parse(None, body), Err(ApiError::InvalidJson)),
                "{body:?}"
            );
        }
    }

    #[test]
    fn oversized_bodies_are_refused_before_parsing() {
        let body = format!(r#"{{"email":"{}"}}"#, "a".repeat(MAX_BODY_BYTES));
        assert!(matches!(
            parse(Some("text/plain"), &body),
            Err(ApiError::PayloadTooLarge)
        ));
    }

    #[test]
    fn unknown_mistyped_and_repeated_fields_are_named() {
        let Err(ApiError::Validation(fields)) =
            parse(None, r#"{"email":5,"admin":true,"name":"a","name":"b"}"#)
        else {
            panic!("expected a validation error");
        };
        assert_eq!(fields["email"], "must be a string");
        assert_eq!(fields["admin"], "is not a field of this request");
        assert_eq!(fields["name"], "must appear only once");
    }

    #[test]
    fn missing_required_fields_are_named() {
        let Err(ApiError::MissingFields(fields)) = parse(None, r#"{"name":"a"}"#) else {
            panic!("expected missing fields");
        };
        assert_eq!(fields.keys().collect::<Vec<_>>(), ["email"]);
    }

    fn with_authorization(value: &str) -> Request {
        http::Request::builder()
            .header(AUTHORIZATION, value)
            .body(Body::Empty)
            .unwrap()
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(
            bearer_token(&with_authorization("bearer abc.def.ghi")).unwrap(),
            "abc.def.ghi"
        );
        assert_eq!(
            bearer_token(&with_authorization("BEARER abc")).unwrap(),
            "abc"
        );
    }

    #[test]
    fn other_schemes_and_empty_tokens_are_invalid() {
        for value in [
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "abc",
        ] {
            assert!(matches!(
                bearer_token(&with_authorization(value)),
                Err(ApiError::InvalidToken)
            ));
        }
        let no_header = http::Request::builder().body(Body::Empty).unwrap();
        assert!(matches!(
            bearer_token(&no_header),
            Err(ApiError::InvalidToken)
        ));
    }

    #[test]
    fn error_responses_carry_the_contract_headers_and_body() {
        let response = respond(Err(ApiError::InvalidToken));
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer");
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(body["code"], "invalid_token");
        assert!(body["error"].as_str().is_some_and(|text| !text.is_empty()));
    }

    #[test]
    fn server_errors_hide_their_cause() {
        let response = respond(Err(ApiError::unexpected("table users-prod: secret detail")));
        let body = std::str::from_utf8(response.body().as_ref())
            .unwrap()
            .to_owned();
        assert_eq!(response.status(), 500);
        assert!(!body.contains("secret detail"), "{body}");
    }
}

#[cfg(test)]
mod properties {
    use lambda_http::http;
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn body_parsing_never_panics_on_any_bytes(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let request = http::Request::builder().body(Body::Binary(body)).unwrap();
            let _ = Fields::from_request(&request, &["email", "name"], &["email"]);
        }

        #[test]
        fn body_parsing_never_panics_on_json_like_text(
            body in proptest::collection::vec(prop_oneof![
                Just("{".to_owned()), Just("}".to_owned()), Just("[".to_owned()), Just("]".to_owned()),
                Just(",".to_owned()), Just(":".to_owned()), Just("\"email\"".to_owned()),
                Just("\"name\"".to_owned()), Just("null".to_owned()), Just("1e999".to_owned()),
                any::<String>().prop_map(|s| format!("{s:?}")),
            ], 0..64),
            content_type in prop_oneof![Just(None), Just(Some("application/json".to_owned())), any::<String>().prop_map(Some)],
        ) {
            let mut builder = http::Request::builder();
            if let Some(content_type) = content_type.and_then(|value| HeaderValue::from_str(&value).ok()) {
                builder = builder.header(CONTENT_TYPE, content_type);
            }
            let request = builder.body(Body::from(body.concat())).unwrap();
            let _ = Fields::from_request(&request, &["email", "name"], &["email"]);
        }

        #[test]
        fn bearer_extraction_never_panics(value in any::<String>()) {
            if let Ok(header) = HeaderValue::from_str(&value) {
                let request = http::Request::builder().header(AUTHORIZATION, header).body(Body::Empty).unwrap();
                let _ = bearer_token(&request);
            }
        }
    }
}
