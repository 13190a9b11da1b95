//! `users-admin keys`: a key is published before it signs, activated only
//! when verifiers can have it (or forced), retired only when its tokens are
//! dead (or forced), and the functions follow without a redeploy.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use users_admin::Failure;

use crate::harness::keys::run_key;
use crate::harness::{PASSWORD, TestApp};

/// The kid in the header of `token`.
fn kid_of(token: &str) -> String {
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// The kid `keys add` printed.
fn added_kid(output: &str) -> String {
    output
        .split_once("key ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no kid in {output:?}"))
        .to_owned()
}

fn refused(result: Result<String, Failure>) -> String {
    match result {
        Err(Failure::Refused(message)) => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_new_key_is_published_at_once_and_signs_only_once_activated() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    app.registered_token(&email).await;

    let added = app.admin(&["keys", "add"]).await.unwrap();
    let new_kid = added_kid(&added);
    let restarted = app.restarted().await;
    let jwks = restarted.jwks().await;
    let published: Vec<&str> = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap())
        .collect();
    assert_eq!(published, [run_key().kid.as_str(), new_kid.as_str()]);
    let token = restarted.token_for(&email, PASSWORD).await;
    assert_eq!(
        kid_of(&token),
        run_key().kid,
        "the new key does not sign yet"
    );

    let too_soon = refused(app.admin(&["keys", "activate", &new_kid]).await);
    assert!(too_soon.contains("2 h 10 min"), "{too_soon}");
    app.admin(&["keys", "activate", &new_kid, "--force"])
        .await
        .unwrap();
    let restarted = app.restarted().await;
    let token = restarted.token_for(&email, PASSWORD).await;
    assert_eq!(kid_of(&token), new_kid);
    restarted.get_user(&token).await.assert_ok();
    let listed = app.admin(&["keys", "list"]).await.unwrap();
    assert!(
        listed.contains(&format!("{new_kid}\tpublished")),
        "{listed}"
    );
    assert!(listed.contains("\tactive"), "{listed}");
    assert!(listed.contains("retirable from"), "{listed}");
}

#[tokio::test]
async fn only_the_first_key_may_be_activated_when_it_is_added() {
    let app = TestApp::spawn().await;
    let message = refused(app.admin(&["keys", "add", "--activate"]).await);
    assert!(message.contains("a key is active already"), "{message}");
    let stored = app.state.store.key_set().await.unwrap();
    assert_eq!(stored.keys.keys.len(), 1, "nothing was added");
}

#[tokio::test]
async fn retiring_refuses_the_active_key_and_a_key_whose_tokens_may_live() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let old_token = app.registered_token(&email).await;
    let old_kid = run_key().kid.clone();

    let message = refused(app.admin(&["keys", "retire", &old_kid]).await);
    assert!(message.contains("active key"), "{message}");

    // A leak: a new key signs at once, the old one goes at once.
    let added = app
        .admin(&["keys", "add", "--activate", "--force"])
        .await
        .unwrap();
    let new_kid = added_kid(&added);
    let message = refused(app.admin(&["keys", "retire", &old_kid]).await);
    assert!(message.contains("may still be live"), "{message}");
    app.admin(&["keys", "retire", &old_kid, "--force"])
        .await
        .unwrap();

    let restarted = app.restarted().await;
    restarted
        .get_user(&old_token)
        .await
        .assert_error(401, "invalid_token");
    let token = restarted.token_for(&email, PASSWORD).await;
    assert_eq!(kid_of(&token), new_kid);
    let stored = app.state.store.key_set().await.unwrap();
    let kids: Vec<&str> = stored
        .keys
        .keys
        .iter()
        .map(|key| key.kid.as_str())
        .collect();
    assert_eq!(kids, [new_kid.as_str()]);
    let held = crate::harness::keys::vault(&app.secret_id)
        .await
        .keys()
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].kid, new_kid);
}

#[tokio::test]
async fn a_key_that_never_signed_may_be_retired_at_once() {
    let app = TestApp::spawn().await;
    let added = app.admin(&["keys", "add"]).await.unwrap();
    let kid = added_kid(&added);
    app.admin(&["keys", "retire", &kid]).await.unwrap();
    let stored = app.state.store.key_set().await.unwrap();
    assert_eq!(stored.keys.keys.len(), 1);
    assert_eq!(
        stored.keys.active_kid.as_deref(),
        Some(run_key().kid.as_str())
    );
}

/// Two `keys add` that read the secret at the same version: the second
/// write is refused instead of dropping the first's key, which the key set
/// may already name active (security review 2026-12, L3).
#[tokio::test]
async fn of_two_writes_from_one_read_of_the_key_secret_the_second_is_refused() {
    let app = TestApp::spawn().await;
    let vault = crate::harness::keys::vault(&app.secret_id).await;
    let first_read = vault.read_keys().await.unwrap();
    let second_read = vault.read_keys().await.unwrap();
    let first = users_admin::generate_key().unwrap();
    let second = users_admin::generate_key().unwrap();
    let with = |read: &signing_keys::ReadKeys, key: &accounts::keys::SigningKey| {
        let mut keys = read.keys.clone();
        keys.push(key.clone());
        keys
    };

    assert!(
        vault
            .replace(&first_read, &with(&first_read, &first))
            .await
            .unwrap()
    );
    assert!(
        !vault
            .replace(&second_read, &with(&second_read, &second))
            .await
            .unwrap()
    );

    let held: Vec<String> = vault
        .keys()
        .await
        .unwrap()
        .into_iter()
        .map(|key| key.kid)
        .collect();
    assert_eq!(held, [run_key().kid.clone(), first.kid]);
    // A write from a fresh read goes through.
    let fresh = vault.read_keys().await.unwrap();
    assert!(vault.replace(&fresh, &with(&fresh, &second)).await.unwrap());
    assert_eq!(vault.keys().await.unwrap().len(), 3);
}
