//! Request parsing and response building shared by every route.
//!
//! Bodies are read in one order everywhere ([`parse_body`]): size (413),
//! media type (415), JSON object (400 `invalid_json`), then field names and
//! types (400 `validation_failed`), then presence (400 `missing_fields`).

use std::fmt;

use lambda_http::http::StatusCode;
use lambda_http::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE,
    X_CONTENT_TYPE_OPTIONS,
};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use secrecy::SecretString;
use serde::de::{DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use accounts::error::{ApiError, FieldErrors, cause_chain};
use accounts::mail_token;

pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Field names echoed back in errors are cut to this many characters.
const MAX_ECHOED_FIELD_CHARS: usize = 64;
/// Longer than any token this API issues; anything bigger is refused unread.
const MAX_BEARER_TOKEN_BYTES: usize = 4096;

/// Parses the request body into the route's request struct `T`: a struct of
/// string fields (`String`, `SecretString`, or `Option` of either for an
/// optional one) with `#[serde(deny_unknown_fields)]`, whose field names are
/// the only place the route names them.
///
/// Checked in order, each step naming every problem at once: size (413),
/// media type (415), a JSON object (400 `invalid_json`), members that are
/// fields of `T`, strings and present once (400 `validation_failed`), then
/// the fields `T` requires (400 `missing_fields`). serde alone would stop at
/// the first problem and could not tell a missing field from a wrong one.
pub fn parse_body<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
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

    let known = field_names::<T>()?;
    let mut fields = Map::new();
    let mut problems = FieldErrors::new();
    for (name, value) in members {
        if !known.contains(&name.as_str()) {
            problems.insert(echoable(&name), "is not a field of this request".to_owned());
            continue;
        }
        if !value.is_string() {
            problems.insert(name, "must be a string".to_owned());
            continue;
        }
        if fields.contains_key(&name) {
            problems.insert(name, "must appear only once".to_owned());
            continue;
        }
        fields.insert(name, value);
    }
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }

    match T::deserialize(Value::Object(fields.clone())) {
        Ok(parsed) => Ok(parsed),
        Err(error) => {
            let missing = missing_fields::<T>(known, &fields);
            if missing.is_empty() {
                return Err(ApiError::unexpected(error));
            }
            Err(ApiError::MissingFields(
                missing
                    .into_iter()
                    .map(|name| (name.to_owned(), "is required".to_owned()))
                    .collect(),
            ))
        }
    }
}

/// The fields of `T` that `present` lacks and `T` cannot do without: each
/// absent field is left out alone, the others filled in, and serde says
/// whether that is enough. Runs only when a body was refused.
fn missing_fields<T: DeserializeOwned>(
    known: &[&'static str],
    present: &Map<String, Value>,
) -> Vec<&'static str> {
    let absent: Vec<&'static str> = known
        .iter()
        .copied()
        .filter(|name| !present.contains_key(*name))
        .collect();
    absent
        .iter()
        .copied()
        .filter(|candidate| {
            let mut probe = present.clone();
            for other in absent.iter().filter(|other| *other != candidate) {
                probe.insert((*other).to_owned(), Value::String(String::new()));
            }
            T::deserialize(Value::Object(probe)).is_err()
        })
        .collect()
}

/// The field names of the struct `T`, as its `Deserialize` derive hands them
/// to a deserializer (`deserialize_struct`).
fn field_names<T: DeserializeOwned>() -> Result<&'static [&'static str], ApiError> {
    let mut names: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut names));
    if names.is_empty() {
        return Err(ApiError::unexpected(format!(
            "{} is not a struct of named fields",
            std::any::type_name::<T>()
        )));
    }
    Ok(names)
}

/// A deserializer that only records the field names of the struct asked of it.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(serde::de::Error::custom("field names recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// The name of field `$field` of the request struct `$request`, checked by
/// the compiler: for the `fields` of a validation error, so a field's name
/// is still written only in its struct (request structs use no serde renames).
#[macro_export]
macro_rules! field {
    ($request:ty, $field:ident) => {{
        fn _field_exists(request: &$request) -> &impl ::core::any::Any {
            &request.$field
        }
        stringify!($field)
    }};
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

/// The stored form (SHA-256) of the mailed token in the path's `{token}`;
/// `invalid` when it is not shaped like one this API mails, before any read.
pub fn mailed_token_hash(request: &Request, invalid: ApiError) -> Result<String, ApiError> {
    request
        .path_parameters()
        .first("token")
        .filter(|token| mail_token::is_well_formed(token))
        .map(|token| mail_token::hash(&SecretString::from(token)))
        .ok_or(invalid)
}

/// The client's address as API Gateway saw the connection
/// (`requestContext.http.sourceIp`), never a header a client sets: what the
/// per-client limits count by. Requests that reach a function without it
/// (never from API Gateway) share one count.
pub fn client_address(request: &Request) -> &str {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .http
            .source_ip
            .as_deref()
            .filter(|address| !address.is_empty()),
        _ => None,
    }
    .unwrap_or("unknown")
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
        "no-store",
    ))
}

