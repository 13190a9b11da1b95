use std::collections::HashMap;

use serde_json::json;

use crate::harness::{PASSWORD, TestApp};

// Email changes: email_change.rs.

#[tokio::test]
async fn updating_the_name_returns_200_and_the_updated_user() {
    let app = TestApp::spawn().await;
    let token = app.registered_token(&app.email("ada")).await;

    let response = app
        .update_user(&token, &json!({"name": "  Countess of Lovelace "}))
        .await;

    response.assert_ok();
    assert_eq!(
        response.body["message"],
        "User profile updated successfully"
    );
    assert_eq!(response.body["user"]["name"], "Countess of Lovelace");
    assert_eq!(
        app.get_user(&token).await.body["user"]["name"],
        "Countess of Lovelace"
    );
}

#[tokio::test]
async fn an_update_with_neither_field_returns_400_missing_fields() {
    let app = TestApp::spawn().await;
    let token = app.registered_token(&app.email("ada")).await;

    let response = app.update_user(&token, &json!({})).await;

    response.assert_error(400, "missing_fields");
    let fields: HashMap<String, serde_json::Value> =
        serde_json::from_value(response.body["fields"].clone()).unwrap();
    assert!(fields.contains_key("name") && fields.contains_key("email"));
}

#[tokio::test]
async fn an_update_with_a_password_field_returns_400_naming_it_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let token = app.registered_token(&email).await;

    let response = app
        .update_user(
            &token,
            &json!({"name": "Eve", "password": "sneaky new one"}),
        )
        .await;

    response.assert_error(400, "validation_failed");
    assert_eq!(
        response.body["fields"]["password"],
        "is not a field of this request"
    );
    assert_eq!(app.get_user(&token).await.body["user"]["name"], "Test User");
    app.login(&email, PASSWORD).await.assert_ok();
}

#[tokio::test]
async fn an_update_with_invalid_values_returns_400_naming_them() {
    let app = TestApp::spawn().await;
    let token = app.registered_token(&app.email("ada")).await;

    let response = app
        .update_user(&token, &json!({"name": "", "email": "nope"}))
        .await;

    response.assert_error(400, "validation_failed");
    assert!(response.body["fields"]["name"].is_string());
    assert!(response.body["fields"]["email"].is_string());
}

#[tokio::test]
async fn updated_at_moves_and_created_at_stays() {
    let app = TestApp::spawn().await;
    let token = app.registered_token(&app.email("ada")).await;
    let before = app.get_user(&token).await.body["user"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let after = app
        .update_user(&token, &json!({"name": "Ada L."}))
        .await
        .body["user"]
        .clone();

    assert_eq!(after["created_at"], before["created_at"]);
    assert_ne!(after["updated_at"], before["updated_at"]);
    assert_eq!(after["id"], before["id"]);
}
