//! Someone with a copy of the table (a role that may read it, a backup, an
//! export, its stream) must not be able to mint a refresh token (security
//! review 2026-12, M1; API.md "Changes to 1.1 behaviour"). The forger here
//! knows the token format exactly: tokens it makes under the real session
//! secret, which only the issuing functions read, are accepted, and every
//! byte string that the table holds, used as a session key or as the
//! secret, yields none.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::hmac;

use accounts::domain::UserId;
use accounts::refresh_token::{RefreshToken, SessionId, SessionKeys};

use crate::harness::keys::{secret_string, session_secret_id};
use crate::harness::{PASSWORD, TestApp};

/// A token as `accounts::refresh_token` lays it out, MAC'd under `key`.
fn token_under_raw_key(user: &[u8; 16], session: &[u8; 16], counter: u64, key: &[u8]) -> String {
    let mut payload = Vec::with_capacity(40);
    payload.extend_from_slice(user);
    payload.extend_from_slice(session);
    payload.extend_from_slice(&counter.to_be_bytes());
    let mac = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), &payload);
    payload.extend_from_slice(mac.as_ref());
    URL_SAFE_NO_PAD.encode(payload)
}

/// Every byte string an attribute holds, and what it decodes to as base64.
fn byte_strings(value: &AttributeValue) -> Vec<Vec<u8>> {
    let text = match value {
        AttributeValue::B(blob) => return vec![blob.as_ref().to_vec()],
        AttributeValue::S(text) | AttributeValue::N(text) => text,
        AttributeValue::L(values) => return values.iter().flat_map(byte_strings).collect(),
        _ => return Vec::new(),
    };
    let mut found = vec![text.as_bytes().to_vec()];
    for engine in [&URL_SAFE_NO_PAD, &STANDARD] {
        if let Ok(decoded) = engine.decode(text) {
            found.push(decoded);
        }
    }
    found
}

fn uuid_bytes(id: &str) -> [u8; 16] {
    *uuid::Uuid::parse_str(id).expect("a uuid").as_bytes()
}

#[tokio::test]
async fn nothing_in_the_table_yields_a_refresh_token_that_the_refresh_route_accepts() {
    let app = TestApp::spawn().await;
    let email = app.email("admin");
    app.register(&email, PASSWORD, "Admin")
        .await
        .assert_status(201);
    let (_, issued) = app.session_for(&email, PASSWORD).await;
    let items = app.items().await;
    let sessions: Vec<_> = items
        .iter()
        .filter(|item| {
            item.get("sk")
                .and_then(|sk| sk.as_s().ok())
                .is_some_and(|sk| sk.starts_with("SESSION#"))
        })
        .collect();
    assert_eq!(sessions.len(), 1);
    let session = sessions[0];
    let text = |name: &str| session[name].as_s().expect("a string").clone();
    let (user_id, session_id) = (text("user_id"), text("session_id"));
    let counter: u64 = session["counter"].as_n().unwrap().parse().unwrap();
    let (user, sid) = (uuid_bytes(&user_id), uuid_bytes(&session_id));

    let mut candidates: Vec<Vec<u8>> = items
        .iter()
        .flat_map(|item| item.values())
        .flat_map(byte_strings)
        .collect();
    candidates.sort();
    candidates.dedup();
    assert!(candidates.len() >= 20, "{} byte strings", candidates.len());
    let claimed = RefreshToken {
        user_id: UserId::parse(&user_id).unwrap(),
        session_id: SessionId::parse(&session_id).unwrap(),
        counter,
    };
    for candidate in &candidates {
        let as_key = token_under_raw_key(&user, &sid, counter, candidate);
        app.refresh(&as_key)
            .await
            .assert_error(401, "invalid_refresh_token");
        if let Some(as_secret) = SessionKeys::from_secret(candidate) {
            let forged = claimed.encode(&as_secret).unwrap();
            app.refresh(secrecy::ExposeSecret::expose_secret(&forged))
                .await
                .assert_error(401, "invalid_refresh_token");
        }
    }

    // The forger's format is right: under the secret that only the issuing
    // functions read, the same construction is the token login handed out.
    let secret = secret_string(&session_secret_id(&app.secret_id)).await;
    let real = claimed
        .encode(&SessionKeys::from_secret(secret.as_bytes()).unwrap())
        .unwrap();
    assert_eq!(secrecy::ExposeSecret::expose_secret(&real), &issued);
    app.refresh(&issued).await.assert_ok();
}
