use users_admin::Failure;

use crate::harness::{PASSWORD, TestApp};

#[tokio::test]
async fn promote_and_demote_change_the_stored_admin_flag() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let token = app.registered_token(&email).await;

    let promoted = app
        .admin(&["promote", &email.to_uppercase()])
        .await
        .unwrap();
    assert!(promoted.contains("now an admin"), "{promoted}");
    let id = app.user_id(&token).await;
    assert!(
        promoted.contains(&format!("(id {id})")),
        "says which account changed: {promoted}"
    );
    assert_eq!(app.get_user(&token).await.body["user"]["admin"], true);

    let demoted = app.admin(&["demote", &email]).await.unwrap();
    assert!(
        demoted.contains(&format!("(id {id}) is no longer")),
        "{demoted}"
    );
    assert_eq!(app.get_user(&token).await.body["user"]["admin"], false);
}

#[tokio::test]
async fn promoting_an_unknown_email_is_refused_and_says_so() {
    let app = TestApp::spawn().await;

    let failure = app
        .admin(&["promote", "nobody@example.com"])
        .await
        .unwrap_err();

    assert_eq!(
        failure,
        Failure::Refused("no user has the email nobody@example.com".into())
    );
}

#[tokio::test]
async fn list_prints_every_user_oldest_first() {
    let app = TestApp::spawn().await;
    let first = app.email("first");
    let second = app.email("second");
    app.register(&first, PASSWORD, "First").await;
    app.register(&second, PASSWORD, "Second").await;
    app.admin(&["promote", &second]).await.unwrap();

    let listing = app.admin(&["list"]).await.unwrap();

    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 2, "{listing}");
    assert!(
        lines[0].contains(&first) && lines[0].contains("\t-\t"),
        "{listing}"
    );
    assert!(
        lines[1].contains(&second) && lines[1].contains("\tadmin\t"),
        "{listing}"
    );
}

#[tokio::test]
async fn create_table_is_idempotent() {
    let app = TestApp::spawn().await;

    let output = app.admin(&["create-table"]).await.unwrap();

    assert!(output.contains("already exists"), "{output}");
}

#[tokio::test]
async fn an_unknown_command_is_a_usage_error() {
    let app = TestApp::spawn().await;

    assert!(matches!(
        app.admin(&["frobnicate"]).await,
        Err(Failure::Usage(_))
    ));
}

#[tokio::test]
async fn promoting_an_unverified_account_needs_force() {
    let app = TestApp::spawn().await;
    let email = app.email("unproven");
    app.register_unverified(&email, PASSWORD, "Unproven")
        .await
        .assert_status(201);
    let before = app.snapshot().await;

    let failure = app.admin(&["promote", &email]).await.unwrap_err();

    let Failure::Refused(message) = failure else {
        panic!("refused, not a usage error: {failure:?}");
    };
    assert!(
        message.contains("not verified") && message.contains("--force"),
        "{message}"
    );
    assert!(message.contains("(id "), "says which account: {message}");
    assert_eq!(app.snapshot().await, before, "nothing changed");
    let forced = app.admin(&["promote", &email, "--force"]).await.unwrap();
    assert!(forced.contains("now an admin"), "{forced}");
    assert!(matches!(
        app.admin(&["demote", &email, "--force"]).await,
        Err(Failure::Usage(_))
    ));
}
