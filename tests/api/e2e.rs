//! Black-box tests of the real binaries: HTTP to `cargo lambda watch`, which
//! turns each request into an API Gateway HTTP API (payload 2.0) event for
//! the function process. `main.rs`, configuration from the environment and
//! event decoding are all on the path. The same harness as the in-process
//! tests, with `TestApp::behind_gateway`.

use serde_json::{Value, json};

use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::harness::emulators::workspace;
use crate::harness::forge::hand_made;
use crate::harness::http_client;
use crate::harness::stack::stack;
use crate::harness::template;
use crate::harness::{
    NEW_PASSWORD, PASSWORD, Route, TestApp, emails_to, reset_token_sent_to, token_mailed_to,
};

#[tokio::test]
async fn register_and_login_through_the_gateway() {
    let app = TestApp::behind_gateway().await;
    let address = app.email("ada");
    let registered = app.register(&address, PASSWORD, "Black Box").await;
    let registered = registered.assert_status(201);
    assert_eq!(registered["message"], "User registered successfully");
    assert_eq!(registered["user"]["email"], address);

    app.register(&address.to_uppercase(), PASSWORD, "Dup")
        .await
        .assert_error(409, "email_taken");
    let login = app.login(&address, PASSWORD).await;
    let body = login.assert_ok();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    app.login(&address, "wrong password here")
        .await
        .assert_error(401, "invalid_credentials");
}

#[tokio::test]
async fn the_body_rules_hold_through_the_gateway() {
    let app = TestApp::behind_gateway().await;
    let big =
        json!({"email": "x@example.com", "password": PASSWORD, "name": "x".repeat(20 * 1024)});
    app.post_json(Route::Register, &big)
        .await
        .assert_error(413, "payload_too_large");
    let raw = |route: Route, content_type: &'static str, body: &'static str| {
        let request = TestApp::request(&route, &[("content-type", content_type)], body);
        (route, request)
    };
    let (route, text_plain) = raw(Route::Register, "text/plain", "{}");
    app.call(&route, text_plain)
        .await
        .assert_error(415, "unsupported_media_type");
    let (route, malformed) = raw(Route::Login, "application/json", "{\"email\":");
    app.call(&route, malformed)
        .await
        .assert_error(400, "invalid_json");
    app.post_json(Route::Register, &json!({"email": 5}))
        .await
        .assert_error(400, "validation_failed");
    app.post_json(Route::Login, &json!({"email": "a@example.com"}))
        .await
        .assert_error(400, "missing_fields");
}

#[tokio::test]
async fn profile_routes_through_the_gateway() {
    let app = TestApp::behind_gateway().await;
    let address = app.email("grace");
    let token = app.registered_token(&address).await;

    let user = app.get_user(&token).await;
    assert_eq!(user.assert_ok()["user"]["email"], address);
    let missing = app.send(&Route::GetUser, None, &Value::Null).await;
    missing.assert_error(401, "invalid_token");
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));

    let updated = app
        .update_user(&token, &json!({"name": "Grace Hopper"}))
        .await;
    let updated = updated.assert_ok();
    assert_eq!(updated["message"], "User profile updated successfully");
    assert_eq!(updated["user"]["name"], "Grace Hopper");
    let other = app.email("other");
    app.registered_token(&other).await;
    app.update_user(
        &token,
        &json!({"email": other, "current_password": PASSWORD}),
    )
    .await
    .assert_error(409, "email_taken");
    app.update_user(&token, &json!({}))
        .await
        .assert_error(400, "missing_fields");

    let deleted = app.delete_user(&token).await;
    assert_eq!(
        deleted.assert_ok()["message"],
        "User profile deleted successfully"
    );
    app.delete_user(&token)
        .await
        .assert_error(401, "invalid_token");
}

#[tokio::test]
async fn logout_through_the_gateway_revokes_only_that_token() {
    let app = TestApp::behind_gateway().await;
    let address = app.email("alan");
    let first = app.registered_token(&address).await;
    let second = app.token_for(&address, PASSWORD).await;

    let logout = app.logout(&first).await;
    assert_eq!(logout.assert_ok()["message"], "Logout successful");

    app.get_user(&first)
        .await
        .assert_error(401, "invalid_token");
    app.logout(&first).await.assert_error(401, "invalid_token");
    app.get_user(&second).await.assert_ok();
}

