use std::sync::Arc;

use accounts::clock::unix_now;
use serde_json::json;

use crate::harness::{
    ISSUER, NEW_PASSWORD, PASSWORD, Route, TestApp, emails_about, reset_emails_to,
    reset_token_sent_to,
};

const MESSAGE: &str = "If that email is registered, a password reset token has been sent";

async fn user_with_reset_email(app: &TestApp) -> (String, String) {
    let email = app.email("ada");
    app.register(&email, PASSWORD, "Ada").await;
    app.request_reset(&email).await.assert_ok();
    let token = reset_token_sent_to(&email);
    (email, token)
}

#[tokio::test]
async fn a_reset_request_emails_a_256_bit_url_safe_token_and_a_link() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    app.register(&email, PASSWORD, "Ada").await;

    let response = app.request_reset(&email).await;

    response.assert_ok();
    assert_eq!(response.body["message"], MESSAGE);
    let emails = reset_emails_to(&email);
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0]["from"], "no-reply@example.com");
    let token = reset_token_sent_to(&email);
    assert_eq!(token.len(), 43, "32 random bytes in unpadded base64url");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    // In the fragment of a link to the reset page: no server sees it.
    let text = emails[0]["body"]["text"].as_str().unwrap();
    let link = format!("{ISSUER}/v1/pages/reset-password#token={token}");
    assert!(text.contains(&link), "{text}");
    assert!(!text.contains(&format!("?token={token}")));
    assert!(emails[0]["body"]["html"].as_str().unwrap().contains(&link));
}

#[tokio::test]
async fn a_reset_request_for_an_unknown_email_gets_the_same_answer_and_sends_nothing() {
    let app = TestApp::spawn().await;
    let known = app.email("ada");
    app.register(&known, PASSWORD, "Ada").await;
    let unknown = app.email("nobody");

    let for_known = app.request_reset(&known).await;
    let for_unknown = app.request_reset(&unknown).await;

    assert_eq!(for_unknown.status, 200);
    assert_eq!(for_unknown.text, for_known.text);
    assert!(reset_emails_to(&unknown).is_empty());
    assert_eq!(app.count_items("RESET").await, 1);
}

#[tokio::test]
async fn only_the_sha256_of_the_reset_token_is_stored() {
    let app = TestApp::spawn().await;
    let (_, token) = user_with_reset_email(&app).await;

    let stored = format!("{:?}", app.items().await);

    assert!(!stored.contains(&token), "the token is stored in clear");
    let hash = accounts::mail_token::hash(&secrecy::SecretString::from(token));
    assert!(stored.contains(&format!("RESET#{hash}")));
}

#[tokio::test]
async fn the_emailed_token_resets_the_password_and_old_password_and_tokens_stop_working() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let old_token = app.registered_token(&email).await;
    let second_old_token = app.token_for(&email, PASSWORD).await;
    app.request_reset(&email).await.assert_ok();
    let reset_token = reset_token_sent_to(&email);

    let response = app.reset_password(&reset_token, NEW_PASSWORD).await;

    response.assert_ok();
    assert_eq!(response.body["message"], "Password reset successful");
    app.login(&email, PASSWORD)
        .await
        .assert_error(401, "invalid_credentials");
    for token in [&old_token, &second_old_token] {
        app.get_user(token).await.assert_error(401, "invalid_token");
    }
    let new_token = app.token_for(&email, NEW_PASSWORD).await;
    app.get_user(&new_token).await.assert_ok();
}

