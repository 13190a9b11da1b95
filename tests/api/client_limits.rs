//! Per-client limits (API.md, "Changes to 1.1 behaviour"; security review
//! 2026-12, M2): each client address may make so many requests of a kind
//! per window, counted before any Argon2id work, while every other client
//! goes on. In-process, the client is the `sourceIp` of the request
//! context; behind the local gateway, the TCP peer, as on API Gateway.

use serde_json::{Value, json};

use crate::harness::{PASSWORD, Route, TestApp};

const SPRAYER: &str = "203.0.113.7";
const NEIGHBOUR: &str = "203.0.113.8";

fn login_body(email: &str, password: &str) -> Value {
    json!({"email": email, "password": password})
}

#[track_caller]
fn assert_too_many_requests(response: &crate::harness::TestResponse, window_seconds: u64) {
    response.assert_error(429, "too_many_requests");
    let retry_after: u64 = response
        .header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .expect("seconds");
    assert!((1..=window_seconds).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn the_31st_login_attempt_from_one_address_gets_429_while_another_address_logs_in() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    app.register(&email, PASSWORD, "Ada")
        .await
        .assert_status(201);

    // A spray: one wrong password at each of thirty addresses.
    for attempt in 0..30 {
        let target = app.email(&format!("sprayed-{attempt}"));
        app.send_from(
            SPRAYER,
            &Route::Login,
            None,
            &login_body(&target, "Winter2026!"),
        )
        .await
        .assert_error(401, "invalid_credentials");
    }
    app.dynamodb_calls.take();
    let refused = app
        .send_from(SPRAYER, &Route::Login, None, &login_body(&email, PASSWORD))
        .await;

    assert_too_many_requests(&refused, 600);
    let calls = app.dynamodb_calls.take_kinds();
    assert_eq!(
        calls,
        ["UpdateItem: dynamodb:UpdateItem CLIENT"],
        "refused before the lockout, the user and Argon2id"
    );
    app.send_from(
        NEIGHBOUR,
        &Route::Login,
        None,
        &login_body(&email, PASSWORD),
    )
    .await
    .assert_ok();
}

#[tokio::test]
async fn malformed_requests_do_not_count() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    app.register(&email, PASSWORD, "Ada")
        .await
        .assert_status(201);
    let before = app.snapshot().await;

    for _ in 0..40 {
        app.send_from(SPRAYER, &Route::Login, None, &json!({"email": email}))
            .await
            .assert_error(400, "missing_fields");
    }

    assert_eq!(app.snapshot().await, before, "bad input changes nothing");
    app.send_from(SPRAYER, &Route::Login, None, &login_body(&email, PASSWORD))
        .await
        .assert_ok();
}

#[tokio::test]
async fn the_11th_registration_and_the_11th_mail_request_from_one_address_get_429() {
    let app = TestApp::spawn().await;
    for index in 0..10 {
        let body = json!({"email": app.email(&format!("new-{index}")), "password": PASSWORD, "name": "New"});
        app.send_from(SPRAYER, &Route::Register, None, &body)
            .await
            .assert_status(201);
    }
    let body = json!({"email": app.email("eleventh"), "password": PASSWORD, "name": "New"});
    assert_too_many_requests(
        &app.send_from(SPRAYER, &Route::Register, None, &body).await,
        600,
    );
    assert_eq!(
        app.send_from(NEIGHBOUR, &Route::Register, None, &body)
            .await
            .status,
        201
    );

    // Reset requests, resets and verification requests share one count.
    let nobody = json!({"email": app.email("nobody")});
    let app = &app;
    let ask = |route: Route| {
        let nobody = nobody.clone();
        async move { app.send_from(SPRAYER, &route, None, &nobody).await }
    };
    for _ in 0..5 {
        ask(Route::RequestReset).await.assert_ok();
        ask(Route::RequestVerification).await.assert_ok();
    }
    assert_too_many_requests(&ask(Route::RequestReset).await, 600);
    assert_too_many_requests(&ask(Route::RequestVerification).await, 600);
    let reset = Route::ResetPassword("A".repeat(43));
    assert_too_many_requests(
        &app.send_from(
            SPRAYER,
            &reset,
            None,
            &json!({"password": "a new passphrase"}),
        )
        .await,
        600,
    );
}

#[tokio::test]
async fn the_121st_refresh_in_a_minute_from_one_address_gets_429() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    app.register(&email, PASSWORD, "Ada")
        .await
        .assert_status(201);
    let (_, refresh) = app.session_for(&email, PASSWORD).await;
    // Well-shaped but unknown tokens: each is counted, then refused.
    let unknown = format!("{}A", &refresh[..refresh.len() - 1]);
    let unknown = if unknown == refresh {
        format!("{}B", &refresh[..refresh.len() - 1])
    } else {
        unknown
    };
    let body = json!({"refresh_token": unknown});
    let mut refused = None;
    for _ in 0..121 {
        let response = app.send_from(SPRAYER, &Route::Refresh, None, &body).await;
        if response.status == 429 {
            refused = Some(response);
            break;
        }
        response.assert_error(401, "invalid_refresh_token");
    }
    let refused = refused.expect("a 429 within 121 refreshes");
    assert_too_many_requests(&refused, 60);
    app.send_from(
        NEIGHBOUR,
        &Route::Refresh,
        None,
        &json!({"refresh_token": refresh}),
    )
    .await
    .assert_ok();
}

/// Through the local gateway, each app is its own loopback address: the
/// gateway passes the TCP peer as the source address, as API Gateway does.
#[tokio::test]
async fn behind_the_gateway_the_connection_s_address_is_the_client() {
    let sprayer = TestApp::behind_gateway().await;
    let neighbour = TestApp::behind_gateway().await;
    let email = neighbour.email("ada");
    neighbour
        .register(&email, PASSWORD, "Ada")
        .await
        .assert_status(201);

    for attempt in 0..30 {
        let target = sprayer.email(&format!("sprayed-{attempt}"));
        sprayer
            .login(&target, "Winter2026!")
            .await
            .assert_error(401, "invalid_credentials");
    }
    let refused = sprayer.login(&email, PASSWORD).await;

    assert_too_many_requests(&refused, 600);
    neighbour.login(&email, PASSWORD).await.assert_ok();
}
