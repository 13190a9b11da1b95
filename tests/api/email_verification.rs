//! Verified email addresses (API.md, "Email verification", "Register",
//! "Login"): the mail at sign-up, the token's use, the resend limits, and
//! the login gate.

use std::sync::Arc;
use std::time::Instant;

use accounts::clock::unix_now;
use accounts::config::EmailVerification;
use secrecy::SecretString;

use crate::harness::emulators::{Emulators, closed_port, emulators};
use crate::harness::{ISSUER, PASSWORD, TestApp, emails_about, token_mailed_to};

const SUBJECT: &str = "Verify your email address";
const RESEND_MESSAGE: &str =
    "If that email is registered and not yet verified, a verification email has been sent";

fn verification_mails(address: &str) -> usize {
    emails_about(address, SUBJECT).len()
}

async fn unverified(app: &TestApp, local: &str) -> String {
    let email = app.email(local);
    app.register_unverified(&email, PASSWORD, "Ada")
        .await
        .assert_status(201);
    email
}

async fn user_pk(app: &TestApp, email: &str) -> String {
    let stored = app
        .state
        .store
        .find_by_email(&accounts::domain::Email::parse(email).unwrap())
        .await
        .unwrap()
        .expect("the user");
    format!("USER#{}", stored.user.id)
}

#[tokio::test]
async fn registration_mails_a_verification_link_with_the_token_in_its_fragment() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");

    let registered = app.register_unverified(&email, PASSWORD, "Ada").await;

    let body = registered.assert_status(201);
    assert_eq!(body["user"]["email_verified"], false);
    let mails = emails_about(&email, SUBJECT);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["from"], "no-reply@example.com");
    let token = token_mailed_to(&email, "verify-email");
    assert_eq!(token.len(), 43);
    let text = mails[0]["body"]["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("{ISSUER}/v1/pages/verify-email#token={token}")),
        "{text}"
    );
    assert!(!text.contains(&format!("?token={token}")));
    assert!(!text.contains(PASSWORD));
    // Only its SHA-256 is stored.
    let stored = format!("{:?}", app.items().await);
    assert!(!stored.contains(&token));
    let hash = accounts::mail_token::hash(&SecretString::from(token));
    assert!(stored.contains(&format!("VERIFY#{hash}")));
}

