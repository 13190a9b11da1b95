//! Sessions (API.md routes 2, 3, 10-12, "Sessions", "Logout"): one test per
//! sentence of the contract, with the real handlers against DynamoDB Local.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use accounts::clock::unix_now;
use accounts::config::SessionPolicy;
use accounts::domain::UserId;
use accounts::refresh_token::{RefreshToken, SessionId, SessionKeys, TOKEN_CHARS};
use accounts::store::session_items::{MAX_LIVE_SESSIONS, SessionRecord};
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::Body;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::harness::NEW_PASSWORD;
use crate::harness::{PASSWORD, Route, TestApp, reset_emails_to, reset_token_sent_to};

/// The requests of one refresh but its client's count (per-client limits),
/// which goes beside the first read: there must be exactly one.
#[track_caller]
fn beside_the_client_count(mut kinds: Vec<String>) -> Vec<String> {
    let count = "UpdateItem: dynamodb:UpdateItem CLIENT";
    let position = kinds
        .iter()
        .position(|kind| kind == count)
        .unwrap_or_else(|| panic!("no client count in {kinds:?}"));
    kinds.remove(position);
    assert!(!kinds.iter().any(|kind| kind == count), "{kinds:?}");
    kinds
}

/// A registered user logged in once: its access and refresh token.
async fn logged_in(app: &TestApp, local: &str) -> (String, String) {
    let email = app.email(local);
    app.register(&email, PASSWORD, "Test User")
        .await
        .assert_status(201);
    app.session_for(&email, PASSWORD).await
}

fn refresh_token_of(response: &crate::harness::TestResponse) -> String {
    response.body["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned()
}

/// The id of the session an access token belongs to, as the list says.
async fn current_session_id(app: &TestApp, token: &str) -> String {
    let listed = app.sessions(token).await;
    let sessions = listed.assert_ok()["sessions"].as_array().unwrap().clone();
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "{sessions:?}");
    current[0]["id"].as_str().unwrap().to_owned()
}

/// The stored session item, if any.
async fn session_item(app: &TestApp, id: &str) -> Option<HashMap<String, AttributeValue>> {
    app.items()
        .await
        .into_iter()
        .find(|item| item.get("sk").and_then(|sk| sk.as_s().ok()) == Some(&format!("SESSION#{id}")))
}

async fn counter(app: &TestApp, id: &str) -> u64 {
    let item = session_item(app, id).await.expect("the session item");
    item["counter"].as_n().unwrap().parse().unwrap()
}

#[tokio::test]
async fn login_returns_a_refresh_token_and_refreshing_rotates_it() {
    let app = TestApp::spawn().await;
    let (access, first) = logged_in(&app, "ada").await;
    assert_eq!(first.len(), TOKEN_CHARS);
    assert!(
        first
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );

    let refreshed = app.refresh(&first).await;

    let body = refreshed.assert_ok();
    assert_eq!(body["message"], "Token refreshed");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let second = refresh_token_of(&refreshed);
    assert_ne!(second, first);
    let new_access = body["token"].as_str().unwrap();
    assert_ne!(new_access, access);
    app.get_user(new_access).await.assert_ok();
    app.get_user(&access).await.assert_ok();
    let third = refresh_token_of(&app.refresh(&second).await);
    assert_ne!(third, second);
    let id = current_session_id(&app, new_access).await;
    assert_eq!(counter(&app, &id).await, 2);
    assert!(
        app.items().await.iter().all(|item| {
            item.values().all(|value| {
                value
                    .as_s()
                    .is_ok_and(|text| !text.contains(&third) && !text.contains(&second))
                    || value.as_s().is_err()
            })
        }),
        "no refresh token is stored"
    );
}

#[tokio::test]
async fn the_previous_token_within_the_retry_window_gets_the_current_token_and_does_not_advance() {
    let app = TestApp::spawn().await;
    let (access, first) = logged_in(&app, "ada").await;
    let second = refresh_token_of(&app.refresh(&first).await);
    let id = current_session_id(&app, &access).await;

    let retried = app.refresh(&first).await;

    retried.assert_ok();
    assert_eq!(refresh_token_of(&retried), second);
    app.get_user(retried.body["token"].as_str().unwrap())
        .await
        .assert_ok();
    assert_eq!(counter(&app, &id).await, 1, "a retry does not advance");
    let third = app.refresh(&second).await;
    third.assert_ok();
    assert_ne!(refresh_token_of(&third), second);
}

