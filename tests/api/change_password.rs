//! `PUT /v1/api/user/password` (API.md, "Password change").

use serde_json::{Value, json};

use crate::harness::{NEW_PASSWORD, PASSWORD, Route, TestApp, emails_about};

async fn signed_in(app: &TestApp) -> (String, (String, String), (String, String)) {
    let email = app.email("ada");
    app.register(&email, PASSWORD, "Ada")
        .await
        .assert_status(201);
    let caller = app.session_for(&email, PASSWORD).await;
    let other = app.session_for(&email, PASSWORD).await;
    (email, caller, other)
}

#[tokio::test]
async fn a_change_starts_a_new_session_and_ends_every_other_and_every_earlier_token() {
    let app = TestApp::spawn().await;
    let (email, (access, refresh), (other_access, other_refresh)) = signed_in(&app).await;

    let changed = app.change_password(&access, PASSWORD, NEW_PASSWORD).await;

    let body = changed.assert_status(200);
    assert_eq!(body["message"], "Password changed");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let new_access = body["token"].as_str().unwrap().to_owned();
    let new_refresh = body["refresh_token"].as_str().unwrap().to_owned();
    for old in [&access, &other_access] {
        app.get_user(old).await.assert_error(401, "invalid_token");
    }
    for old in [&refresh, &other_refresh] {
        assert_eq!(app.refresh(old).await.status, 401);
    }
    app.get_user(&new_access).await.assert_ok();
    let sessions = app.sessions(&new_access).await;
    let listed = sessions.assert_ok()["sessions"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["current"], true);
    app.refresh(&new_refresh).await.assert_ok();
    app.login(&email, PASSWORD)
        .await
        .assert_error(401, "invalid_credentials");
    app.login(&email, NEW_PASSWORD).await.assert_ok();
    let notices = emails_about(&email, "Your password was changed");
    assert_eq!(notices.len(), 1);
    let text = notices[0]["body"]["text"].as_str().unwrap();
    assert!(!text.contains(NEW_PASSWORD) && !text.contains(PASSWORD));
}

#[tokio::test]
async fn a_wrong_current_password_gets_401_and_counts_toward_the_login_lockout() {
    let app = TestApp::spawn().await;
    let (email, (access, _), _) = signed_in(&app).await;
    let before = app.snapshot().await;

    for _ in 0..5 {
        app.change_password(&access, "not the password", NEW_PASSWORD)
            .await
            .assert_error(401, "invalid_credentials");
    }
    let locked = app.change_password(&access, PASSWORD, NEW_PASSWORD).await;

    locked.assert_error(429, "too_many_attempts");
    assert!(locked.header("retry-after").is_some());
    app.login(&email, PASSWORD)
        .await
        .assert_error(429, "too_many_attempts");
    // Nothing but the lockout's own item changed.
    assert_eq!(app.snapshot_without_lockouts().await, before);
    app.get_user(&access).await.assert_ok();
}

#[tokio::test]
async fn the_new_password_follows_the_rules_and_differs_from_the_current_one() {
    let app = TestApp::spawn().await;
    let (email, (access, _), _) = signed_in(&app).await;
    let before = app.snapshot().await;

    for new in [PASSWORD, "short", "12345678", email.as_str()] {
        let refused = app.change_password(&access, PASSWORD, new).await;
        refused.assert_error(400, "validation_failed");
        assert!(
            refused.body["fields"]["new_password"].is_string(),
            "{new}: {}",
            refused.text
        );
    }

    assert_eq!(app.snapshot().await, before);
    app.get_user(&access).await.assert_ok();
}

#[tokio::test]
async fn missing_fields_and_a_missing_token_are_refused() {
    let app = TestApp::spawn().await;
    let (_, (access, _), _) = signed_in(&app).await;

    let missing = app
        .send(
            &Route::ChangePassword,
            Some(&access),
            &json!({"new_password": NEW_PASSWORD}),
        )
        .await;
    missing.assert_error(400, "missing_fields");
    assert!(missing.body["fields"]["current_password"].is_string());
    app.send(
        &Route::ChangePassword,
        None,
        &json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
    )
    .await
    .assert_error(401, "invalid_token");
    let unknown = app
        .send(
            &Route::ChangePassword,
            Some(&access),
            &json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "admin": true}),
        )
        .await;
    unknown.assert_error(400, "validation_failed");
    assert_eq!(
        app.send(&Route::GetUser, Some(&access), &Value::Null)
            .await
            .status,
        200
    );
}
