//! Login lockout: 5 consecutive failures per address, then 429 with
//! exponential back-off. The first lock lasts 1 s and the second 2 s, so
//! these tests wait seconds, never minutes.

use std::time::Duration;

use crate::helpers::{PASSWORD, TestApp, TestResponse};

const WRONG: &str = "definitely not it";

async fn fail_times(app: &TestApp, email: &str, times: usize) -> Vec<TestResponse> {
    let mut responses = Vec::new();
    for _ in 0..times {
        responses.push(app.login(email, WRONG).await);
    }
    responses
}

fn retry_after(response: &TestResponse) -> u64 {
    response.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn five_failures_lock_the_address_and_the_sixth_attempt_gets_429_with_retry_after() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    app.register(&email, PASSWORD, "Ada").await;

    for response in fail_times(&app, &email, 5).await {
        response.assert_error(401, "invalid_credentials");
    }
    let locked = app.login(&email, WRONG).await;

    locked.assert_error(429, "too_many_attempts");
    assert_eq!(retry_after(&locked), 1);
}

#[tokio::test]
async fn the_right_password_during_a_lockout_still_gets_429() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    app.register(&email, PASSWORD, "Ada").await;
    fail_times(&app, &email, 5).await;

    let response = app.login(&email, PASSWORD).await;

    response.assert_error(429, "too_many_attempts");
    assert!(response.body.get("token").is_none());
}

#[tokio::test]
async fn an_unknown_address_locks_the_same_way_so_429_reveals_nothing() {
    let app = TestApp::spawn().await;
    let unknown = app.email("nobody");

    for response in fail_times(&app, &unknown, 5).await {
        response.assert_error(401, "invalid_credentials");
    }

    app.login(&unknown, WRONG)
        .await
        .assert_error(429, "too_many_attempts");
}

#[tokio::test]
async fn each_failure_after_a_lock_expires_doubles_the_lock() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    app.register(&email, PASSWORD, "Ada").await;
    fail_times(&app, &email, 5).await;
    assert_eq!(retry_after(&app.login(&email, WRONG).await), 1);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.login(&email, WRONG)
        .await
        .assert_error(401, "invalid_credentials");
    let locked_again = app.login(&email, WRONG).await;

    locked_again.assert_error(429, "too_many_attempts");
    assert_eq!(retry_after(&locked_again), 2);
}

#[tokio::test]
async fn a_successful_login_resets_the_count() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    app.register(&email, PASSWORD, "Ada").await;
    fail_times(&app, &email, 4).await;

    app.login(&email, PASSWORD).await.assert_ok();

    for response in fail_times(&app, &email, 4).await {
        response.assert_error(401, "invalid_credentials");
    }
    app.login(&email, PASSWORD).await.assert_ok();
    assert_eq!(app.count_items("LOGIN").await, 0);
}

#[tokio::test]
async fn the_lockout_is_per_address_in_any_letter_case() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let other = app.email("grace");
    app.register(&email, PASSWORD, "Ada").await;
    app.register(&other, PASSWORD, "Grace").await;
    fail_times(&app, &email.to_uppercase(), 5).await;

    app.login(&email, PASSWORD)
        .await
        .assert_error(429, "too_many_attempts");
    app.login(&other, PASSWORD).await.assert_ok();
}