#[tokio::test]
async fn the_mailed_token_verifies_the_address_once() {
    let app = TestApp::spawn().await;
    let email = unverified(&app, "ada").await;
    let token = token_mailed_to(&email, "verify-email");

    let verified = app.verify_email(&token).await;

    let body = verified.assert_status(200);
    assert_eq!(body["message"], "Email verified");
    assert_eq!(body["user"]["email"], email);
    assert_eq!(body["user"]["email_verified"], true);
    assert_eq!(body["user"].as_object().unwrap().len(), 7);
    app.verify_email(&token)
        .await
        .assert_error(400, "invalid_verification_token");
    // The user no longer points at it (its item waits for its TTL).
    let pk = user_pk(&app, &email).await;
    let user_item = app
        .items()
        .await
        .into_iter()
        .find(|item| item["pk"].as_s().unwrap() == &pk);
    assert!(!user_item.unwrap().contains_key("verify_token_hash"));
    let access = app.token_for(&email, PASSWORD).await;
    assert_eq!(
        app.get_user(&access).await.body["user"]["email_verified"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_ten_simultaneous_uses_of_one_token_exactly_one_succeeds() {
    let app = Arc::new(TestApp::spawn().await);
    let email = unverified(&app, "ada").await;
    let token = token_mailed_to(&email, "verify-email");

    let mut uses = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (app, token) = (Arc::clone(&app), token.clone());
        uses.spawn(async move { app.verify_email(&token).await });
    }
    let mut statuses = Vec::new();
    while let Some(response) = uses.join_next().await {
        let response = response.unwrap();
        if response.status != 200 {
            response.assert_error(400, "invalid_verification_token");
        }
        statuses.push(response.status);
    }

    assert_eq!(statuses.iter().filter(|status| **status == 200).count(), 1);
}

#[tokio::test]
async fn unknown_malformed_and_expired_tokens_get_400() {
    let app = TestApp::spawn().await;
    let email = unverified(&app, "ada").await;
    let token = token_mailed_to(&email, "verify-email");
    let hash = accounts::mail_token::hash(&SecretString::from(token.clone()));

    for bad in ["A".repeat(43), "short".to_owned(), format!("{token}x")] {
        app.verify_email(&bad)
            .await
            .assert_error(400, "invalid_verification_token");
    }
    let ttl = app
        .items()
        .await
        .iter()
        .find(|item| item["pk"].as_s().unwrap() == &format!("VERIFY#{hash}"))
        .map(|item| item["expires_at"].as_n().unwrap().parse::<u64>().unwrap())
        .unwrap();
    let now = unix_now();
    assert!((now + 86_390..=now + 86_400).contains(&ttl), "valid 24 h");
    app.set_number(&format!("VERIFY#{hash}"), "VERIFY", "expires_at", now - 1)
        .await;
    app.verify_email(&token)
        .await
        .assert_error(400, "invalid_verification_token");
}

#[tokio::test]
async fn an_unverified_account_gets_403_only_after_the_right_password() {
    let app = TestApp::spawn().await;
    let email = unverified(&app, "ada").await;

    app.login(&email, "not the password")
        .await
        .assert_error(401, "invalid_credentials");
    let refused = app.login(&email, PASSWORD).await;
    refused.assert_error(403, "email_not_verified");
    assert_eq!(app.count_items("SESSION").await, 0);

    app.verify_email(&token_mailed_to(&email, "verify-email"))
        .await
        .assert_status(200);
    app.login(&email, PASSWORD).await.assert_status(200);
}

#[tokio::test]
async fn with_optional_verification_an_unverified_account_logs_in() {
    let app = TestApp::spawn_with_email_verification(EmailVerification::Optional).await;
    let email = unverified(&app, "ada").await;

    let access = app.token_for(&email, PASSWORD).await;

    assert_eq!(
        app.get_user(&access).await.body["user"]["email_verified"],
        false
    );
}

#[tokio::test]
async fn a_resend_answers_alike_for_every_address_and_mails_only_the_unverified() {
    let app = TestApp::spawn().await;
    let waiting = unverified(&app, "waiting").await;
    let done = app.email("done");
    app.register(&done, PASSWORD, "Done")
        .await
        .assert_status(201);
    let nobody = app.email("nobody");
    let pk = user_pk(&app, &waiting).await;
    app.set_numbers(&pk, "USER", "verify_sends", &[unix_now() - 61])
        .await;

    let mut answers = Vec::new();
    for address in [&waiting, &done, &nobody] {
        let started = Instant::now();
        let response = app.request_verification(address).await;
        let elapsed = started.elapsed();
        assert!(
            elapsed >= mailer::alike::RESPONSE_FLOOR,
            "{address}: {elapsed:?}"
        );
        answers.push(response);
    }

    for answer in &answers {
        assert_eq!(answer.assert_ok()["message"], RESEND_MESSAGE);
        assert_eq!(answer.text, answers[0].text);
    }
    assert_eq!(verification_mails(&waiting), 2);
    assert_eq!(verification_mails(&done), 1, "the registration's only");
    assert_eq!(verification_mails(&nobody), 0);
}

#[tokio::test]
async fn a_new_verification_mail_replaces_the_previous_token() {
    let app = TestApp::spawn().await;
    let email = unverified(&app, "ada").await;
    let first = token_mailed_to(&email, "verify-email");
    let pk = user_pk(&app, &email).await;
    app.set_numbers(&pk, "USER", "verify_sends", &[unix_now() - 61])
        .await;

    app.request_verification(&email).await.assert_ok();
    let second = token_mailed_to(&email, "verify-email");

    assert_ne!(first, second);
    assert_eq!(app.count_items("VERIFY").await, 1);
    app.verify_email(&first)
        .await
        .assert_error(400, "invalid_verification_token");
    app.verify_email(&second).await.assert_status(200);
}

#[tokio::test]
async fn at_most_one_verification_mail_a_minute_and_five_a_day() {
    let app = TestApp::spawn().await;
    let email = unverified(&app, "ada").await;
    let first = token_mailed_to(&email, "verify-email");
    let pk = user_pk(&app, &email).await;

    // Within the minute of the registration's mail: nothing, and its token stays.
    app.request_verification(&email).await.assert_ok();
    assert_eq!(verification_mails(&email), 1);

    // Five in the last day, the newest two minutes ago: nothing.
    let now = unix_now();
    let five = [
        now - 80_000,
        now - 60_000,
        now - 40_000,
        now - 20_000,
        now - 120,
    ];
    app.set_numbers(&pk, "USER", "verify_sends", &five).await;
    app.request_verification(&email).await.assert_ok();
    assert_eq!(verification_mails(&email), 1);

    // The oldest of the five a day ago: one more.
    let aged = [
        now - 86_400,
        now - 60_000,
        now - 40_000,
        now - 20_000,
        now - 120,
    ];
    app.set_numbers(&pk, "USER", "verify_sends", &aged).await;
    app.request_verification(&email).await.assert_ok();
    assert_eq!(verification_mails(&email), 2);
    assert_ne!(token_mailed_to(&email, "verify-email"), first);
}

#[tokio::test]
async fn a_registration_whose_mail_fails_still_answers_201_and_the_owner_can_ask_again() {
    let app = TestApp::spawn().await;
    let mail_down = app
        .with_endpoints(Emulators {
            ses_endpoint: closed_port(),
            ..emulators().clone()
        })
        .await;
    let email = app.email("ada");

    let registered = mail_down.register_unverified(&email, PASSWORD, "Ada").await;

    registered.assert_status(201);
    assert_eq!(verification_mails(&email), 0);
    assert_eq!(
        app.count_items("VERIFY").await,
        0,
        "an unsent token is left"
    );
    // The failed send does not hold the one-a-minute limit shut.
    app.request_verification(&email).await.assert_ok();
    assert_eq!(verification_mails(&email), 1);
    app.verify_email(&token_mailed_to(&email, "verify-email"))
        .await
        .assert_status(200);
}
