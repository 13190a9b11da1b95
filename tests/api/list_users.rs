use crate::harness::{PASSWORD, TestApp};

/// Registers an admin and returns its token.
async fn admin_token(app: &TestApp) -> String {
    let email = app.email("admin");
    app.register(&email, PASSWORD, "Admin").await;
    app.admin(&["promote", &email]).await.unwrap();
    app.token_for(&email, PASSWORD).await
}

#[tokio::test]
async fn a_non_admin_gets_403_and_after_promotion_200_without_logging_in_again() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let token = app.registered_token(&email).await;

    app.list_users(&token, &[])
        .await
        .assert_error(403, "admin_required");
    app.admin(&["promote", &email]).await.unwrap();
    let response = app.list_users(&token, &[]).await;

    response.assert_ok();
    assert_eq!(response.body["users"][0]["email"], email);
    assert_eq!(response.body["users"][0]["admin"], true);
    assert!(response.body["next_cursor"].is_null());
}

#[tokio::test]
async fn a_demoted_admin_gets_403_at_once() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    app.list_users(&token, &[]).await.assert_ok();

    app.admin(&["demote", &app.email("admin")]).await.unwrap();

    app.list_users(&token, &[])
        .await
        .assert_error(403, "admin_required");
}

#[tokio::test]
async fn paging_through_230_users_with_limit_100_returns_each_once_in_creation_order_in_three_pages()
 {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let mut created = vec![app.user_id(&token).await];
    for i in 1..230 {
        let response = app
            .register(
                &app.email(&format!("user{i}")),
                PASSWORD,
                &format!("User {i}"),
            )
            .await;
        assert_eq!(response.status, 201, "{}", response.text);
        created.push(response.body["user"]["id"].as_str().unwrap().to_owned());
    }

    let mut listed = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "100")];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.as_str()));
        }
        let response = app.list_users(&token, &query).await;
        response.assert_ok();
        pages += 1;
        let users = response.body["users"].as_array().unwrap();
        listed.extend(
            users
                .iter()
                .map(|user| user["id"].as_str().unwrap().to_owned()),
        );
        for user in users {
            assert_eq!(
                user.as_object().unwrap().len(),
                7,
                "only the public fields: {user}"
            );
        }
        match response.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }

    assert_eq!(pages, 3);
    assert_eq!(listed, created);
}

#[tokio::test]
async fn the_default_limit_is_50() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    for i in 0..55 {
        app.register(&app.email(&format!("user{i}")), PASSWORD, "User")
            .await;
    }

    let response = app.list_users(&token, &[]).await;

    assert_eq!(response.body["users"].as_array().unwrap().len(), 50);
    assert!(response.body["next_cursor"].is_string());
}

#[tokio::test]
async fn limits_outside_one_to_a_hundred_get_400_invalid_limit() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;

    for limit in ["0", "101", "-5", "many", "", "2.5"] {
        app.list_users(&token, &[("limit", limit)])
            .await
            .assert_error(400, "invalid_limit");
    }
    app.list_users(&token, &[("limit", "1")]).await.assert_ok();
}

#[tokio::test]
async fn a_forged_cursor_gets_400_invalid_cursor() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;

    for cursor in ["garbage", "djE6bm90LWFuLWlk", "%%%", ""] {
        app.list_users(&token, &[("cursor", cursor)])
            .await
            .assert_error(400, "invalid_cursor");
    }
}

#[tokio::test]
async fn a_non_admin_learns_nothing_about_parameters() {
    let app = TestApp::spawn().await;
    let token = app.registered_token(&app.email("ada")).await;

    app.list_users(&token, &[("limit", "0")])
        .await
        .assert_error(403, "admin_required");
}