#[tokio::test]
async fn password_reset_through_the_gateway_with_the_emailed_token() {
    let app = TestApp::behind_gateway().await;
    let address = app.email("edsger");
    let old_token = app.registered_token(&address).await;

    let requested = app.request_reset(&address).await;
    assert_eq!(
        requested.assert_ok()["message"],
        "If that email is registered, a password reset token has been sent"
    );
    let unknown = app.request_reset(&app.email("nobody")).await;
    unknown.assert_ok();
    assert_eq!(unknown.text, requested.text);
    let reset_token = reset_token_sent_to(&address);

    app.reset_password(&reset_token, "short")
        .await
        .assert_error(400, "validation_failed");
    let reset = app.reset_password(&reset_token, NEW_PASSWORD).await;
    assert_eq!(reset.assert_ok()["message"], "Password reset successful");
    app.reset_password(&reset_token, NEW_PASSWORD)
        .await
        .assert_error(400, "invalid_reset_token");

    app.get_user(&old_token)
        .await
        .assert_error(401, "invalid_token");
    app.login(&address, PASSWORD)
        .await
        .assert_error(401, "invalid_credentials");
    app.token_for(&address, NEW_PASSWORD).await;
}

#[tokio::test]
async fn lockout_through_the_gateway_sends_retry_after() {
    let app = TestApp::behind_gateway().await;
    let address = app.email("locked");
    for _ in 0..5 {
        app.login(&address, "wrong password here")
            .await
            .assert_error(401, "invalid_credentials");
    }
    let locked = app.login(&address, "wrong password here").await;
    locked.assert_error(429, "too_many_attempts");
    assert_eq!(locked.header("retry-after"), Some("1"));
}

#[tokio::test]
async fn list_users_through_the_gateway_needs_an_admin() {
    let app = TestApp::behind_gateway().await;
    let address = app.email("admin");
    let token = app.registered_token(&address).await;
    app.registered_token(&app.email("listed")).await;
    app.list_users(&token, &[])
        .await
        .assert_error(403, "admin_required");

    app.admin(&["promote", &address])
        .await
        .expect("promoting a registered account");

    let page = app.list_users(&token, &[("limit", "1")]).await;
    let page = page.assert_ok();
    assert_eq!(page["users"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().expect("more users follow");
    let next = app
        .list_users(&token, &[("limit", "1"), ("cursor", cursor)])
        .await;
    assert_ne!(next.assert_ok()["users"][0]["id"], page["users"][0]["id"]);
    app.list_users(&token, &[("limit", "0")])
        .await
        .assert_error(400, "invalid_limit");
    app.list_users(&token, &[("cursor", "forged")])
        .await
        .assert_error(400, "invalid_cursor");
}

/// The `iss` the stack's functions are configured with.
fn stack_issuer() -> String {
    stack()
        .config
        .jwt_issuer
        .clone()
        .expect("the stack's issuer")
}

#[tokio::test]
async fn the_key_documents_name_the_issuer_and_publish_public_keys_only() {
    let app = TestApp::behind_gateway().await;
    let issuer = stack_issuer();
    let discovery = app.discovery().await;
    let discovery = discovery.assert_ok();
    assert_eq!(discovery["issuer"], issuer.as_str());
    assert_eq!(
        discovery["jwks_uri"],
        format!("{issuer}/.well-known/jwks.json").as_str()
    );
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );

    let jwks = app.jwks().await;
    let keys = jwks.assert_ok()["keys"].as_array().expect("a key list");
    assert_eq!(keys.len(), 1);
    let mut members: Vec<&String> = keys[0].as_object().unwrap().keys().collect();
    members.sort();
    assert_eq!(members, ["alg", "e", "kid", "kty", "n", "use"]);
    assert_eq!(keys[0]["kid"], stack().key_set.keys[0].kid.as_str());

    let token = app.registered_token(&app.email("kid")).await;
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], keys[0]["kid"]);
}