#[tokio::test]
async fn after_the_retry_window_the_previous_token_is_reuse_and_ends_the_session() {
    let app = TestApp::spawn_with_sessions(SessionPolicy {
        reuse_interval_seconds: 1,
        ..SessionPolicy::default()
    })
    .await;
    let (access, first) = logged_in(&app, "ada").await;
    let id = current_session_id(&app, &access).await;
    let second = refresh_token_of(&app.refresh(&first).await);

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let late = app.refresh(&first).await;

    late.assert_error(401, "refresh_token_reused");
    assert!(session_item(&app, &id).await.is_none());
    app.refresh(&second)
        .await
        .assert_error(401, "invalid_refresh_token");
    app.get_user(&access)
        .await
        .assert_error(401, "invalid_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_simultaneous_refreshes_with_one_token_all_get_the_same_new_token_and_advance_once()
{
    let app = Arc::new(TestApp::spawn().await);
    let (access, first) = logged_in(&app, "ada").await;
    let id = current_session_id(&app, &access).await;

    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let app = Arc::clone(&app);
            let first = first.clone();
            tokio::spawn(async move { app.refresh(&first).await })
        })
        .collect();
    let mut new_tokens = BTreeSet::new();
    for task in tasks {
        let response = task.await.expect("the refresh task finishes");
        response.assert_ok();
        new_tokens.insert(refresh_token_of(&response));
        app.get_user(response.body["token"].as_str().unwrap())
            .await
            .assert_ok();
    }

    assert_eq!(new_tokens.len(), 1, "{new_tokens:?}");
    assert_eq!(counter(&app, &id).await, 1);
    let next = new_tokens.into_iter().next().unwrap();
    app.refresh(&next).await.assert_ok();
}

#[tokio::test]
async fn a_replayed_old_token_ends_the_session_its_newest_refresh_token_and_its_access_tokens() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let (_, first) = logged_in(&app, "ada").await;
    let second = app.refresh(&first).await;
    let third = app.refresh(&refresh_token_of(&second)).await;
    let newest = refresh_token_of(&third);
    let newest_access = third.body["token"].as_str().unwrap().to_owned();
    let (other_access, other_refresh) = app.session_for(&email, PASSWORD).await;

    let replayed = app.refresh(&first).await;

    replayed.assert_error(401, "refresh_token_reused");
    app.refresh(&newest)
        .await
        .assert_error(401, "invalid_refresh_token");
    app.get_user(&newest_access)
        .await
        .assert_error(401, "invalid_token");
    app.get_user(&other_access).await.assert_ok();
    app.refresh(&other_refresh).await.assert_ok();
}

#[tokio::test]
async fn tampered_unknown_and_malformed_refresh_tokens_get_401_and_write_nothing() {
    let app = TestApp::spawn().await;
    let (access, token) = logged_in(&app, "ada").await;
    let user_id = UserId::parse(&app.user_id(&access).await).unwrap();
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let unknown_secret =
        SessionKeys::from_secret(uuid::Uuid::new_v4().simple().to_string().as_bytes())
            .expect("32 bytes");
    let unknown = RefreshToken {
        user_id: user_id.clone(),
        session_id: SessionId::generate(),
        counter: 0,
    }
    .encode(&unknown_secret)
    .unwrap();
    let before = app.snapshot().await;
    app.dynamodb_calls.take();

    for malformed in ["short", &"*".repeat(TOKEN_CHARS), &format!("{token}A")] {
        app.refresh(malformed)
            .await
            .assert_error(401, "invalid_refresh_token");
    }
    assert!(
        app.dynamodb_calls.take().is_empty(),
        "a malformed token costs no read"
    );
    for refused in [tampered.as_str(), unknown.expose_secret()] {
        app.refresh(refused)
            .await
            .assert_error(401, "invalid_refresh_token");
        assert_eq!(
            beside_the_client_count(app.dynamodb_calls.take_kinds()),
            ["TransactGetItems: dynamodb:GetItem USER, dynamodb:GetItem SESSIONS"],
            "one read and no write but the client's count"
        );
    }
    app.post_json(Route::Refresh, &json!({}))
        .await
        .assert_error(400, "missing_fields");
    app.post_json(Route::Refresh, &json!({"refresh_token": 5}))
        .await
        .assert_error(400, "validation_failed");
    app.post_json(
        Route::Refresh,
        &json!({"refresh_token": token, "admin": true}),
    )
    .await
    .assert_error(400, "validation_failed");

    assert_eq!(app.snapshot().await, before);
    app.refresh(&token).await.assert_ok();
}

