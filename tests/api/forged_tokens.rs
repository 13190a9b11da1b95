//! Forged and broken bearer tokens: each is refused by every authenticated
//! route with 401 `invalid_token` and `WWW-Authenticate: Bearer`, and
//! changes nothing.

use accounts::clock::unix_now;
use accounts::keys::SigningKey;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use std::time::Duration;

use http_api::keys::PublishedKeys;
use lambda_http::Body;
use serde_json::{Value, json};

use crate::harness::forge::hand_made;
use crate::harness::keys::run_key;
use crate::harness::{ISSUER, NEW_PASSWORD, PASSWORD, Route, TestApp, reset_token_sent_to};

/// Whom forged tokens name: a real user and one of its live sessions.
struct Subject {
    user_id: String,
    session_id: String,
}

/// An app with one admin user, logged in; returns it, the user and its
/// session, and the email.
async fn app_with_user() -> (TestApp, Subject, String) {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let token = app.registered_token(&email).await;
    app.admin(&["promote", &email]).await.unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let subject = Subject {
        user_id: app.user_id(&token).await,
        session_id: claims["sid"].as_str().unwrap().to_owned(),
    };
    (app, subject, email)
}

/// Claims that would be accepted, for the given user and session.
fn valid_claims(subject: &Subject) -> Value {
    let now = unix_now();
    json!({"iss": ISSUER, "aud": "user-api", "sub": subject.user_id, "sid": subject.session_id, "iat": now, "exp": now + 600, "jti": "forged"})
}

/// An RS256 token signed with `key`, its header naming `kid`.
fn sign(claims: &Value, key: &SigningKey, kid: Option<&str>) -> String {
    accounts::token::crypto::install();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key.encoding_key()).unwrap()
}

/// Signed with the app's own key under its own kid: what the API issues.
fn sign_valid(claims: &Value) -> String {
    let key = run_key();
    sign(claims, key, Some(&key.kid))
}

/// What a key-confusion attacker would use as an HMAC secret: the published
/// key in every form a verifier might hand to HMAC.
async fn public_key_forms(app: &TestApp) -> Vec<Vec<u8>> {
    let jwks = app.jwks().await;
    let key = &jwks.body["keys"][0];
    vec![
        jwks.text.as_bytes().to_vec(),
        key.to_string().into_bytes(),
        key["n"].as_str().unwrap().as_bytes().to_vec(),
        URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap(),
    ]
}

/// Sends `authorization` (a whole header value) to every authenticated route.
async fn assert_refused_everywhere(app: &TestApp, authorization: &str) {
    let before = app.snapshot().await;
    for (route, body) in Route::authenticated() {
        let mut headers = vec![("authorization", authorization)];
        let body = if body.is_null() {
            Body::Empty
        } else {
            headers.push(("content-type", "application/json"));
            Body::from(body.to_string())
        };
        let response = app
            .call(&route, TestApp::request(&route, &headers, body))
            .await;
        response.assert_error(401, "invalid_token");
        assert_eq!(response.headers["www-authenticate"], "Bearer", "{route:?}");
    }
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused token changed the table"
    );
}

async fn assert_token_refused(app: &TestApp, token: &str) {
    assert_refused_everywhere(app, &format!("Bearer {token}")).await;
}

#[tokio::test]
async fn an_unsigned_token_with_alg_none_is_refused() {
    let (app, subject, _) = app_with_user().await;
    let header = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#,
        run_key().kid
    ));
    let claims = URL_SAFE_NO_PAD.encode(valid_claims(&subject).to_string());
    assert_token_refused(&app, &format!("{header}.{claims}.")).await;
}

#[tokio::test]
async fn hs256_tokens_signed_with_the_public_key_as_the_secret_are_refused() {
    let (app, subject, _) = app_with_user().await;
    for secret in public_key_forms(&app).await {
        for alg in ["HS256", "RS256"] {
            let header = json!({"alg": alg, "typ": "JWT", "kid": run_key().kid});
            assert_token_refused(&app, &hand_made(&header, &valid_claims(&subject), &secret)).await;
        }
        let mut header = Header::new(Algorithm::HS512);
        header.kid = Some(run_key().kid.clone());
        accounts::token::crypto::install();
        let token = jsonwebtoken::encode(
            &header,
            &valid_claims(&subject),
            &EncodingKey::from_secret(&secret),
        )
        .unwrap();
        assert_token_refused(&app, &token).await;
    }
}

#[tokio::test]
async fn a_token_signed_by_the_api_key_is_accepted() {
    // Guards the tests here: with the app's key, kid and claims the forgery
    // is accepted, so each refusal is about the one thing it changes.
    let (app, subject, _) = app_with_user().await;
    app.get_user(&sign_valid(&valid_claims(&subject)))
        .await
        .assert_ok();
}

#[tokio::test]
async fn a_token_signed_with_another_key_is_refused_whichever_kid_it_names() {
    let (app, subject, _) = app_with_user().await;
    let other = users_admin::generate_key().unwrap();
    let claims = valid_claims(&subject);
    for kid in [Some(other.kid.as_str()), Some(run_key().kid.as_str()), None] {
        assert_token_refused(&app, &sign(&claims, &other, kid)).await;
    }
}