#[tokio::test]
async fn a_reset_token_works_only_once() {
    let app = TestApp::spawn().await;
    let (_, token) = user_with_reset_email(&app).await;

    app.reset_password(&token, NEW_PASSWORD).await.assert_ok();
    let again = app.reset_password(&token, "yet another passphrase").await;

    again.assert_error(400, "invalid_reset_token");
    assert_eq!(app.count_items("RESET").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_uses_of_one_reset_token_succeed_exactly_once() {
    let app = Arc::new(TestApp::spawn().await);
    let (email, token) = user_with_reset_email(&app).await;

    let uses: Vec<_> = (0..20)
        .map(|i| {
            let (app, token) = (Arc::clone(&app), token.clone());
            tokio::spawn(async move {
                app.reset_password(&token, &format!("racing passphrase {i}"))
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (i, attempt) in uses.into_iter().enumerate() {
        let response = attempt.await.unwrap();
        if response.status == 200 {
            winners.push(i);
        } else {
            response.assert_error(400, "invalid_reset_token");
        }
    }

    assert_eq!(winners.len(), 1, "{winners:?}");
    app.token_for(&email, &format!("racing passphrase {}", winners[0]))
        .await;
}

#[tokio::test]
async fn an_invalid_new_password_gets_400_and_leaves_the_token_usable() {
    let app = TestApp::spawn().await;
    let (email, token) = user_with_reset_email(&app).await;

    let too_short = app.reset_password(&token, "short").await;
    let common = app.reset_password(&token, "password123").await;
    let equal_to_local_part = app
        .reset_password(&token, email.split('@').next().unwrap())
        .await;

    for response in [too_short, common, equal_to_local_part] {
        response.assert_error(400, "validation_failed");
        assert!(response.body["fields"]["password"].is_string());
    }
    app.reset_password(&token, NEW_PASSWORD).await.assert_ok();
}

#[tokio::test]
async fn a_reset_without_a_password_gets_400_missing_fields() {
    let app = TestApp::spawn().await;
    let (_, token) = user_with_reset_email(&app).await;

    let response = app
        .post_json(Route::ResetPassword(token.clone()), &json!({}))
        .await;

    response.assert_error(400, "missing_fields");
    app.reset_password(&token, NEW_PASSWORD).await.assert_ok();
}

#[tokio::test]
async fn unknown_and_malformed_reset_tokens_get_400_invalid_reset_token() {
    let app = TestApp::spawn().await;
    user_with_reset_email(&app).await;

    for token in [
        "A".repeat(43),
        "short".to_owned(),
        format!("{}/", "a".repeat(42)),
        String::new(),
    ] {
        app.reset_password(&token, NEW_PASSWORD)
            .await
            .assert_error(400, "invalid_reset_token");
    }
}

#[tokio::test]
async fn an_expired_reset_token_is_refused_even_while_its_item_remains() {
    let app = TestApp::spawn().await;
    let (_, token) = user_with_reset_email(&app).await;
    let hash = accounts::mail_token::hash(&secrecy::SecretString::from(token.clone()));
    // DynamoDB's TTL may keep an expired item for days: the code must check.
    app.set_number(
        &format!("RESET#{hash}"),
        "RESET",
        "expires_at",
        unix_now() - 1,
    )
    .await;

    app.reset_password(&token, NEW_PASSWORD)
        .await
        .assert_error(400, "invalid_reset_token");
}

#[tokio::test]
async fn the_reset_token_expires_after_thirty_minutes_by_default() {
    let app = TestApp::spawn().await;
    let (_, token) = user_with_reset_email(&app).await;
    let hash = accounts::mail_token::hash(&secrecy::SecretString::from(token));

    let items = app.items().await;
    let item = items
        .iter()
        .find(|item| {
            item["pk"]
                .as_s()
                .is_ok_and(|pk| *pk == format!("RESET#{hash}"))
        })
        .unwrap();
    let expires_at: u64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    let now = unix_now();
    assert!((now + 1790..=now + 1800).contains(&expires_at));
}

#[tokio::test]
async fn a_second_request_within_a_minute_sends_nothing_and_keeps_the_first_token() {
    let app = TestApp::spawn().await;
    let (email, first_token) = user_with_reset_email(&app).await;

    let second = app.request_reset(&email).await;

    second.assert_ok();
    assert_eq!(second.body["message"], MESSAGE);
    assert_eq!(reset_emails_to(&email).len(), 1);
    app.reset_password(&first_token, NEW_PASSWORD)
        .await
        .assert_ok();
}

#[tokio::test]
async fn a_request_after_the_minute_replaces_the_previous_token() {
    let app = TestApp::spawn().await;
    let (email, first_token) = user_with_reset_email(&app).await;
    let user_id = app.user_id(&app.token_for(&email, PASSWORD).await).await;
    app.set_numbers(
        &format!("USER#{user_id}"),
        "USER",
        "reset_sends",
        &[unix_now() - 61],
    )
    .await;

    app.request_reset(&email).await.assert_ok();
    let second_token = reset_token_sent_to(&email);

    assert_eq!(reset_emails_to(&email).len(), 2);
    assert_ne!(second_token, first_token);
    assert_eq!(app.count_items("RESET").await, 1);
    app.reset_password(&first_token, NEW_PASSWORD)
        .await
        .assert_error(400, "invalid_reset_token");
    app.reset_password(&second_token, NEW_PASSWORD)
        .await
        .assert_ok();
}

#[tokio::test]
async fn a_reset_request_with_an_invalid_email_gets_400_validation_failed() {
    let app = TestApp::spawn().await;

    app.request_reset("not an email")
        .await
        .assert_error(400, "validation_failed");
    app.post_json(Route::RequestReset, &json!({}))
        .await
        .assert_error(400, "missing_fields");
}

#[tokio::test]
async fn a_password_reset_clears_the_login_lockout() {
    let app = TestApp::spawn().await;
    let (email, token) = user_with_reset_email(&app).await;
    for _ in 0..5 {
        app.login(&email, "definitely not it").await;
    }
    app.login(&email, PASSWORD)
        .await
        .assert_error(429, "too_many_attempts");

    app.reset_password(&token, NEW_PASSWORD).await.assert_ok();

    app.login(&email, NEW_PASSWORD).await.assert_ok();
}

#[tokio::test]
async fn a_delete_racing_a_reset_request_leaves_no_reset_token_behind() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    app.register(&email, PASSWORD, "Ada").await;
    let parsed = accounts::domain::Email::parse(&email).unwrap();
    // The delete read the user before the reset request stored its token.
    let read_before = app
        .state
        .store
        .find_by_email(&parsed)
        .await
        .unwrap()
        .unwrap();
    app.request_reset(&email).await.assert_ok();
    assert_eq!(app.count_items("RESET").await, 1);

    app.state.store.delete_user(&read_before).await.unwrap();

    assert_eq!(app.count_items("USER").await, 0);
    assert_eq!(app.count_items("EMAIL").await, 0);
    assert_eq!(
        app.count_items("RESET").await,
        0,
        "a reset token outlived its user"
    );
}

#[tokio::test]
async fn a_reset_verifies_the_address_it_reached_and_mails_a_notice() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    app.register_unverified(&email, PASSWORD, "Ada")
        .await
        .assert_status(201);
    app.login(&email, PASSWORD)
        .await
        .assert_error(403, "email_not_verified");
    app.request_reset(&email).await.assert_ok();

    app.reset_password(&reset_token_sent_to(&email), NEW_PASSWORD)
        .await
        .assert_ok();

    let token = app.token_for(&email, NEW_PASSWORD).await;
    assert_eq!(
        app.get_user(&token).await.body["user"]["email_verified"],
        true
    );
    let notices = emails_about(&email, "Your password was changed");
    assert_eq!(notices.len(), 1);
    let text = notices[0]["body"]["text"].as_str().unwrap();
    assert!(
        !text.contains("#token=") && !text.contains(NEW_PASSWORD),
        "{text}"
    );
}

#[tokio::test]
async fn a_sixth_reset_mail_in_a_day_is_not_sent_and_the_answer_is_the_same() {
    let app = TestApp::spawn().await;
    let (email, first_token) = user_with_reset_email(&app).await;
    let user_id = app.user_id(&app.token_for(&email, PASSWORD).await).await;
    let now = unix_now();
    let five: Vec<u64> = (1..=5).map(|hour| now - hour * 3600).collect();
    app.set_numbers(&format!("USER#{user_id}"), "USER", "reset_sends", &five)
        .await;
    let mails_before = reset_emails_to(&email).len();

    let answer = app.request_reset(&email).await;

    assert_eq!(
        answer.assert_ok()["message"],
        app.request_reset("nobody-xyz@example.com")
            .await
            .assert_ok()["message"]
    );
    assert_eq!(reset_emails_to(&email).len(), mails_before);
    app.reset_password(&first_token, NEW_PASSWORD)
        .await
        .assert_ok();
}