#[tokio::test]
async fn a_refresh_makes_at_most_four_dynamodb_requests_and_no_argon2id() {
    let app = TestApp::spawn().await;
    let (access, first) = logged_in(&app, "ada").await;
    let _ = access;
    app.dynamodb_calls.take();

    let second = refresh_token_of(&app.refresh(&first).await);
    let advance = beside_the_client_count(app.dynamodb_calls.take_kinds());
    app.refresh(&first).await.assert_ok();
    let retry = beside_the_client_count(app.dynamodb_calls.take_kinds());
    app.refresh(&second).await.assert_ok();
    app.dynamodb_calls.take();
    app.refresh(&first)
        .await
        .assert_error(401, "refresh_token_reused");
    let reuse = beside_the_client_count(app.dynamodb_calls.take_kinds());

    assert_eq!(
        advance,
        [
            "TransactGetItems: dynamodb:GetItem USER, dynamodb:GetItem SESSIONS",
            "UpdateItem: dynamodb:UpdateItem SESSIONS"
        ]
    );
    assert_eq!(
        retry,
        ["TransactGetItems: dynamodb:GetItem USER, dynamodb:GetItem SESSIONS"]
    );
    assert_eq!(
        reuse,
        [
            "TransactGetItems: dynamodb:GetItem USER, dynamodb:GetItem SESSIONS",
            "DeleteItem: dynamodb:DeleteItem SESSIONS"
        ]
    );
}

#[tokio::test]
async fn a_session_ends_at_its_maximum_age_whatever_its_use_and_after_its_idle_time() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let (old_access, old_refresh) = logged_in(&app, "ada").await;
    let (idle_access, idle_refresh) = app.session_for(&email, PASSWORD).await;
    let user_id = app.user_id(&old_access).await;
    let old_id = current_session_id(&app, &old_access).await;
    let idle_id = current_session_id(&app, &idle_access).await;
    let policy = SessionPolicy::default();
    let now = unix_now();
    let pk = format!("SESSIONS#{user_id}");
    // Used a minute ago, but begun 30 days ago.
    app.set_number(
        &pk,
        &format!("SESSION#{old_id}"),
        "created_at",
        now - policy.max_age_seconds,
    )
    .await;
    app.set_number(&pk, &format!("SESSION#{old_id}"), "last_used_at", now - 60)
        .await;
    // Begun and last used 7 days ago.
    for attribute in ["created_at", "last_used_at", "rotated_at"] {
        app.set_number(
            &pk,
            &format!("SESSION#{idle_id}"),
            attribute,
            now - policy.idle_timeout_seconds,
        )
        .await;
    }
    let before = app.snapshot().await;

    app.refresh(&old_refresh)
        .await
        .assert_error(401, "session_expired");
    app.refresh(&idle_refresh)
        .await
        .assert_error(401, "session_expired");
    app.get_user(&old_access)
        .await
        .assert_error(401, "invalid_token");
    app.get_user(&idle_access)
        .await
        .assert_error(401, "invalid_token");
    assert_eq!(
        app.snapshot().await,
        before,
        "an expired session is not written"
    );
}

