//! Black-box tests of the real binaries: HTTP to `cargo lambda watch`, which
//! turns each request into an API Gateway HTTP API (payload 2.0) event for
//! the function process. `main.rs`, configuration from the environment and
//! event decoding are all on the path.

use serde_json::{Value, json};

use crate::helpers::{NEW_PASSWORD, PASSWORD, reset_token_sent_to, sdk_config};
use crate::http_client::{HttpResponse, request};
use crate::stack::stack;

fn email(local: &str) -> String {
    format!(
        "{local}-{}@example.com",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

fn call(method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> HttpResponse {
    let authorization = token.map(|token| format!("Bearer {token}"));
    let mut headers = vec![];
    if let Some(authorization) = &authorization {
        headers.push(("Authorization", authorization.as_str()));
    }
    let body = body.map(Value::to_string).unwrap_or_default();
    if !body.is_empty() {
        headers.push(("Content-Type", "application/json"));
    }
    let response = request(method, &stack().base, path, &headers, body.as_bytes());
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{method} {path}: {response:?}"
    );
    assert_eq!(
        response.header("cache-control"),
        Some("no-store"),
        "{method} {path}"
    );
    response
}

#[track_caller]
fn expect(response: &HttpResponse, status: u16, code: Option<&str>) -> Value {
    assert_eq!(response.status, status, "{}", response.body);
    let body = response.json();
    if let Some(code) = code {
        assert_eq!(body["code"], code, "{}", response.body);
    }
    body
}

fn register(address: &str) -> Value {
    let body = json!({"email": address, "password": PASSWORD, "name": "Black Box"});
    expect(
        &call("POST", "/v1/api/register", None, Some(&body)),
        201,
        None,
    )
}

fn login(address: &str, password: &str) -> HttpResponse {
    call(
        "POST",
        "/v1/api/login",
        None,
        Some(&json!({"email": address, "password": password})),
    )
}

fn token(address: &str, password: &str) -> String {
    expect(&login(address, password), 200, None)["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn promote(address: &str) {
    let client = aws_sdk_dynamodb::Client::new(
        &sdk_config(&crate::emulators::emulators().dynamodb_endpoint).await,
    );
    users_admin::execute(&["promote", address], &client, &stack().table)
        .await
        .unwrap();
}

#[tokio::test]
async fn register_and_login_through_the_gateway() {
    let address = email("ada");
    let registered = register(&address);
    assert_eq!(registered["message"], "User registered successfully");
    assert_eq!(registered["user"]["email"], address);

    expect(
        &call(
            "POST",
            "/v1/api/register",
            None,
            Some(&json!({"email": address.to_uppercase(), "password": PASSWORD, "name": "Dup"})),
        ),
        409,
        Some("email_taken"),
    );
    let body = expect(&login(&address, PASSWORD), 200, None);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    expect(
        &login(&address, "wrong password here"),
        401,
        Some("invalid_credentials"),
    );
}

#[tokio::test]
async fn the_body_rules_hold_through_the_gateway() {
    let big =
        json!({"email": "x@example.com", "password": PASSWORD, "name": "x".repeat(20 * 1024)});
    expect(
        &call("POST", "/v1/api/register", None, Some(&big)),
        413,
        Some("payload_too_large"),
    );
    let text_plain = request(
        "POST",
        &stack().base,
        "/v1/api/register",
        &[("Content-Type", "text/plain")],
        b"{}",
    );
    expect(&text_plain, 415, Some("unsupported_media_type"));
    let malformed = request(
        "POST",
        &stack().base,
        "/v1/api/login",
        &[("Content-Type", "application/json")],
        b"{\"email\":",
    );
    expect(&malformed, 400, Some("invalid_json"));
    expect(
        &call("POST", "/v1/api/register", None, Some(&json!({"email": 5}))),
        400,
        Some("validation_failed"),
    );
    expect(
        &call(
            "POST",
            "/v1/api/login",
            None,
            Some(&json!({"email": "a@example.com"})),
        ),
        400,
        Some("missing_fields"),
    );
}

#[tokio::test]
async fn profile_routes_through_the_gateway() {
    let address = email("grace");
    register(&address);
    let token = token(&address, PASSWORD);

    let user = expect(&call("GET", "/v1/api/user", Some(&token), None), 200, None);
    assert_eq!(user["user"]["email"], address);
    let missing = call("GET", "/v1/api/user", None, None);
    expect(&missing, 401, Some("invalid_token"));
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));

    let updated = expect(
        &call(
            "PUT",
            "/v1/api/user",
            Some(&token),
            Some(&json!({"name": "Grace Hopper"})),
        ),
        200,
        None,
    );
    assert_eq!(updated["message"], "User profile updated successfully");
    assert_eq!(updated["user"]["name"], "Grace Hopper");
    let other = email("other");
    register(&other);
    expect(
        &call(
            "PUT",
            "/v1/api/user",
            Some(&token),
            Some(&json!({"email": other})),
        ),
        409,
        Some("email_taken"),
    );
    expect(
        &call("PUT", "/v1/api/user", Some(&token), Some(&json!({}))),
        400,
        Some("missing_fields"),
    );

    let deleted = expect(
        &call("DELETE", "/v1/api/user", Some(&token), None),
        200,
        None,
    );
    assert_eq!(deleted["message"], "User profile deleted successfully");
    expect(
        &call("DELETE", "/v1/api/user", Some(&token), None),
        401,
        Some("invalid_token"),
    );
}

#[tokio::test]
async fn logout_through_the_gateway_revokes_only_that_token() {
    let address = email("alan");
    register(&address);
    let first = token(&address, PASSWORD);
    let second = token(&address, PASSWORD);

    let body = expect(
        &call("POST", "/v1/api/logout", Some(&first), None),
        200,
        None,
    );
    assert_eq!(body["message"], "Logout successful");

    expect(
        &call("GET", "/v1/api/user", Some(&first), None),
        401,
        Some("invalid_token"),
    );
    expect(
        &call("POST", "/v1/api/logout", Some(&first), None),
        401,
        Some("invalid_token"),
    );
    expect(&call("GET", "/v1/api/user", Some(&second), None), 200, None);
}

#[tokio::test]
async fn password_reset_through_the_gateway_with_the_emailed_token() {
    let address = email("edsger");
    register(&address);
    let old_token = token(&address, PASSWORD);

    let body = expect(
        &call(
            "POST",
            "/v1/api/reset_password",
            None,
            Some(&json!({"email": address})),
        ),
        200,
        None,
    );
    assert_eq!(
        body["message"],
        "If that email is registered, a password reset token has been sent"
    );
    let unknown = call(
        "POST",
        "/v1/api/reset_password",
        None,
        Some(&json!({"email": email("nobody")})),
    );
    assert_eq!(unknown.status, 200);
    assert_eq!(unknown.body, serde_json::to_string(&body).unwrap());
    let reset_token = reset_token_sent_to(&address);

    let path = format!("/v1/api/reset_password/{reset_token}");
    expect(
        &call("POST", &path, None, Some(&json!({"password": "short"}))),
        400,
        Some("validation_failed"),
    );
    let reset = expect(
        &call(
            "POST",
            &path,
            None,
            Some(&json!({"password": NEW_PASSWORD})),
        ),
        200,
        None,
    );
    assert_eq!(reset["message"], "Password reset successful");
    expect(
        &call(
            "POST",
            &path,
            None,
            Some(&json!({"password": NEW_PASSWORD})),
        ),
        400,
        Some("invalid_reset_token"),
    );

    expect(
        &call("GET", "/v1/api/user", Some(&old_token), None),
        401,
        Some("invalid_token"),
    );
    expect(&login(&address, PASSWORD), 401, Some("invalid_credentials"));
    token(&address, NEW_PASSWORD);
}

#[tokio::test]
async fn lockout_through_the_gateway_sends_retry_after() {
    let address = email("locked");
    for _ in 0..5 {
        expect(
            &login(&address, "wrong password here"),
            401,
            Some("invalid_credentials"),
        );
    }
    let locked = login(&address, "wrong password here");
    expect(&locked, 429, Some("too_many_attempts"));
    assert_eq!(locked.header("retry-after"), Some("1"));
}

#[tokio::test]
async fn list_users_through_the_gateway_needs_an_admin() {
    let address = email("admin");
    register(&address);
    register(&email("listed"));
    let token = token(&address, PASSWORD);
    expect(
        &call("GET", "/v1/api/users", Some(&token), None),
        403,
        Some("admin_required"),
    );

    promote(&address).await;

    let page = expect(
        &call("GET", "/v1/api/users?limit=1", Some(&token), None),
        200,
        None,
    );
    assert_eq!(page["users"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().expect("more users follow");
    let next = expect(
        &call(
            "GET",
            &format!("/v1/api/users?limit=1&cursor={cursor}"),
            Some(&token),
            None,
        ),
        200,
        None,
    );
    assert_ne!(next["users"][0]["id"], page["users"][0]["id"]);
    expect(
        &call("GET", "/v1/api/users?limit=0", Some(&token), None),
        400,
        Some("invalid_limit"),
    );
    expect(
        &call("GET", "/v1/api/users?cursor=forged", Some(&token), None),
        400,
        Some("invalid_cursor"),
    );
}

/// The JSON log lines every function process has written so far.
fn function_log_lines() -> Vec<String> {
    crate::stack::FUNCTIONS
        .iter()
        .flat_map(|function| {
            std::fs::read_to_string(crate::stack::function_log(function))
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn a_whole_flow_logs_no_secret_or_email_and_every_line_names_its_request() {
    let address = email("logged");
    let new_address = email("renamed");
    let first_password = "first secret passphrase 1";
    let second_password = "second secret passphrase 2";
    let body = json!({"email": address, "password": first_password, "name": "Logged"});
    expect(
        &call("POST", "/v1/api/register", None, Some(&body)),
        201,
        None,
    );
    let access = token(&address, first_password);
    expect(&login(&address, "a wrong secret passphrase"), 401, None);
    expect(
        &call(
            "POST",
            "/v1/api/reset_password",
            None,
            Some(&json!({"email": address})),
        ),
        200,
        None,
    );
    let reset_token = reset_token_sent_to(&address);
    let path = format!("/v1/api/reset_password/{reset_token}");
    expect(
        &call(
            "POST",
            &path,
            None,
            Some(&json!({"password": second_password})),
        ),
        200,
        None,
    );
    let access_after_reset = token(&address, second_password);
    expect(
        &call(
            "PUT",
            "/v1/api/user",
            Some(&access_after_reset),
            Some(&json!({"email": new_address})),
        ),
        200,
        None,
    );
    expect(&call("GET", "/v1/api/user", Some(&access), None), 401, None);
    expect(
        &call("DELETE", "/v1/api/user", Some(&access_after_reset), None),
        200,
        None,
    );

    let lines = function_log_lines();
    assert!(lines.len() >= 9, "the flow left {} log lines", lines.len());
    let secrets = [
        address.as_str(),
        new_address.as_str(),
        "@example.com",
        first_password,
        second_password,
        "a wrong secret passphrase",
        access.as_str(),
        access_after_reset.as_str(),
        reset_token.as_str(),
        "$argon2",
    ];
    for line in &lines {
        for secret in secrets {
            assert!(
                !line.contains(secret),
                "a log line contains {secret:?}: {line}"
            );
        }
        let entry: Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("not a JSON line ({error}): {line}"));
        let request_id = entry["spans"]
            .as_array()
            .and_then(|spans| spans.iter().find_map(|span| span["requestId"].as_str()));
        assert!(
            request_id.is_some_and(|id| !id.is_empty()),
            "a log line without the request id: {line}"
        );
    }
}