/// Verifies `token` with PyJWT, as another service's JWT authorizer would
/// (tests/verify_with_pyjwt.py): the claims, or why it was refused.
fn verify_independently(token: &str, issuer: &str, audience: &str) -> Result<Value, String> {
    let python = workspace().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run `make test`",
        python.display()
    );
    let mut child = Command::new(python)
        .arg(workspace().join("tests/verify_with_pyjwt.py"))
        .args([issuer, audience])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    match output.status.code() {
        Some(0) => Ok(serde_json::from_str(&stdout).expect("the claims as JSON")),
        Some(1) => Err(stdout),
        _ => panic!(
            "the verifier failed to run: {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

#[tokio::test]
async fn an_independent_verifier_accepts_the_tokens_through_discovery_and_refuses_forgeries() {
    let app = TestApp::behind_gateway().await;
    let issuer = stack_issuer();
    let audience = stack().config.jwt_audience.clone();
    let token = app.registered_token(&app.email("pyjwt")).await;

    let claims = verify_independently(&token, &issuer, &audience).expect("PyJWT accepts the token");
    assert_eq!(claims["sub"], app.user_id(&token).await.as_str());
    assert_eq!(claims["iss"], issuer.as_str());

    let (signed, signature) = token.rsplit_once('.').unwrap();
    let mut tampered = URL_SAFE_NO_PAD.decode(signature).unwrap();
    tampered[0] ^= 1;
    let tampered = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tampered));
    let refused = verify_independently(&tampered, &issuer, &audience).unwrap_err();
    assert!(refused.contains("InvalidSignatureError"), "{refused}");

    let refused = verify_independently(&token, &issuer, "another-api").unwrap_err();
    assert!(refused.contains("InvalidAudienceError"), "{refused}");

    let jwks = app.jwks().await;
    let public = jwks.body["keys"][0].to_string();
    let payload: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": jwks.body["keys"][0]["kid"]});
    let hs256 = hand_made(&header, &payload, public.as_bytes());
    assert!(verify_independently(&hs256, &issuer, &audience).is_err());
    app.get_user(&hs256)
        .await
        .assert_error(401, "invalid_token");
}