#[tokio::test]
async fn the_session_list_shows_the_callers_live_sessions_newest_first_with_the_current_one_marked()
{
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    app.register(&email, PASSWORD, "Ada")
        .await
        .assert_status(201);
    let mut tokens = Vec::new();
    for agent in ["Phone/1.0", "Laptop/2.0", "Tablet/3.0"] {
        let request = TestApp::request(
            &Route::Login,
            &[("content-type", "application/json"), ("user-agent", agent)],
            Body::from(json!({"email": email, "password": PASSWORD}).to_string()),
        );
        let login = app.call(&Route::Login, request).await;
        tokens.push(login.assert_ok()["token"].as_str().unwrap().to_owned());
    }
    let ended = tokens.remove(0);
    app.logout(&ended).await.assert_ok();
    logged_in(&app, "bob").await;

    let listed = app.sessions(&tokens[0]).await;

    let sessions = listed.assert_ok()["sessions"].as_array().unwrap().clone();
    let agents: Vec<&str> = sessions
        .iter()
        .map(|s| s["user_agent"].as_str().unwrap())
        .collect();
    assert_eq!(
        agents,
        ["Tablet/3.0", "Laptop/2.0"],
        "newest first, live only"
    );
    let current: Vec<bool> = sessions
        .iter()
        .map(|s| s["current"].as_bool().unwrap())
        .collect();
    assert_eq!(current, [false, true]);
    for session in &sessions {
        let fields: BTreeSet<&str> = session
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields,
            BTreeSet::from(["id", "created_at", "last_used_at", "user_agent", "current"])
        );
        assert!(session["created_at"].as_str().unwrap().ends_with('Z'));
        assert!(SessionId::parse(session["id"].as_str().unwrap()).is_some());
    }
}

#[tokio::test]
async fn ending_a_session_by_id_stops_its_tokens_and_another_users_id_is_404_like_an_unknown_one() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let (access, _) = logged_in(&app, "ada").await;
    let (other_access, other_refresh) = app.session_for(&email, PASSWORD).await;
    let other_id = current_session_id(&app, &other_access).await;
    let (bob_access, _) = logged_in(&app, "bob").await;
    let bob_id = current_session_id(&app, &bob_access).await;

    let foreign = app.end_session(&access, &bob_id).await;
    let unknown = app
        .end_session(&access, SessionId::generate().as_str())
        .await;
    let malformed = app.end_session(&access, "not-a-session").await;

    foreign.assert_error(404, "session_not_found");
    assert_eq!(foreign.text, unknown.text);
    assert_eq!(foreign.text, malformed.text);
    app.get_user(&bob_access).await.assert_ok();

    let ended = app.end_session(&access, &other_id).await;
    assert_eq!(ended.assert_ok()["message"], "Session ended");
    app.get_user(&other_access)
        .await
        .assert_error(401, "invalid_token");
    app.refresh(&other_refresh)
        .await
        .assert_error(401, "invalid_refresh_token");
    app.end_session(&access, &other_id)
        .await
        .assert_error(404, "session_not_found");
    app.get_user(&access).await.assert_ok();
}

#[tokio::test]
async fn logout_with_scope_others_keeps_only_the_callers_session() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let (kept_access, kept_refresh) = logged_in(&app, "ada").await;
    let mut others = Vec::new();
    for _ in 0..2 {
        others.push(app.session_for(&email, PASSWORD).await);
    }

    app.logout_scope(&kept_access, "others").await.assert_ok();

    app.get_user(&kept_access).await.assert_ok();
    for (access, refresh) in &others {
        app.get_user(access)
            .await
            .assert_error(401, "invalid_token");
        app.refresh(refresh)
            .await
            .assert_error(401, "invalid_refresh_token");
    }
    let refreshed = app.refresh(&kept_refresh).await;
    app.get_user(refreshed.assert_ok()["token"].as_str().unwrap())
        .await
        .assert_ok();
    let listed = app.sessions(&kept_access).await;
    assert_eq!(listed.assert_ok()["sessions"].as_array().unwrap().len(), 1);
    // A login afterwards is a live session again.
    let (later, _) = app.session_for(&email, PASSWORD).await;
    app.get_user(&later).await.assert_ok();
}

#[tokio::test]
async fn logout_with_scope_global_ends_every_session_and_scope_local_only_the_callers() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let (first_access, first_refresh) = logged_in(&app, "ada").await;
    let (second_access, second_refresh) = app.session_for(&email, PASSWORD).await;
    let (third_access, _) = app.session_for(&email, PASSWORD).await;

    app.logout_scope(&third_access, "local").await.assert_ok();
    app.get_user(&third_access)
        .await
        .assert_error(401, "invalid_token");
    app.get_user(&first_access).await.assert_ok();

    app.logout_scope(&first_access, "global").await.assert_ok();

    for access in [&first_access, &second_access] {
        app.get_user(access)
            .await
            .assert_error(401, "invalid_token");
    }
    for refresh in [&first_refresh, &second_refresh] {
        app.refresh(refresh)
            .await
            .assert_error(401, "invalid_refresh_token");
    }
    let (after, _) = app.session_for(&email, PASSWORD).await;
    app.get_user(&after).await.assert_ok();
}

