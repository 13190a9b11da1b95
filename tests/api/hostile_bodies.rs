//! Hostile request bodies: each gets a 4xx JSON error on every route that
//! reads a body, and writes nothing.

use lambda_http::Body;
use serde_json::json;

use crate::harness::{PASSWORD, Route, TestApp, TestResponse};

/// An app with one registered user, a token, and the routes that take a body.
async fn setup() -> (TestApp, String, Vec<Route>) {
    let app = TestApp::spawn().await;
    let token = app.registered_token(&app.email("ada")).await;
    let routes = vec![
        Route::Register,
        Route::Login,
        Route::RequestReset,
        Route::ResetPassword("A".repeat(43)),
        Route::RequestVerification,
        Route::UpdateUser,
        Route::ChangePassword,
    ];
    (app, token, routes)
}

/// Sends `body` with `content_type` to every body route; checks each answer
/// with `check` and that the table did not change.
async fn send_everywhere(
    body: impl Into<Body> + Clone,
    content_type: &str,
    check: impl Fn(&Route, &TestResponse),
) {
    let (app, token, routes) = setup().await;
    let before = app.snapshot().await;
    let authorization = format!("Bearer {token}");
    for route in &routes {
        let headers = [
            ("content-type", content_type),
            ("authorization", authorization.as_str()),
        ];
        let response = app
            .call(route, TestApp::request(route, &headers, body.clone()))
            .await;
        assert!(
            (400..500).contains(&response.status),
            "{route:?}: {}",
            response.text
        );
        check(route, &response);
    }
    assert_eq!(
        app.snapshot().await,
        before,
        "a hostile body changed the table"
    );
}

fn expect_code(code: &'static str) -> impl Fn(&Route, &TestResponse) {
    move |route, response| assert_eq!(response.code(), code, "{route:?}: {}", response.text)
}

#[tokio::test]
async fn an_empty_body_is_invalid_json() {
    send_everywhere("", "application/json", expect_code("invalid_json")).await;
}

#[tokio::test]
async fn null_an_array_and_a_string_are_invalid_json() {
    for body in ["null", "[]", "\"x\""] {
        send_everywhere(body, "application/json", expect_code("invalid_json")).await;
    }
}

#[tokio::test]
async fn an_operator_object_in_place_of_a_string_is_a_validation_error() {
    let body = json!({"email": {"$ne": ""}, "password": {"$ne": ""}, "name": "x"}).to_string();
    send_everywhere(body, "application/json", |route, response| {
        assert!(
            matches!(response.code(), "validation_failed"),
            "{route:?}: {}",
            response.text
        );
    })
    .await;
}

#[tokio::test]
async fn a_body_nested_200_levels_deep_is_refused() {
    let body = format!("{}{}", "[".repeat(200), "]".repeat(200));
    send_everywhere(
        body.clone(),
        "application/json",
        expect_code("invalid_json"),
    )
    .await;
    let object = format!("{}1{}", r#"{"email":"#.repeat(200), "}".repeat(200));
    send_everywhere(object, "application/json", |route, response| {
        assert!(
            matches!(response.code(), "invalid_json" | "validation_failed"),
            "{route:?}: {}",
            response.text
        );
    })
    .await;
}

#[tokio::test]
async fn a_one_mebibyte_string_is_payload_too_large() {
    let body = json!({"email": "a@example.com", "password": "x".repeat(1024 * 1024)}).to_string();
    send_everywhere(body, "application/json", expect_code("payload_too_large")).await;
}

#[tokio::test]
async fn invalid_utf8_in_a_base64_event_body_is_invalid_json() {
    let (app, _, _) = setup().await;
    // A real API Gateway event, decoded by lambda_http as the runtime would.
    let event = json!({
        "version": "2.0",
        "routeKey": "POST /v1/api/register",
        "rawPath": "/v1/api/register",
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com", "domainPrefix": "api",
            "http": {"method": "POST", "path": "/v1/api/register", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "test"},
            "requestId": "r1", "routeKey": "POST /v1/api/register", "stage": "$default", "time": "27/Nov/2026:00:00:00 +0000", "timeEpoch": 0
        },
        "body": "eyJlbWFpbCI6Iv/+In0=",
        "isBase64Encoded": true
    });
    let request = lambda_http::request::from_str(&event.to_string()).expect("a valid event");
    assert!(matches!(request.body(), Body::Binary(_)));

    app.call(&Route::Register, request)
        .await
        .assert_error(400, "invalid_json");
    assert_eq!(app.count_items("USER").await, 1);
}

#[tokio::test]
async fn duplicate_keys_are_refused_not_resolved() {
    let body = r#"{"email":"a@example.com","email":"b@example.com","password":"x","name":"y"}"#;
    send_everywhere(body, "application/json", |route, response| {
        assert_eq!(
            response.code(),
            "validation_failed",
            "{route:?}: {}",
            response.text
        );
        let problem = &response.body["fields"]["email"];
        assert!(
            problem == "must appear only once" || problem == "is not a field of this request",
            "{route:?}: {problem}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_form_urlencoded_body_is_unsupported_media_type() {
    send_everywhere(
        "email=a%40example.com&password=x",
        "application/x-www-form-urlencoded",
        expect_code("unsupported_media_type"),
    )
    .await;
}

#[tokio::test]
async fn field_rule_violations_get_400_and_write_nothing() {
    let app = TestApp::spawn().await;
    let long_email = format!("{}@example.com", "a".repeat(255 - 12));
    assert_eq!(long_email.chars().count(), 255);
    let cases = [
        json!({"email": "ok@example.com", "password": PASSWORD, "name": "bad\u{1}name"}),
        json!({"email": "ok@example.com", "password": "p".repeat(257), "name": "Ada"}),
        json!({"email": "ok@example.com", "password": "iloveyou", "name": "Ada"}),
        json!({"email": long_email, "password": PASSWORD, "name": "Ada"}),
    ];
    for body in cases {
        let response = app.post_json(Route::Register, &body).await;
        response.assert_error(400, "validation_failed");
        assert_eq!(
            response.body["fields"].as_object().unwrap().len(),
            1,
            "{}",
            response.text
        );
    }
    assert_eq!(app.items().await.len(), 0);
}
