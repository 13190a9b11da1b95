use crate::harness::{PASSWORD, TestApp};

#[tokio::test]
async fn delete_removes_the_user_its_claim_and_its_reset_token() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let token = app.registered_token(&email).await;
    app.request_reset(&email).await.assert_ok();
    assert_eq!(app.count_items("RESET").await, 1);

    let response = app.delete_user(&token).await;

    response.assert_ok();
    assert_eq!(
        response.body["message"],
        "User profile deleted successfully"
    );
    for kind in ["USER", "EMAIL", "RESET"] {
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