#[tokio::test]
async fn an_unknown_scope_gets_400_invalid_scope_and_ends_nothing() {
    let app = TestApp::spawn().await;
    let (access, _) = logged_in(&app, "ada").await;
    let before = app.snapshot().await;

    for scope in ["all", "GLOBAL", ""] {
        app.logout_scope(&access, scope)
            .await
            .assert_error(400, "invalid_scope");
    }
    let twice = Route::LogoutScope(vec![
        ("scope", "local".to_owned()),
        ("scope", "global".to_owned()),
    ]);
    app.send(&twice, Some(&access), &Value::Null)
        .await
        .assert_error(400, "invalid_scope");

    assert_eq!(app.snapshot().await, before);
    app.get_user(&access).await.assert_ok();
}

#[tokio::test]
async fn a_login_beyond_a_hundred_live_sessions_ends_the_least_recently_used_one() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let (first_access, _) = logged_in(&app, "ada").await;
    let user_id = UserId::parse(&app.user_id(&first_access).await).unwrap();
    let policy = SessionPolicy::default();
    let now = unix_now();
    // 99 more sessions, used a little earlier each: the first login is the
    // most recent, the one begun 100 s ago the least recently used.
    let mut least_recent = None;
    for age in 1..MAX_LIVE_SESSIONS as u64 {
        let mut record = SessionRecord::begin(&user_id, 0, Some("bulk"), now - 100).unwrap();
        record.last_used_at = now - age;
        if age == MAX_LIVE_SESSIONS as u64 - 1 {
            least_recent = Some(record.id.clone());
        }
        app.state
            .store
            .create_session(&record, &policy)
            .await
            .unwrap();
    }
    let least_recent = least_recent.unwrap();
    assert_eq!(app.count_items("SESSION").await, MAX_LIVE_SESSIONS);

    let (newest, _) = app.session_for(&email, PASSWORD).await;

    assert_eq!(app.count_items("SESSION").await, MAX_LIVE_SESSIONS);
    assert!(session_item(&app, least_recent.as_str()).await.is_none());
    app.get_user(&newest).await.assert_ok();
    app.get_user(&first_access).await.assert_ok();
}

#[tokio::test]
async fn a_password_reset_ends_every_session_and_its_refresh_tokens() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let (access, refresh) = logged_in(&app, "ada").await;
    let (other_access, other_refresh) = app.session_for(&email, PASSWORD).await;
    app.request_reset(&email).await.assert_ok();
    assert_eq!(reset_emails_to(&email).len(), 1);

    app.reset_password(&reset_token_sent_to(&email), NEW_PASSWORD)
        .await
        .assert_ok();

    for token in [&access, &other_access] {
        app.get_user(token).await.assert_error(401, "invalid_token");
    }
    for token in [&refresh, &other_refresh] {
        app.refresh(token)
            .await
            .assert_error(401, "invalid_refresh_token");
    }
    let (after, _) = app.session_for(&email, NEW_PASSWORD).await;
    let listed = app.sessions(&after).await;
    assert_eq!(listed.assert_ok()["sessions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn deleting_the_account_removes_its_sessions() {
    let app = TestApp::spawn().await;
    let email = app.email("ada");
    let (access, refresh) = logged_in(&app, "ada").await;
    let (_, other_refresh) = app.session_for(&email, PASSWORD).await;
    logged_in(&app, "bob").await;
    assert_eq!(app.count_items("SESSION").await, 3);

    app.delete_user(&access).await.assert_ok();

    assert_eq!(app.count_items("SESSION").await, 1, "bob's stays");
    for token in [&refresh, &other_refresh] {
        app.refresh(token)
            .await
            .assert_error(401, "invalid_refresh_token");
    }
}

#[tokio::test]
async fn an_empty_refresh_token_is_a_missing_field_and_costs_no_read() {
    let app = TestApp::spawn().await;
    app.dynamodb_calls.take();

    let response = app.refresh("").await;

    response.assert_error(400, "validation_failed");
    assert!(response.body["fields"]["refresh_token"].is_string());
    assert!(app.dynamodb_calls.take().is_empty());
}
