//! The rules API.md sets for every body: size, media type, JSON shape.

use lambda_http::Body;

use crate::harness::{PASSWORD, Route, TestApp};

fn register_body() -> String {
    serde_json::json!({"email": "ada@example.com", "password": PASSWORD, "name": "Ada"}).to_string()
}

#[tokio::test]
async fn a_body_over_16_kib_returns_413_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let body = serde_json::json!({"email": "ada@example.com", "password": PASSWORD, "name": "x".repeat(20 * 1024)});

    let response = app.post_json(Route::Register, &body).await;

    response.assert_error(413, "payload_too_large");
    assert_eq!(app.items().await.len(), 0);
}

#[tokio::test]
async fn a_text_plain_body_returns_415() {
    let app = TestApp::spawn().await;
    let request = TestApp::request(
        &Route::Register,
        &[("content-type", "text/plain")],
        register_body(),
    );

    app.call(&Route::Register, request)
        .await
        .assert_error(415, "unsupported_media_type");
    assert_eq!(app.items().await.len(), 0);
}

#[tokio::test]
async fn a_json_body_without_content_type_is_accepted() {
    let app = TestApp::spawn().await;
    let request = TestApp::request(&Route::Register, &[], register_body());

    assert_eq!(app.call(&Route::Register, request).await.status, 201);
}

#[tokio::test]
async fn a_json_content_type_with_a_charset_is_accepted() {
    let app = TestApp::spawn().await;
    let request = TestApp::request(
        &Route::Register,
        &[("content-type", "application/json; charset=utf-8")],
        register_body(),
    );

    assert_eq!(app.call(&Route::Register, request).await.status, 201);
}

#[tokio::test]
async fn bodies_that_are_not_json_objects_return_400_invalid_json() {
    let app = TestApp::spawn().await;
    for body in ["", "null", "[]", "\"x\"", "{\"email\": ", "{'email': 'a'}"] {
        let request = TestApp::request(
            &Route::Register,
            &[("content-type", "application/json")],
            body,
        );

        app.call(&Route::Register, request)
            .await
            .assert_error(400, "invalid_json");
    }
    assert_eq!(app.items().await.len(), 0);
}

#[tokio::test]
async fn a_body_that_is_not_utf8_returns_400_invalid_json() {
    let app = TestApp::spawn().await;
    let request = TestApp::request(
        &Route::Register,
        &[("content-type", "application/json")],
        Body::Binary(vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}']),
    );

    app.call(&Route::Register, request)
        .await
        .assert_error(400, "invalid_json");
}

#[tokio::test]
async fn a_repeated_field_returns_400_validation_failed() {
    let app = TestApp::spawn().await;
    let body = format!(
        r#"{{"email":"ada@example.com","password":"{PASSWORD}","name":"Ada","name":"Eve"}}"#
    );
    let request = TestApp::request(
        &Route::Register,
        &[("content-type", "application/json")],
        body,
    );

    let response = app.call(&Route::Register, request).await;

    response.assert_error(400, "validation_failed");
    assert_eq!(response.body["fields"]["name"], "must appear only once");
    assert_eq!(app.items().await.len(), 0);
}
