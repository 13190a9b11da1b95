//! Changing the email address (API.md, "Update"): a bearer token alone
//! cannot move the account; the change waits for the new address's owner.

use std::sync::Arc;

use serde_json::json;

use crate::harness::{
    NEW_PASSWORD, PASSWORD, TestApp, emails_about, emails_to, reset_token_sent_to, token_mailed_to,
};

const CONFIRM_SUBJECT: &str = "Confirm your new email address";
const NOTICE_SUBJECT: &str = "Your email address is about to change";
const CHANGED_SUBJECT: &str = "Your email address was changed";

async fn signed_in(app: &TestApp, local: &str) -> (String, String) {
    let email = app.email(local);
    (email.clone(), app.registered_token(&email).await)
}

async fn start_change(app: &TestApp, token: &str, new: &str) -> String {
    app.update_user(token, &json!({"email": new, "current_password": PASSWORD}))
        .await
        .assert_status(202);
    token_mailed_to(new, "confirm-email-change")
}

#[tokio::test]
async fn an_email_change_answers_202_mails_both_addresses_and_changes_nothing_yet() {
    let app = TestApp::spawn().await;
    let (old, token) = signed_in(&app, "ada").await;
    let new = app.email("countess");

    let response = app
        .update_user(
            &token,
            &json!({"email": new.to_uppercase(), "current_password": PASSWORD}),
        )
        .await;

    let body = response.assert_status(202);
    assert_eq!(
        body["message"],
        "Confirm the new email address to finish the change"
    );
    assert_eq!(body["user"]["email"], old);
    assert_eq!(body["pending_email"], new);
    let confirmations = emails_about(&new, CONFIRM_SUBJECT);
    assert_eq!(confirmations.len(), 1);
    let confirm_token = token_mailed_to(&new, "confirm-email-change");
    assert_eq!(confirm_token.len(), 43);
    let notices = emails_about(&old, NOTICE_SUBJECT);
    assert_eq!(notices.len(), 1);
    let notice = notices[0]["body"]["text"].as_str().unwrap();
    assert!(!notice.contains(&confirm_token), "{notice}");
    let cancel_token = token_mailed_to(&old, "cancel-email-change");
    assert_eq!(cancel_token.len(), 43);
    assert_ne!(cancel_token, confirm_token);
    // Nothing moved: the account keeps its address until the confirmation.
    assert_eq!(app.get_user(&token).await.body["user"]["email"], old);
    app.login(&old, PASSWORD).await.assert_ok();
    app.login(&new, PASSWORD)
        .await
        .assert_error(401, "invalid_credentials");
}

#[tokio::test]
async fn confirming_moves_the_account_and_its_claim_and_verifies_the_address() {
    let app = TestApp::spawn().await;
    let (old, token) = signed_in(&app, "ada").await;
    let new = app.email("countess");
    let confirm_token = start_change(&app, &token, &new).await;

    let confirmed = app.confirm_email_change(&confirm_token).await;

    let body = confirmed.assert_status(200);
    assert_eq!(body["message"], "Email address changed");
    assert_eq!(body["user"]["email"], new);
    assert_eq!(body["user"]["email_verified"], true);
    app.login(&new, PASSWORD).await.assert_ok();
    app.login(&old, PASSWORD)
        .await
        .assert_error(401, "invalid_credentials");
    assert_eq!(app.count_items("EMAIL").await, 1);
    app.confirm_email_change(&confirm_token)
        .await
        .assert_error(400, "invalid_email_change_token");
    let told = emails_about(&old, CHANGED_SUBJECT);
    assert_eq!(
        told.len(),
        1,
        "the old address is told once the change is made"
    );
    assert!(told[0]["body"]["text"].as_str().unwrap().contains(&new));
    assert_eq!(
        app.register(&old, PASSWORD, "Another Ada").await.status,
        201
    );
}

#[tokio::test]
async fn the_current_password_is_needed_and_a_wrong_one_counts_toward_the_lockout() {
    let app = TestApp::spawn().await;
    let (old, token) = signed_in(&app, "ada").await;
    let new = app.email("thief");
    let before = app.snapshot().await;

    let missing = app.update_user(&token, &json!({"email": new})).await;
    missing.assert_error(400, "missing_fields");
    assert!(missing.body["fields"]["current_password"].is_string());
    for _ in 0..5 {
        app.update_user(
            &token,
            &json!({"email": new, "current_password": "stolen token, no password"}),
        )
        .await
        .assert_error(401, "invalid_credentials");
    }
    app.update_user(&token, &json!({"email": new, "current_password": PASSWORD}))
        .await
        .assert_error(429, "too_many_attempts");

    app.login(&old, PASSWORD)
        .await
        .assert_error(429, "too_many_attempts");
    assert!(emails_to(&new).is_empty());
    assert_eq!(app.snapshot_without_lockouts().await, before);
}

