//! Forged and broken bearer tokens: each is refused by every authenticated
//! route with 401 `invalid_token` and `WWW-Authenticate: Bearer`, and
//! changes nothing.

use accounts::clock::unix_now;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lambda_http::Body;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::harness::{NEW_PASSWORD, PASSWORD, Route, TestApp, reset_token_sent_to};

/// An app with one admin user; returns it, the user's id and email.
async fn app_with_user() -> (TestApp, String, String) {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let token = app.registered_token(&email).await;
    app.admin(&["promote", &email]).await.unwrap();
    let user_id = app.user_id(&token).await;
    (app, user_id, email)
}

/// Claims that would be accepted, for the given user.
fn valid_claims(user_id: &str) -> Value {
    let now = unix_now();
    json!({"sub": user_id, "iat": now, "exp": now + 600, "jti": "forged", "iss": "user-api", "ver": 0})
}

fn secret(app: &TestApp) -> Vec<u8> {
    app.state
        .config
        .jwt_secret
        .expose_secret()
        .as_bytes()
        .to_vec()
}

fn sign(claims: &Value, algorithm: Algorithm, secret: &[u8]) -> String {
    accounts::token::crypto::install();
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

/// A token with any header, HMAC-SHA256-signed with `secret`: what an
/// attacker who relabels the algorithm would send.
fn hand_made(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let signature = URL_SAFE_NO_PAD.encode(ring::hmac::sign(&key, input.as_bytes()));
    format!("{input}.{signature}")
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
    let (app, user_id, _) = app_with_user().await;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(valid_claims(&user_id).to_string());
    assert_token_refused(&app, &format!("{header}.{claims}.")).await;
}

#[tokio::test]
async fn tokens_signed_with_the_right_secret_under_another_hmac_algorithm_are_refused() {
    let (app, user_id, _) = app_with_user().await;
    for algorithm in [Algorithm::HS384, Algorithm::HS512] {
        assert_token_refused(
            &app,
            &sign(&valid_claims(&user_id), algorithm, &secret(&app)),
        )
        .await;
    }
}

#[tokio::test]
async fn tokens_labelled_rs256_or_es256_but_hmac_signed_with_the_secret_are_refused() {
    let (app, user_id, _) = app_with_user().await;
    for alg in ["RS256", "ES256"] {
        let header = json!({"alg": alg, "typ": "JWT"});
        assert_token_refused(
            &app,
            &hand_made(&header, &valid_claims(&user_id), &secret(&app)),
        )
        .await;
    }
}

#[tokio::test]
async fn the_hand_made_signer_makes_tokens_the_api_accepts() {
    // Guards the two tests above: with the real algorithm the same forgery
    // is accepted, so their refusals are about the algorithm alone.
    let (app, user_id, _) = app_with_user().await;
    let token = hand_made(
        &json!({"alg": "HS256", "typ": "JWT"}),
        &valid_claims(&user_id),
        &secret(&app),
    );
    app.get_user(&token).await.assert_ok();
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_refused() {
    let (app, user_id, _) = app_with_user().await;
    let token = sign(
        &valid_claims(&user_id),
        Algorithm::HS256,
        b"another-secret-of-at-least-32-bytes!!",
    );
    assert_token_refused(&app, &token).await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let (app, user_id, _) = app_with_user().await;
    let mut claims = valid_claims(&user_id);
    claims["iat"] = json!(unix_now() - 7200);
    claims["exp"] = json!(unix_now() - 3600);
    assert_token_refused(&app, &sign(&claims, Algorithm::HS256, &secret(&app))).await;
}

#[tokio::test]
async fn a_token_not_valid_before_a_future_time_is_refused() {
    let (app, user_id, _) = app_with_user().await;
    let mut claims = valid_claims(&user_id);
    claims["nbf"] = json!(unix_now() + 3600);
    assert_token_refused(&app, &sign(&claims, Algorithm::HS256, &secret(&app))).await;
}

#[tokio::test]
async fn tokens_missing_sub_exp_or_jti_are_refused() {
    let (app, user_id, _) = app_with_user().await;
    for claim in ["sub", "exp", "jti"] {
        let mut claims = valid_claims(&user_id);
        claims.as_object_mut().unwrap().remove(claim);
        assert_token_refused(&app, &sign(&claims, Algorithm::HS256, &secret(&app))).await;
    }
}

#[tokio::test]
async fn a_token_of_another_issuer_is_refused() {
    let (app, user_id, _) = app_with_user().await;
    let mut claims = valid_claims(&user_id);
    claims["iss"] = json!("someone-else");
    assert_token_refused(&app, &sign(&claims, Algorithm::HS256, &secret(&app))).await;
}

#[tokio::test]
async fn a_payload_edited_after_signing_is_refused() {
    let (app, user_id, _) = app_with_user().await;
    let token = app.token_for(&app.email("ada"), PASSWORD).await;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["sub"], user_id.as_str());
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
