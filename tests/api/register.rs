use std::sync::Arc;

use serde_json::json;

use crate::harness::{PASSWORD, Route, TestApp};

#[tokio::test]
async fn register_with_valid_fields_returns_201_and_the_user() {
    let app = TestApp::spawn().await;

    let response = app
        .register_unverified("  Ada@Example.COM ", PASSWORD, " Ada Lovelace ")
        .await;

    assert_eq!(response.status, 201, "{}", response.text);
    assert_eq!(response.body["message"], "User registered successfully");
    let user = &response.body["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["admin"], false);
    assert_eq!(user["email_verified"], false);
    assert!(user["id"].as_str().is_some_and(|id| !id.is_empty()));
    let mut keys: Vec<&String> = user.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "admin",
            "created_at",
            "email",
            "email_verified",
            "id",
            "name",
            "updated_at"
        ]
    );
    assert_eq!(app.count_items("USER").await, 1);
    assert_eq!(app.count_items("EMAIL").await, 1);
}

#[tokio::test]
async fn register_never_returns_or_stores_the_password_in_clear() {
    let app = TestApp::spawn().await;

    let response = app.register("ada@example.com", PASSWORD, "Ada").await;

    assert!(!response.text.contains(PASSWORD));
    assert!(!response.text.contains("argon2"));
    let items = app.items().await;
    let stored = format!("{items:?}");
    assert!(
        !stored.contains(PASSWORD),
        "the password is stored in clear"
    );
    assert!(
        stored.contains("$argon2id$v=19$m=19456,t=2,p=1$"),
        "an Argon2id hash is stored"
    );
}

#[tokio::test]
async fn register_with_an_email_taken_in_another_letter_case_returns_409() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.register("ada@example.com", PASSWORD, "Ada")
            .await
            .status,
        201
    );

    let response = app
        .register("ADA@Example.com", PASSWORD, "Another Ada")
        .await;

    response.assert_error(409, "email_taken");
    assert_eq!(app.count_items("USER").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_registrations_of_one_email_create_exactly_one_user() {
    let app = Arc::new(TestApp::spawn().await);
    let emails = [
        "race@example.com",
        "RACE@example.com",
        "Race@Example.com",
        "race@EXAMPLE.COM",
    ];

    let attempts: Vec<_> = (0..20)
        .map(|i| {
            let app = Arc::clone(&app);
            let email = emails[i % emails.len()];
            tokio::spawn(async move { app.register(email, PASSWORD, &format!("Racer {i}")).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        let response = attempt.await.expect("the registration task finishes");
        if response.status == 409 {
            response.assert_error(409, "email_taken");
        }
        statuses.push(response.status);
    }

    assert_eq!(
        statuses.iter().filter(|status| **status == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|status| **status == 409).count(),
        19,
        "{statuses:?}"
    );
    assert_eq!(app.count_items("USER").await, 1);
    assert_eq!(app.count_items("EMAIL").await, 1);
}

#[tokio::test]
async fn register_without_fields_returns_400_missing_fields_naming_them() {
    let app = TestApp::spawn().await;

    let response = app
        .post_json(Route::Register, &json!({"email": "ada@example.com"}))
        .await;

    response.assert_error(400, "missing_fields");
    assert_eq!(response.body["fields"]["password"], "is required");
    assert_eq!(response.body["fields"]["name"], "is required");
    assert!(response.body["fields"].get("email").is_none());
    assert_eq!(app.items().await.len(), 0);
}

#[tokio::test]
async fn register_with_invalid_fields_names_each_one_and_writes_nothing() {
    let app = TestApp::spawn().await;

    let response = app.register("not-an-email", "short", "\u{7}").await;

    response.assert_error(400, "validation_failed");
    let fields = response.body["fields"].as_object().unwrap();
    assert_eq!(fields.len(), 3, "{}", response.text);
    assert_eq!(app.items().await.len(), 0);
}

#[tokio::test]
async fn register_with_a_common_password_returns_400_with_the_reason() {
    let app = TestApp::spawn().await;

    let response = app.register("ada@example.com", "Password1", "Ada").await;

    response.assert_error(400, "validation_failed");
    assert!(
        response.body["fields"]["password"]
            .as_str()
            .unwrap()
            .contains("common")
    );
    assert!(
        !response.text.contains("Password1"),
        "the error echoes the password"
    );
    assert_eq!(app.items().await.len(), 0);
}

#[tokio::test]
async fn register_with_a_password_equal_to_the_email_local_part_returns_400() {
    let app = TestApp::spawn().await;

    let response = app
        .register("grace.hopper@example.com", "Grace.Hopper", "Grace")
        .await;

    response.assert_error(400, "validation_failed");
    assert!(response.body["fields"]["password"].is_string());
}

#[tokio::test]
async fn register_with_an_admin_field_returns_400_naming_it_and_writes_nothing() {
    let app = TestApp::spawn().await;

    let response = app
        .post_json(
            Route::Register,
            &json!({"email": "ada@example.com", "password": PASSWORD, "name": "Ada", "admin": true}),
        )
        .await;

    response.assert_error(400, "validation_failed");
    assert_eq!(
        response.body["fields"]["admin"],
        "is not a field of this request"
    );
    assert_eq!(app.items().await.len(), 0);
}

#[tokio::test]
async fn register_with_a_number_for_email_returns_400_validation_failed() {
    let app = TestApp::spawn().await;

    let response = app
        .post_json(
            Route::Register,
            &json!({"email": 5, "password": PASSWORD, "name": "Ada"}),
        )
        .await;

    response.assert_error(400, "validation_failed");
    assert_eq!(response.body["fields"]["email"], "must be a string");
    assert_eq!(app.items().await.len(), 0);
}