#[tokio::test]
async fn an_unknown_kid_is_refused_until_the_key_set_is_read_again_at_most_every_30_seconds() {
    let (mut app, subject, _) = app_with_user().await;
    // A second key, published after the handlers read the key set.
    let newer = users_admin::generate_key().unwrap();
    let stored = app.state.store.key_set().await.unwrap();
    let mut keys = stored.keys.clone();
    keys.keys.push(newer.published(unix_now()));
    assert!(
        app.state
            .store
            .replace_key_set(&stored, &keys)
            .await
            .unwrap()
    );
    let token = sign(&valid_claims(&subject), &newer, Some(&newer.kid));
    let key_set_reads = |app: &TestApp| {
        app.dynamodb_calls
            .take()
            .iter()
            .flat_map(|call| &call.accesses)
            .filter(|access| access.pk == "KEYS")
            .count()
    };

    // Read a moment ago: an unknown kid is refused without another read.
    app.dynamodb_calls.take();
    assert_token_refused(&app, &token).await;
    assert_eq!(key_set_reads(&app), 0);

    // Read 31 s ago: the unknown kid makes the handler read the set again,
    // once, and the new key is then known.
    app.state.keys = PublishedKeys::read_ago(stored.keys, Duration::from_secs(31));
    app.get_user(&token).await.assert_ok();
    app.get_user(&token).await.assert_ok();
    assert_eq!(key_set_reads(&app), 1);
    let made_up = sign(&valid_claims(&subject), run_key(), Some("made-up"));
    app.get_user(&made_up)
        .await
        .assert_error(401, "invalid_token");
    assert_eq!(
        key_set_reads(&app),
        0,
        "a made-up kid within 30 s costs no read"
    );
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let (app, subject, _) = app_with_user().await;
    let mut claims = valid_claims(&subject);
    claims["iat"] = json!(unix_now() - 7200);
    claims["exp"] = json!(unix_now() - 3600);
    assert_token_refused(&app, &sign_valid(&claims)).await;
}

#[tokio::test]
async fn a_token_not_valid_before_a_future_time_is_refused() {
    let (app, subject, _) = app_with_user().await;
    let mut claims = valid_claims(&subject);
    claims["nbf"] = json!(unix_now() + 3600);
    assert_token_refused(&app, &sign_valid(&claims)).await;
}

#[tokio::test]
async fn tokens_missing_a_required_claim_are_refused() {
    let (app, subject, _) = app_with_user().await;
    for claim in ["iss", "aud", "sub", "sid", "iat", "exp", "jti"] {
        let mut claims = valid_claims(&subject);
        claims.as_object_mut().unwrap().remove(claim);
        assert_token_refused(&app, &sign_valid(&claims)).await;
    }
}

#[tokio::test]
async fn a_token_of_another_issuer_or_for_another_audience_is_refused() {
    let (app, subject, _) = app_with_user().await;
    for (claim, value) in [
        ("iss", "https://evil.example.test"),
        ("iss", "https://id.example.test/"),
        ("aud", "another-api"),
    ] {
        let mut claims = valid_claims(&subject);
        claims[claim] = json!(value);
        assert_token_refused(&app, &sign_valid(&claims)).await;
    }
}

#[tokio::test]
async fn a_token_naming_an_unknown_session_or_another_users_session_is_refused() {
    let (app, subject, _) = app_with_user().await;
    let bob = app.email("bob");
    let bobs_token = app.registered_token(&bob).await;
    let bobs_claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(bobs_token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    for session_id in [
        json!(uuid::Uuid::now_v7().hyphenated().to_string()),
        bobs_claims["sid"].clone(),
        json!("not-a-session-id"),
    ] {
        let mut claims = valid_claims(&subject);
        claims["sid"] = session_id;
        assert_token_refused(&app, &sign_valid(&claims)).await;
    }
}

#[tokio::test]
async fn a_payload_edited_after_signing_is_refused() {
    let (app, subject, _) = app_with_user().await;
    let token = app.token_for(&app.email("ada"), PASSWORD).await;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["sub"], subject.user_id.as_str());
    claims["exp"] = json!(unix_now() + 86_400 * 365);
    let edited = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert_token_refused(&app, &edited).await;
}

#[tokio::test]
async fn truncated_and_malformed_tokens_are_refused() {
    let (app, _, _) = app_with_user().await;
    let token = app.token_for(&app.email("ada"), PASSWORD).await;
    let garbage = "x".repeat(8 * 1024);
    for broken in [&token[..token.len() - 10], "..", garbage.as_str()] {
        assert_token_refused(&app, broken).await;
    }
}

#[tokio::test]
async fn a_bearer_header_without_a_token_or_with_another_scheme_is_refused() {
    let (app, _, _) = app_with_user().await;
    let token = app.token_for(&app.email("ada"), PASSWORD).await;
    assert_refused_everywhere(&app, "Bearer").await;
    assert_refused_everywhere(&app, "Bearer ").await;
    assert_refused_everywhere(&app, &format!("Basic {token}")).await;
}

#[tokio::test]
async fn the_token_of_a_deleted_user_is_refused() {
    let (app, _, email) = app_with_user().await;
    let token = app.token_for(&email, PASSWORD).await;
    let deleter = app.token_for(&email, PASSWORD).await;
    app.delete_user(&deleter).await.assert_ok();
    assert_token_refused(&app, &token).await;
}

#[tokio::test]
async fn a_token_revoked_by_logout_is_refused() {
    let (app, _, email) = app_with_user().await;
    let token = app.token_for(&email, PASSWORD).await;
    app.logout(&token).await.assert_ok();
    assert_token_refused(&app, &token).await;
}

#[tokio::test]
async fn a_token_issued_before_a_password_reset_is_refused() {
    let (app, _, email) = app_with_user().await;
    let token = app.token_for(&email, PASSWORD).await;
    app.request_reset(&email).await.assert_ok();
    app.reset_password(&reset_token_sent_to(&email), NEW_PASSWORD)
        .await
        .assert_ok();
    assert_token_refused(&app, &token).await;
    let fresh = app.token_for(&email, NEW_PASSWORD).await;
    app.get_user(&fresh).await.assert_ok();
}