/// The JSON log lines every function process has written so far.
fn function_log_lines() -> Vec<String> {
    crate::harness::template::function_names()
        .iter()
        .flat_map(|function| {
            std::fs::read_to_string(crate::harness::stack::function_log(function))
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn a_whole_flow_logs_no_secret_or_email_and_every_line_names_its_request() {
    let app = TestApp::behind_gateway().await;
    let address = app.email("logged");
    let new_address = app.email("renamed");
    let first_password = "first secret passphrase 1";
    let second_password = "second secret passphrase 2";
    let third_password = "third secret passphrase 3";
    app.register_unverified(&address, first_password, "Logged")
        .await
        .assert_status(201);
    app.login(&address, first_password).await.assert_status(403);
    app.request_verification(&address).await.assert_ok();
    let verification_token = token_mailed_to(&address, "verify-email");
    app.verify_email(&verification_token)
        .await
        .assert_status(200);
    let access = app.token_for(&address, first_password).await;
    app.login(&address, "a wrong secret passphrase")
        .await
        .assert_status(401);
    app.request_reset(&address).await.assert_ok();
    let reset_token = reset_token_sent_to(&address);
    app.reset_password(&reset_token, second_password)
        .await
        .assert_ok();
    let access_after_reset = app.token_for(&address, second_password).await;
    app.update_user(
        &access_after_reset,
        &json!({"email": new_address, "current_password": second_password}),
    )
    .await
    .assert_status(202);
    let change_token = token_mailed_to(&new_address, "confirm-email-change");
    app.confirm_email_change(&change_token)
        .await
        .assert_status(200);
    let changed = app
        .change_password(&access_after_reset, second_password, third_password)
        .await;
    let access_after_change = changed.assert_status(200)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh_after_change = changed.body["refresh_token"].as_str().unwrap().to_owned();
    app.get_user(&access).await.assert_status(401);
    app.get_user(&access_after_reset).await.assert_status(401);
    app.delete_user(&access_after_change).await.assert_ok();

    let lines = function_log_lines();
    assert!(lines.len() >= 9, "the flow left {} log lines", lines.len());
    let secrets = [
        address.as_str(),
        new_address.as_str(),
        "@example.com",
        first_password,
        second_password,
        third_password,
        "a wrong secret passphrase",
        access.as_str(),
        access_after_reset.as_str(),
        access_after_change.as_str(),
        refresh_after_change.as_str(),
        reset_token.as_str(),
        verification_token.as_str(),
        change_token.as_str(),
        "$argon2",
    ];
    for line in &lines {
        for secret in secrets {
            assert!(
                !line.contains(secret),
                "a log line contains {secret:?}: {line}"
            );
        }
        let entry: Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("not a JSON line ({error}): {line}"));
        let request_id = entry["spans"]
            .as_array()
            .and_then(|spans| spans.iter().find_map(|span| span["requestId"].as_str()));
        assert!(
            request_id.is_some_and(|id| !id.is_empty()),
            "a log line without the request id: {line}"
        );
    }
}

/// The README's session walkthrough ("Try it") through the gateway: log in twice,
/// refresh (and retry the refresh), list the sessions, end one, log out
/// the others, and see a replayed refresh token end its session.
#[tokio::test]
async fn sessions_through_the_gateway() {
    let app = TestApp::behind_gateway().await;
    let email = app.email("ada");
    app.register(&email, PASSWORD, "Ada")
        .await
        .assert_status(201);
    let (laptop, laptop_refresh) = app.session_for(&email, PASSWORD).await;
    let (phone, _) = app.session_for(&email, PASSWORD).await;
    let (tablet, _) = app.session_for(&email, PASSWORD).await;

    let refreshed = app.refresh(&laptop_refresh).await;
    let body = refreshed.assert_ok();
    assert_eq!(body["message"], "Token refreshed");
    let next_refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let laptop = {
        let retried = app.refresh(&laptop_refresh).await;
        assert_eq!(
            retried.assert_ok()["refresh_token"].as_str(),
            Some(next_refresh.as_str())
        );
        assert_ne!(
            retried.body["token"].as_str().unwrap(),
            laptop.as_str(),
            "a new access token"
        );
        retried.body["token"].as_str().unwrap().to_owned()
    };

    let listed = app.sessions(&laptop).await;
    let sessions = listed.assert_ok()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions[2]["current"], true, "the oldest, listed last");
    let phone_id = sessions[1]["id"].as_str().unwrap();
    app.end_session(&laptop, phone_id).await.assert_ok();
    app.get_user(&phone)
        .await
        .assert_error(401, "invalid_token");
    app.end_session(&laptop, phone_id)
        .await
        .assert_error(404, "session_not_found");

    app.logout_scope(&laptop, "bogus")
        .await
        .assert_error(400, "invalid_scope");
    app.logout_scope(&laptop, "others").await.assert_ok();
    app.get_user(&tablet)
        .await
        .assert_error(401, "invalid_token");
    app.get_user(&laptop).await.assert_ok();

    let newest = app.refresh(&next_refresh).await;
    let newest_refresh = newest.assert_ok()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.refresh(&laptop_refresh)
        .await
        .assert_error(401, "refresh_token_reused");
    app.refresh(&newest_refresh)
        .await
        .assert_error(401, "invalid_refresh_token");
    app.get_user(&laptop)
        .await
        .assert_error(401, "invalid_token");
}

/// The pages the mailed links open, as the gateway serves them: the link
/// in a real mail leads to a page (the part before `#` is all a browser
/// requests), with the headers of API.md; an unknown page is a JSON 404.
#[tokio::test]
async fn the_mailed_links_open_the_pages_with_their_security_headers() {
    let app = TestApp::behind_gateway().await;
    let address = app.email("pages");
    app.register_unverified(&address, PASSWORD, "Page Reader")
        .await
        .assert_status(201);
    let mail = emails_to(&address);
    let text = mail.last().expect("a verification mail")["body"]["text"]
        .as_str()
        .expect("a text part")
        .to_owned();
    let link = text
        .split_whitespace()
        .find(|word| word.contains("#token="))
        .expect("a link with the token in its fragment");
    let (page_url, _) = link.split_once('#').expect("a fragment");
    assert_eq!(
        page_url,
        format!("{}/v1/pages/verify-email", stack_issuer())
    );

    let get = |path: &str| http_client::request("GET", &stack().base, path, &[], b"");
    let header = |response: &http_client::HttpResponse, name: &str| {
        response
            .headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| panic!("no {name} header"))
    };
    for (page, content_type) in [
        ("verify-email", "text/html; charset=utf-8"),
        ("reset-password", "text/html; charset=utf-8"),
        ("confirm-email-change", "text/html; charset=utf-8"),
        ("pages.js", "text/javascript; charset=utf-8"),
        ("pages.css", "text/css; charset=utf-8"),
    ] {
        let response = get(&format!("/v1/pages/{page}"));
        assert_eq!(response.status, 200, "{page}: {}", response.body);
        assert_eq!(header(&response, "content-type"), content_type);
        assert_eq!(
            header(&response, "content-security-policy"),
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        );
        assert_eq!(header(&response, "referrer-policy"), "no-referrer");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert!(!response.body.is_empty());
    }
    let missing = get("/v1/pages/admin");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["code"], "page_not_found");
}