#[tokio::test]
async fn a_taken_address_gets_409_at_once_and_no_mail() {
    let app = TestApp::spawn().await;
    let (_, token) = signed_in(&app, "ada").await;
    let grace = app.email("grace");
    app.register(&grace, PASSWORD, "Grace")
        .await
        .assert_status(201);
    let before = app.snapshot().await;

    let response = app
        .update_user(
            &token,
            &json!({"email": grace, "name": "Not Grace", "current_password": PASSWORD}),
        )
        .await;

    response.assert_error(409, "email_taken");
    assert!(emails_about(&grace, CONFIRM_SUBJECT).is_empty());
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn an_address_claimed_before_the_confirmation_gets_409_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (old, token) = signed_in(&app, "ada").await;
    let new = app.email("contested");
    let confirm_token = start_change(&app, &token, &new).await;
    app.register(&new, PASSWORD, "Quicker")
        .await
        .assert_status(201);

    app.confirm_email_change(&confirm_token)
        .await
        .assert_error(409, "email_taken");

    assert_eq!(app.get_user(&token).await.body["user"]["email"], old);
    app.login(&old, PASSWORD).await.assert_ok();
}

#[tokio::test]
async fn confirming_cancels_a_reset_mailed_to_the_old_address() {
    let app = TestApp::spawn().await;
    let (old, token) = signed_in(&app, "ada").await;
    app.request_reset(&old).await.assert_ok();
    let reset_token = reset_token_sent_to(&old);
    let new = app.email("countess");

    let confirm_token = start_change(&app, &token, &new).await;
    app.confirm_email_change(&confirm_token)
        .await
        .assert_status(200);

    app.reset_password(&reset_token, NEW_PASSWORD)
        .await
        .assert_error(400, "invalid_reset_token");
    assert_eq!(app.count_items("RESET").await, 0);
    app.login(&new, PASSWORD).await.assert_ok();
}

#[tokio::test]
async fn a_name_alone_is_applied_at_once_and_with_an_email_it_is_applied_too() {
    let app = TestApp::spawn().await;
    let (old, token) = signed_in(&app, "ada").await;
    let new = app.email("countess");

    app.update_user(&token, &json!({"name": "Ada L."}))
        .await
        .assert_status(200);
    let both = app
        .update_user(
            &token,
            &json!({"name": "Countess", "email": new, "current_password": PASSWORD}),
        )
        .await;

    let body = both.assert_status(202);
    assert_eq!(body["user"]["name"], "Countess");
    assert_eq!(body["user"]["email"], old);
    assert_eq!(app.get_user(&token).await.body["user"]["name"], "Countess");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_ten_simultaneous_confirmations_exactly_one_succeeds() {
    let app = Arc::new(TestApp::spawn().await);
    let (_, token) = signed_in(&app, "ada").await;
    let new = app.email("countess");
    let confirm_token = start_change(&app, &token, &new).await;

    let mut uses = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (app, confirm_token) = (Arc::clone(&app), confirm_token.clone());
        uses.spawn(async move { app.confirm_email_change(&confirm_token).await });
    }
    let mut successes = 0;
    while let Some(response) = uses.join_next().await {
        let response = response.unwrap();
        if response.status == 200 {
            successes += 1;
        } else {
            response.assert_error(400, "invalid_email_change_token");
        }
    }

    assert_eq!(successes, 1);
    assert_eq!(app.count_items("EMAIL").await, 1);
}

#[tokio::test]
async fn an_eleventh_email_change_in_a_day_gets_429_and_sends_nothing() {
    let app = TestApp::spawn().await;
    let (_, token) = signed_in(&app, "ada").await;
    let user_id = app.user_id(&token).await;
    let now = accounts::clock::unix_now();
    let ten: Vec<u64> = (0..10).map(|i| now - 80_000 + i).collect();
    app.set_numbers(
        &format!("USER#{user_id}"),
        "USER",
        "email_change_sends",
        &ten,
    )
    .await;
    let target = app.email("mailbombed");
    let before = app.snapshot().await;

    let refused = app
        .update_user(
            &token,
            &json!({"email": target, "current_password": PASSWORD}),
        )
        .await;

    refused.assert_error(429, "too_many_attempts");
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((6_300..=6_400).contains(&retry_after), "{retry_after}");
    assert!(emails_to(&target).is_empty());
    assert_eq!(app.snapshot().await, before);
}

