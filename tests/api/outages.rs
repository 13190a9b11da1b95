//! Failing dependencies: with DynamoDB out of reach every route answers a
//! prompt 503 and writes nothing; with SES out of reach a reset request still
//! gets its usual 200 and leaves no token that nobody received; corrupt data
//! is a 500 with nothing internal in the body.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::emulators::{emulators, free_port};
use crate::helpers::{PASSWORD, Route, TestApp, emails_to};

/// The SDK gives up within 2.5 s (timeouts and retries in
/// `shared::state::aws_defaults`); this leaves room for a loaded machine.
const PROMPT: Duration = Duration::from_secs(3);

fn closed_port() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

#[tokio::test]
async fn every_route_answers_503_promptly_and_writes_nothing_when_dynamodb_is_unreachable() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let token = app.registered_token(&email).await;
    let before = app.snapshot().await;
    let down = app
        .with_endpoints(&closed_port(), &emulators().ses_endpoint)
        .await;

    let calls: Vec<(Route, Option<&str>, Value)> = vec![
        (
            Route::Register,
            None,
            json!({"email": app.email("new"), "password": PASSWORD, "name": "New"}),
        ),
        (
            Route::Login,
            None,
            json!({"email": email, "password": PASSWORD}),
        ),
        (Route::Logout, Some(&token), Value::Null),
        (Route::RequestReset, None, json!({"email": email})),
        (
            Route::ResetPassword("A".repeat(43)),
            None,
            json!({"password": "a brand new passphrase"}),
        ),
        (Route::GetUser, Some(&token), Value::Null),
        (Route::UpdateUser, Some(&token), json!({"name": "Changed"})),
        (Route::DeleteUser, Some(&token), Value::Null),
        (Route::ListUsers(vec![]), Some(&token), Value::Null),
    ];
    for (route, token, body) in calls {
        let started = Instant::now();
        let response = down.send(&route, token, &body).await;
        let elapsed = started.elapsed();

        response.assert_error(503, "service_unavailable");
        assert_eq!(
            response.body.as_object().unwrap().len(),
            2,
            "only error and code: {}",
            response.text
        );
        assert!(elapsed < PROMPT, "{route:?} took {elapsed:?}");
    }
    assert_eq!(
        app.snapshot().await,
        before,
        "an outage left a write behind"
    );
    app.get_user(&token).await.assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_503_promptly_when_dynamodb_accepts_connections_but_never_answers() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let token = app.registered_token(&email).await;
    // A socket that is listening but never accepts: connections open, and no
    // answer ever comes, so only the SDK's timeouts end the calls.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_endpoint = format!("http://{}", silent.local_addr().unwrap());
    let hung = Arc::new(
        app.with_endpoints(&silent_endpoint, &emulators().ses_endpoint)
            .await,
    );

    let calls: Vec<(Route, Option<String>, Value)> = vec![
        (
            Route::Login,
            None,
            json!({"email": email, "password": PASSWORD}),
        ),
        (Route::GetUser, Some(token.clone()), Value::Null),
        (
            Route::UpdateUser,
            Some(token.clone()),
            json!({"name": "Changed"}),
        ),
        (Route::RequestReset, None, json!({"email": email})),
    ];
    let started = Instant::now();
    let tasks: Vec<_> = calls
        .into_iter()
        .map(|(route, token, body)| {
            let hung = Arc::clone(&hung);
            tokio::spawn(async move {
                (
                    route.clone(),
                    hung.send(&route, token.as_deref(), &body).await,
                )
            })
        })
        .collect();
    for task in tasks {
        let (route, response) = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .unwrap_or_else(|_| panic!("a call to a silent DynamoDB hung for 10 s"))
            .unwrap();
        assert_eq!(response.status, 503, "{route:?}: {}", response.text);
    }
    assert!(started.elapsed() < PROMPT, "took {:?}", started.elapsed());
    drop(silent);
}

#[tokio::test]
async fn a_reset_request_while_ses_is_unreachable_gets_the_usual_200_and_leaves_no_usable_token() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    app.register(&email, PASSWORD, "Ada").await;
    let usual = app.request_reset(&app.email("nobody")).await;
    let mail_down = app
        .with_endpoints(&emulators().dynamodb_endpoint, &closed_port())
        .await;

    let response = mail_down.request_reset(&email).await;

    assert_eq!(response.status, 200);
    assert_eq!(response.text, usual.text);
    assert!(emails_to(&email).is_empty());
    assert_eq!(
        app.count_items("RESET").await,
        0,
        "a token nobody received is left"
    );
    // The withdrawn request does not hold the one-a-minute window shut.
    app.request_reset(&email).await.assert_ok();
    assert_eq!(emails_to(&email).len(), 1);
}

#[tokio::test]
async fn a_user_item_missing_its_password_hash_makes_login_a_500_without_details() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let token = app.registered_token(&email).await;
    let user_id = app.user_id(&token).await;
    app.remove_attribute(&format!("USER#{user_id}"), "USER", "password_hash")
        .await;

    let response = app.login(&email, PASSWORD).await;

    response.assert_error(500, "internal_error");
    assert_eq!(
        response.body.as_object().unwrap().len(),
        2,
        "{}",
        response.text
    );
    assert!(!response.text.contains("password_hash"));
}
