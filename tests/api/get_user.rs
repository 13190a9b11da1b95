use aws_sdk_dynamodb::types::AttributeValue;

use crate::harness::{Route, TestApp};

#[tokio::test]
async fn get_user_with_a_valid_token_returns_the_profile_without_the_hash() {
    let app = TestApp::spawn().await;
    let token = app.registered_token("ada@example.com").await;

    let response = app.get_user(&token).await;

    assert_eq!(response.status, 200, "{}", response.text);
    let user = &response.body["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["name"], "Test User");
    assert_eq!(user.as_object().unwrap().len(), 7, "{}", response.text);
    assert!(!response.text.contains("argon2"));
    assert!(!response.text.contains("password"));
}

#[tokio::test]
async fn get_user_with_a_tampered_token_returns_401_with_www_authenticate() {
    let app = TestApp::spawn().await;
    let token = app.registered_token("ada@example.com").await;
    let (head, signature) = token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{head}.{flipped}{}", &signature[1..]);

    let response = app.get_user(&tampered).await;

    response.assert_error(401, "invalid_token");
    assert_eq!(response.headers["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn get_user_with_a_token_from_another_deployment_returns_401() {
    let app = TestApp::spawn().await;
    let other = TestApp::spawn().await;
    let foreign_token = other.registered_token("ada@example.com").await;
    app.register("ada@example.com", crate::harness::PASSWORD, "Ada")
        .await;

    app.get_user(&foreign_token)
        .await
        .assert_error(401, "invalid_token");
}

#[tokio::test]
async fn get_user_without_a_bearer_token_returns_401() {
    let app = TestApp::spawn().await;
    let token = app.registered_token("ada@example.com").await;

    let missing = TestApp::request(&Route::GetUser, &[], "");
    app.call(&Route::GetUser, missing)
        .await
        .assert_error(401, "invalid_token");

    let basic_header = format!("Basic {token}");
    let basic = TestApp::request(&Route::GetUser, &[("authorization", &basic_header)], "");
    app.call(&Route::GetUser, basic)
        .await
        .assert_error(401, "invalid_token");

    let lower_case_header = format!("bearer {token}");
    let lower_case = TestApp::request(
        &Route::GetUser,
        &[("authorization", &lower_case_header)],
        "",
    );
    assert_eq!(app.call(&Route::GetUser, lower_case).await.status, 200);
}

#[tokio::test]
async fn get_user_whose_account_is_gone_returns_401() {
    let app = TestApp::spawn().await;
    let token = app.registered_token("ada@example.com").await;
    let user_id = app.user_id(&token).await;
    app.dynamodb
        .delete_item()
        .table_name(&app.table)
        .key("pk", AttributeValue::S(format!("USER#{user_id}")))
        .key("sk", AttributeValue::S("USER".into()))
        .send()
        .await
        .unwrap();

    app.get_user(&token)
        .await
        .assert_error(401, "invalid_token");
}

#[tokio::test]
async fn get_user_with_a_corrupt_stored_item_returns_500_without_details() {
    let app = TestApp::spawn().await;
    let token = app.registered_token("ada@example.com").await;
    let user_id = app.user_id(&token).await;
    app.remove_attribute(&format!("USER#{user_id}"), "USER", "email")
        .await;

    let response = app.get_user(&token).await;

    response.assert_error(500, "internal_error");
    assert!(!response.text.contains("email"), "{}", response.text);
    assert!(!response.text.contains(&app.table), "{}", response.text);
}