/// Someone with the password starts a change to their own address; the
/// owner recovers as the notice tells them. Each way of recovering must end
/// the change (security review 2026-12, H1).
async fn a_recovery_ends_the_pending_change(recover: impl AsyncFnOnce(&TestApp, &str, &str) -> ()) {
    let app = TestApp::spawn().await;
    let (old, token) = signed_in(&app, "victim").await;
    let attacker = app.email("attacker");
    let confirm_token = start_change(&app, &token, &attacker).await;

    recover(&app, &old, &token).await;

    app.confirm_email_change(&confirm_token)
        .await
        .assert_error(400, "invalid_email_change_token");
    assert!(emails_about(&old, CHANGED_SUBJECT).is_empty());
    app.login(&attacker, PASSWORD)
        .await
        .assert_error(401, "invalid_credentials");
    let claims = app.count_items("EMAIL").await;
    assert_eq!(claims, 1, "the attacker's address was never claimed");
}

#[tokio::test]
async fn a_password_reset_ends_a_pending_email_change() {
    a_recovery_ends_the_pending_change(async |app: &TestApp, old: &str, _: &str| {
        app.request_reset(old).await.assert_ok();
        app.reset_password(&reset_token_sent_to(old), NEW_PASSWORD)
            .await
            .assert_ok();
    })
    .await;
}

#[tokio::test]
async fn a_password_change_ends_a_pending_email_change() {
    a_recovery_ends_the_pending_change(async |app: &TestApp, _: &str, token: &str| {
        app.change_password(token, PASSWORD, NEW_PASSWORD)
            .await
            .assert_ok();
    })
    .await;
}

#[tokio::test]
async fn a_global_logout_ends_a_pending_email_change() {
    a_recovery_ends_the_pending_change(async |app: &TestApp, _: &str, token: &str| {
        app.logout_scope(token, "global").await.assert_ok();
    })
    .await;
}

#[tokio::test]
async fn an_admin_sign_out_ends_a_pending_email_change() {
    a_recovery_ends_the_pending_change(async |app: &TestApp, old: &str, token: &str| {
        let said = app
            .admin(&["sign-out", old])
            .await
            .expect("users-admin sign-out");
        assert!(said.contains("signed out"), "{said}");
        app.get_user(token).await.assert_error(401, "invalid_token");
    })
    .await;
}

#[tokio::test]
async fn the_cancel_link_in_the_notice_ends_the_change_once_with_no_login() {
    let app = TestApp::spawn().await;
    let (old, token) = signed_in(&app, "ada").await;
    let attacker = app.email("attacker");
    let confirm_token = start_change(&app, &token, &attacker).await;
    let cancel_token = token_mailed_to(&old, "cancel-email-change");

    let cancelled = app.cancel_email_change(&cancel_token).await;

    assert_eq!(cancelled.assert_ok()["message"], "Email change cancelled");
    app.confirm_email_change(&confirm_token)
        .await
        .assert_error(400, "invalid_email_change_token");
    app.cancel_email_change(&cancel_token)
        .await
        .assert_error(400, "invalid_email_change_token");
    assert_eq!(app.count_items("EMAIL_CHANGE").await, 0);
    assert_eq!(app.count_items("CANCEL_EMAIL_CHANGE").await, 0);
    assert_eq!(app.get_user(&token).await.body["user"]["email"], old);
    // A new change works again, and its confirmation ends its cancel link.
    let again = start_change(&app, &token, &app.email("countess")).await;
    let second_cancel = token_mailed_to(&old, "cancel-email-change");
    app.confirm_email_change(&again).await.assert_ok();
    app.cancel_email_change(&second_cancel)
        .await
        .assert_error(400, "invalid_email_change_token");
}

#[tokio::test]
async fn a_malformed_or_unknown_cancel_token_gets_400_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (_, token) = signed_in(&app, "ada").await;
    start_change(&app, &token, &app.email("countess")).await;
    let before = app.snapshot().await;

    for bad in ["short", &"A".repeat(43), &"é".repeat(20)] {
        app.cancel_email_change(bad)
            .await
            .assert_error(400, "invalid_email_change_token");
    }

    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_password_change_ends_a_pending_reset() {
    let app = TestApp::spawn().await;
    let (old, token) = signed_in(&app, "ada").await;
    app.request_reset(&old).await.assert_ok();
    let reset_token = reset_token_sent_to(&old);

    app.change_password(&token, PASSWORD, NEW_PASSWORD)
        .await
        .assert_ok();

    app.reset_password(&reset_token, "a third password, not used")
        .await
        .assert_error(400, "invalid_reset_token");
    app.login(&old, NEW_PASSWORD).await.assert_ok();
}
