use serde_json::Value;

use crate::harness::{PASSWORD, Route, TestApp};

#[tokio::test]
async fn logout_returns_200_and_the_contract_message() {
    let app = TestApp::spawn().await;
    let token = app.registered_token(&app.email("ada")).await;

    let response = app.logout(&token).await;

    response.assert_ok();
    assert_eq!(response.body["message"], "Logout successful");
}

#[tokio::test]
async fn after_logout_the_token_is_refused_by_every_authenticated_route_while_another_session_works()
 {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let logged_out = app.registered_token(&email).await;
    let other_session = app.token_for(&email, PASSWORD).await;
    app.admin(&["promote", &email]).await.unwrap();

    app.logout(&logged_out).await.assert_ok();

    for (route, body) in Route::authenticated() {
        let response = app.send(&route, Some(&logged_out), &body).await;
        response.assert_error(401, "invalid_token");
        assert_eq!(response.headers["www-authenticate"], "Bearer", "{route:?}");
    }
    // Deleting last: every other route must still accept the second session
    // (a password change would end every other one: change_password.rs).
    for (route, body) in Route::authenticated() {
        if matches!(
            route,
            Route::Logout | Route::DeleteUser | Route::ChangePassword
        ) {
            continue;
        }
        let response = app.send(&route, Some(&other_session), &body).await;
        response.assert_ok();
    }
    app.delete_user(&other_session).await.assert_ok();
}

#[tokio::test]
async fn logout_without_a_token_returns_401_and_ends_no_session() {
    let app = TestApp::spawn().await;
    app.registered_token(&app.email("ada")).await;

    let response = app.send(&Route::Logout, None, &Value::Null).await;

    response.assert_error(401, "invalid_token");
    assert_eq!(app.count_items("SESSION").await, 1);
}

#[tokio::test]
async fn logout_removes_its_session_item_and_no_other() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let token = app.registered_token(&email).await;
    app.token_for(&email, PASSWORD).await;
    assert_eq!(app.count_items("SESSION").await, 2);

    app.logout(&token).await.assert_ok();

    assert_eq!(app.count_items("SESSION").await, 1);
    assert_eq!(app.count_items("REVOKED").await, 0, "no denylist any more");
}