/// The walkthrough: one account through every route of `template.yaml`,
/// each answering as a client expects. A route added to the template and
/// left out of here fails this test by name.
#[tokio::test]
async fn the_walkthrough_reaches_every_route_of_the_template() {
    let app = TestApp::behind_gateway().await;
    let address = app.email("walker");
    app.register(&address, PASSWORD, "Walker") // and verify_email
        .await
        .assert_status(201);
    app.request_verification(&address).await.assert_ok();
    app.discovery().await.assert_ok();
    app.jwks().await.assert_ok();
    let (status, page) = app.page("verify-email");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<title>Verify your email address</title>"),
        "{page}"
    );

    let (_, refresh) = app.session_for(&address, PASSWORD).await;
    let token = {
        let refreshed = app.refresh(&refresh).await;
        refreshed.assert_ok()["token"].as_str().unwrap().to_owned()
    };
    let (other, _) = app.session_for(&address, PASSWORD).await;
    app.get_user(&token).await.assert_ok();
    let sessions = app.sessions(&token).await.assert_ok()["sessions"].clone();
    let other_id = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|session| session["current"] == false)
        .expect("the other session")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.end_session(&token, &other_id).await.assert_ok();
    app.get_user(&other)
        .await
        .assert_error(401, "invalid_token");

    let moved = app.email("walker.moved");
    let change = json!({"email": moved, "current_password": PASSWORD});
    app.update_user(&token, &change).await.assert_status(202);
    let cancel = token_mailed_to(&address, "cancel-email-change");
    app.cancel_email_change(&cancel).await.assert_ok();
    app.update_user(&token, &change).await.assert_status(202);
    let confirm = token_mailed_to(&moved, "confirm-email-change");
    app.confirm_email_change(&confirm).await.assert_ok();

    let token = {
        let changed = app.change_password(&token, PASSWORD, NEW_PASSWORD).await;
        changed.assert_ok()["token"].as_str().unwrap().to_owned()
    };
    app.get_user(&token).await.assert_ok();
    app.request_reset(&moved).await.assert_ok();
    app.reset_password(&reset_token_sent_to(&moved), PASSWORD)
        .await
        .assert_ok();
    let token = app.token_for(&moved, PASSWORD).await;

    app.list_users(&token, &[])
        .await
        .assert_error(403, "admin_required");
    app.logout(&token).await.assert_ok();
    let token = app.token_for(&moved, PASSWORD).await;
    app.delete_user(&token).await.assert_ok();

    let reached = app.reached.lock().unwrap().clone();
    let missing: Vec<String> = template::route_keys()
        .into_iter()
        .filter(|route| !reached.contains(route))
        .collect();
    assert!(
        missing.is_empty(),
        "the walkthrough (tests/api/e2e.rs) never calls {missing:?} of template.yaml"
    );
}
