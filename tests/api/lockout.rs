//! Login lockout: 5 consecutive failures per address, then 429 with
//! exponential back-off. The first lock lasts 1 s and the second 2 s, so
//! these tests wait seconds, never minutes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use accounts::clock::{unix_now, unix_now_ms};
use accounts::domain::Email;
use accounts::store::LOCKOUT_THRESHOLD;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::harness::{PASSWORD, TestApp, TestResponse};

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

/// The lockout item of an address, read straight from the table.
async fn lockout_item(app: &TestApp, email: &str) -> Option<HashMap<String, AttributeValue>> {
    app.dynamodb
        .get_item()
        .table_name(&app.table)
        .key("pk", AttributeValue::S(format!("LOGIN#{email}")))
        .key("sk", AttributeValue::S("LOGIN".into()))
        .consistent_read(true)
        .send()
        .await
        .expect("reading the lockout item")
        .item
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    item[name].as_n().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_simultaneous_wrong_passwords_reach_at_most_five_password_checks() {
    let app = Arc::new(TestApp::spawn().await);
    let email = app.email("ada");
    app.register(&email, PASSWORD, "Ada").await;
    app.dynamodb_calls.take();

    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let app = Arc::clone(&app);
            let email = email.clone();
            tokio::spawn(async move { app.login(&email, WRONG).await })
        })
        .collect();
    let mut checked = 0;
    for attempt in attempts {
        let response = attempt.await.unwrap();
        match response.status {
            401 => checked += 1,
            _ => response.assert_error(429, "too_many_attempts"),
        }
    }

    assert!(
        (1..=LOCKOUT_THRESHOLD).contains(&checked),
        "{checked} attempts reached the password check"
    );
    // A password check needs the user: count the reads that fetch it.
    let user_reads = app
        .dynamodb_calls
        .take()
        .iter()
        .flat_map(|call| call.accesses.clone())
        .filter(|access| access.kind() == "dynamodb:GetItem EMAIL")
        .count();
    assert!(
        user_reads <= LOCKOUT_THRESHOLD as usize,
        "{user_reads} logins read the user"
    );
    // Whatever order they finished in, the lock stands: the right password
    // is refused too.
    if checked == LOCKOUT_THRESHOLD {
        app.login(&email, PASSWORD)
            .await
            .assert_error(429, "too_many_attempts");
    }
}

#[tokio::test]
async fn a_shorter_lock_never_replaces_a_longer_one() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let address = Email::parse(&email).unwrap();
    let store = &app.state.store;
    let now_ms = unix_now_ms();
    store.reserve_login_attempt(&address, now_ms).await.unwrap();

    store
        .record_login_failure(&address, 7, now_ms)
        .await
        .unwrap();
    store
        .record_login_failure(&address, 5, now_ms)
        .await
        .unwrap();

    let item = lockout_item(&app, &email).await.unwrap();
    assert_eq!(number(&item, "locked_until_ms"), now_ms + 4_000);
    assert_eq!(number(&item, "lock_attempt"), 7);
}

#[tokio::test]
async fn a_failure_recorded_after_a_success_cleared_the_count_writes_no_lock() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let address = Email::parse(&email).unwrap();
    let store = &app.state.store;

    store
        .record_login_failure(&address, 9, unix_now_ms())
        .await
        .unwrap();

    assert_eq!(lockout_item(&app, &email).await, None);
}

#[tokio::test]
async fn a_partial_lockout_item_counts_as_no_lock_and_is_repaired() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    app.register(&email, PASSWORD, "Ada").await;
    // What a lock write racing a successful login's delete once re-created:
    // the lock alone, no count and no expiry.
    app.set_number(
        &format!("LOGIN#{email}"),
        "LOGIN",
        "locked_until_ms",
        unix_now_ms() + 60_000,
    )
    .await;

    app.login(&email, WRONG)
        .await
        .assert_error(401, "invalid_credentials");
    app.login(&email, PASSWORD).await.assert_ok();
}

#[tokio::test]
async fn failures_older_than_a_day_are_forgotten_when_the_next_one_is_counted() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    app.register(&email, PASSWORD, "Ada").await;
    fail_times(&app, &email, 5).await;
    // The day has passed, but TTL has not deleted the item yet.
    let pk = format!("LOGIN#{email}");
    for attribute in ["attempts", "lock_attempt"] {
        app.set_number(&pk, "LOGIN", attribute, 20).await;
    }
    app.set_number(&pk, "LOGIN", "locked_until_ms", unix_now_ms() - 1)
        .await;
    app.set_number(&pk, "LOGIN", "expires_at", unix_now() - 1)
        .await;

    for response in fail_times(&app, &email, 4).await {
        response.assert_error(401, "invalid_credentials");
    }
    let item = lockout_item(&app, &email).await.unwrap();
    assert_eq!(number(&item, "attempts"), 4, "the count started again");
}
