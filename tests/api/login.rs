use serde_json::json;

use crate::harness::{PASSWORD, Route, TestApp, emails_to};

#[tokio::test]
async fn login_with_the_right_password_returns_a_bearer_token() {
    let app = TestApp::spawn().await;
    app.register("ada@example.com", PASSWORD, "Ada").await;

    let response = app.login("ADA@example.com ", PASSWORD).await;

    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(response.body["message"], "Login successful");
    assert_eq!(response.body["token_type"], "Bearer");
    assert_eq!(response.body["expires_in"], 900);
    let token = response.body["token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT has three parts");
}

#[tokio::test]
async fn login_with_a_wrong_password_returns_401_invalid_credentials() {
    let app = TestApp::spawn().await;
    app.register("ada@example.com", PASSWORD, "Ada").await;

    let response = app.login("ada@example.com", "not the password").await;

    response.assert_error(401, "invalid_credentials");
    assert!(response.body.get("token").is_none());
}

#[tokio::test]
async fn login_with_an_unknown_email_gives_the_same_body_as_a_wrong_password() {
    let app = TestApp::spawn().await;
    app.register("ada@example.com", PASSWORD, "Ada").await;

    let wrong_password = app.login("ada@example.com", "not the password").await;
    let unknown_email = app.login("nobody@example.com", PASSWORD).await;
    let unregistrable_email = app.login("not an email", PASSWORD).await;

    unknown_email.assert_error(401, "invalid_credentials");
    assert_eq!(unknown_email.text, wrong_password.text);
    assert_eq!(unregistrable_email.text, wrong_password.text);
}

#[tokio::test]
async fn login_without_a_password_returns_400_missing_fields() {
    let app = TestApp::spawn().await;

    let response = app
        .post_json(Route::Login, &json!({"email": "ada@example.com"}))
        .await;

    response.assert_error(400, "missing_fields");
    assert_eq!(response.body["fields"]["password"], "is required");
}

#[tokio::test]
async fn login_errors_never_echo_the_password() {
    let app = TestApp::spawn().await;

    let response = app
        .post_json(
            Route::Login,
            &json!({"email": "ada@example.com", "password": "hunter2-secret", "extra": 1}),
        )
        .await;

    response.assert_error(400, "validation_failed");
    assert!(!response.text.contains("hunter2-secret"));
}

#[tokio::test]
async fn a_known_and_an_unknown_address_cost_the_same_store_requests_on_401_and_on_429() {
    let app = TestApp::spawn().await;
    let known = app.email("ada");
    let unknown = app.email("nobody");
    app.register(&known, PASSWORD, "Ada").await;
    // The table's first unknown address puts the decoy (the test below).
    app.login(&app.email("first-unknown"), PASSWORD).await;

    let mut wrong_password = Vec::new();
    let mut locked = Vec::new();
    for email in [&known, &unknown] {
        app.dynamodb_calls.take();
        app.login(email, "not the password")
            .await
            .assert_error(401, "invalid_credentials");
        // The decoy is read where the user is.
        let calls: Vec<String> = app.dynamodb_calls.take_kinds();
        wrong_password.push(
            calls
                .into_iter()
                .map(|call| call.replace("DECOY", "USER"))
                .collect::<Vec<_>>(),
        );
        for _ in 0..4 {
            app.login(email, "not the password").await;
        }
        app.dynamodb_calls.take();
        app.login(email, "not the password")
            .await
            .assert_error(429, "too_many_attempts");
        locked.push(app.dynamodb_calls.take_kinds());
    }

    assert_eq!(wrong_password[0], wrong_password[1], "on the 401 path");
    assert_eq!(locked[0], locked[1], "on the 429 path");
    assert!(
        locked[0].iter().all(|call| !call.contains("GetItem")),
        "a locked address gets its 429 before the user is read: {:?}",
        locked[0]
    );
}

/// An unknown address's lookup reads an item, as a registered one's does
/// (security review 2026-12, login timing): the first unknown address puts
/// the decoy, later ones read it, and it is no account: its address does
/// not log in, the admin listing does not show it, and a reset for it mails
/// nothing.
#[tokio::test]
async fn an_unknown_address_reads_a_decoy_that_is_no_account() {
    let app = TestApp::spawn().await;
    let admin = app.email("admin");
    app.register(&admin, PASSWORD, "Admin").await;
    app.admin(&["promote", &admin]).await.unwrap();
    let token = app.token_for(&admin, PASSWORD).await;
    assert!(
        app.decoy().await.is_none(),
        "no decoy before an unknown address"
    );

    app.login(&app.email("nobody"), PASSWORD)
        .await
        .assert_error(401, "invalid_credentials");

    let decoy = app
        .decoy()
        .await
        .expect("the first unknown address puts the decoy");
    let decoy_address = decoy["email"].as_s().unwrap().clone();
    assert!(
        decoy["password_hash"]
            .as_s()
            .unwrap()
            .starts_with("$argon2id$")
    );
    assert!(!decoy.contains_key("list_pk"), "the decoy is not listed");
    app.login(&app.email("someone-else"), PASSWORD)
        .await
        .assert_error(401, "invalid_credentials");
    assert_eq!(
        app.decoy().await,
        Some(decoy),
        "later unknown addresses only read it"
    );
    app.login(&decoy_address, PASSWORD)
        .await
        .assert_error(401, "invalid_credentials");
    let listed = app.list_users(&token, &[]).await;
    listed.assert_ok();
    assert_eq!(
        listed.body["users"].as_array().unwrap().len(),
        1,
        "{}",
        listed.text
    );
    app.post_json(Route::RequestReset, &json!({"email": decoy_address}))
        .await
        .assert_status(200);
    assert!(
        emails_to(&decoy_address).is_empty(),
        "the decoy's address gets no mail"
    );
}
