use accounts::config::EmailVerification;
use serde_json::json;

use crate::harness::{PASSWORD, TestApp};

#[tokio::test]
async fn delete_removes_the_user_its_claim_and_every_mailed_token() {
    // Optional verification: an account with its verification pending can
    // log in, and so delete itself.
    let app = TestApp::spawn_with_email_verification(EmailVerification::Optional).await;
    let email = app.email("ada");
    app.register_unverified(&email, PASSWORD, "Ada")
        .await
        .assert_status(201);
    let token = app.token_for(&email, PASSWORD).await;
    app.request_reset(&email).await.assert_ok();
    app.update_user(
        &token,
        &json!({"email": app.email("countess"), "current_password": PASSWORD}),
    )
    .await
    .assert_status(202);
    for kind in ["RESET", "VERIFY", "EMAIL_CHANGE"] {
        assert_eq!(app.count_items(kind).await, 1, "a {kind} token is pending");
    }

    let response = app.delete_user(&token).await;

    response.assert_ok();
    assert_eq!(
        response.body["message"],
        "User profile deleted successfully"
    );
    for kind in ["USER", "EMAIL", "RESET", "VERIFY", "EMAIL_CHANGE"] {
        assert_eq!(app.count_items(kind).await, 0, "{kind} items remain");
    }
}

#[tokio::test]
async fn after_delete_the_token_stops_working_and_the_email_can_register_again() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let token = app.registered_token(&email).await;
    let second_session = app.token_for(&email, PASSWORD).await;

    app.delete_user(&token).await.assert_ok();

    app.get_user(&token)
        .await
        .assert_error(401, "invalid_token");
    app.get_user(&second_session)
        .await
        .assert_error(401, "invalid_token");
    app.delete_user(&second_session)
        .await
        .assert_error(401, "invalid_token");
    app.login(&email, PASSWORD)
        .await
        .assert_error(401, "invalid_credentials");
    assert_eq!(
        app.register(&email, PASSWORD, "Ada Again").await.status,
        201
    );
    let new_token = app.token_for(&email, PASSWORD).await;
    app.get_user(&new_token).await.assert_ok();
    app.get_user(&token)
        .await
        .assert_error(401, "invalid_token");
}