/// A 200 JSON response that anyone may cache for ten minutes: the key
/// documents, which API Gateway JWT authorizers and other verifiers fetch.
pub fn public_json_response(body: &impl Serialize) -> Result<Response<Body>, ApiError> {
    let json = serde_json::to_string(body).map_err(ApiError::unexpected)?;
    Ok(with_standard_headers(
        Response::builder().status(StatusCode::OK),
        json,
        "public, max-age=600",
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

/// The status of the response an error becomes.
pub fn status(error: &ApiError) -> StatusCode {
    match error {
        ApiError::InvalidJson
        | ApiError::MissingFields(_)
        | ApiError::Validation(_)
        | ApiError::InvalidResetToken
        | ApiError::InvalidVerificationToken
        | ApiError::InvalidEmailChangeToken
        | ApiError::InvalidLimit
        | ApiError::InvalidCursor
        | ApiError::InvalidScope => StatusCode::BAD_REQUEST,
        ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ApiError::EmailTaken => StatusCode::CONFLICT,
        ApiError::InvalidCredentials
        | ApiError::InvalidToken
        | ApiError::InvalidRefreshToken
        | ApiError::RefreshTokenReused
        | ApiError::SessionExpired => StatusCode::UNAUTHORIZED,
        ApiError::AdminRequired | ApiError::EmailNotVerified => StatusCode::FORBIDDEN,
        ApiError::UserNotFound | ApiError::SessionNotFound | ApiError::PageNotFound => {
            StatusCode::NOT_FOUND
        }
        ApiError::TooManyAttempts { .. } | ApiError::TooManyRequests { .. } => {
            StatusCode::TOO_MANY_REQUESTS
        }
        ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The `code` member of an error body (API.md).
pub fn code(error: &ApiError) -> &'static str {
    match error {
        ApiError::InvalidJson => "invalid_json",
        ApiError::UnsupportedMediaType => "unsupported_media_type",
        ApiError::PayloadTooLarge => "payload_too_large",
        ApiError::MissingFields(_) => "missing_fields",
        ApiError::Validation(_) => "validation_failed",
        ApiError::EmailTaken => "email_taken",
        ApiError::InvalidCredentials => "invalid_credentials",
        ApiError::InvalidToken => "invalid_token",
        ApiError::AdminRequired => "admin_required",
        ApiError::UserNotFound => "user_not_found",
        ApiError::TooManyAttempts { .. } => "too_many_attempts",
        ApiError::TooManyRequests { .. } => "too_many_requests",
        ApiError::InvalidResetToken => "invalid_reset_token",
        ApiError::EmailNotVerified => "email_not_verified",
        ApiError::InvalidVerificationToken => "invalid_verification_token",
        ApiError::InvalidEmailChangeToken => "invalid_email_change_token",
        ApiError::InvalidLimit => "invalid_limit",
        ApiError::InvalidRefreshToken => "invalid_refresh_token",
        ApiError::RefreshTokenReused => "refresh_token_reused",
        ApiError::SessionExpired => "session_expired",
        ApiError::SessionNotFound => "session_not_found",
        ApiError::PageNotFound => "page_not_found",
        ApiError::InvalidScope => "invalid_scope",
        ApiError::InvalidCursor => "invalid_cursor",
        ApiError::Unavailable(_) => "service_unavailable",
        ApiError::Unexpected(_) => "internal_error",
    }
}

/// The one place results become responses: errors are logged here, once, and
/// turned into the JSON error body of API.md.
pub fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    let error = match result {
        Ok(response) => return response,
        Err(error) => error,
    };
    let status = status(&error);
    if status.is_server_error() {
        tracing::error!(
            status = status.as_u16(),
            code = code(&error),
            cause = %cause_chain(&error),
            "request failed"
        );
    } else {
        tracing::info!(
            status = status.as_u16(),
            code = code(&error),
            "request refused"
        );
    }

    let body = ErrorBody {
        error: error.to_string(),
        code: code(&error),
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
        }
        | ApiError::TooManyRequests {
            retry_after_seconds,
        } => builder = builder.header(RETRY_AFTER, retry_after_seconds),
        _ => {}
    }
    with_standard_headers(builder, json, "no-store")
}

fn with_standard_headers(
    builder: lambda_http::http::response::Builder,
    json: String,
    cache_control: &'static str,
) -> Response<Body> {
    let headers = [
        (CONTENT_TYPE, "application/json"),
        (CACHE_CONTROL, cache_control),
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
    use super::tests_support::{Pair, Probe};
    use super::*;
    use lambda_http::http;
    use secrecy::ExposeSecret;

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = http::Request::builder()
            .method("POST")
            .uri("/v1/api/register");
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        builder.body(Body::from(body)).unwrap()
    }

    fn parse(content_type: Option<&str>, body: &str) -> Result<Probe, ApiError> {
        parse_body(&request(content_type, body))
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

    #[test]
    fn every_missing_required_field_is_named_and_optional_ones_are_not() {
        let Err(ApiError::MissingFields(fields)) =
            parse_body::<Pair>(&request(None, r#"{"third":"c"}"#))
        else {
            panic!("expected missing fields");
        };
        assert_eq!(fields.keys().collect::<Vec<_>>(), ["first", "second"]);
        let parsed = parse_body::<Pair>(&request(None, r#"{"first":"a","second":"b"}"#)).unwrap();
        assert_eq!(
            (
                parsed.first.as_str(),
                parsed.second.expose_secret(),
                parsed.third
            ),
            ("a", "b", None)
        );
    }

    #[test]
    fn a_parsed_body_holds_the_values_sent() {
        let probe = parse(None, r#"{"email":"ada@example.com"}"#).unwrap();
        assert_eq!(probe.email, "ada@example.com");
        assert_eq!(probe.name, None);
    }

    #[test]
    fn the_field_macro_names_a_field_of_the_struct() {
        assert_eq!(crate::field!(Probe, email), "email");
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
mod tests_support {
    /// Request structs like a route's: required and optional fields.
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Probe {
        pub email: String,
        pub name: Option<String>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Pair {
        pub first: String,
        pub second: secrecy::SecretString,
        pub third: Option<String>,
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
            let _ = parse_body::<tests_support::Probe>(&request);
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
            let _ = parse_body::<tests_support::Probe>(&request);
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
