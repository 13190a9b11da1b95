//! Every file in `events/` through `cargo lambda invoke --data-file`, against
//! the real binaries, with the status it should get. The files carry
//! placeholders (`REPLACE_WITH_ACCESS_TOKEN`, `REPLACE_WITH_RESET_TOKEN`,
//! `REPLACE_WITH_REFRESH_TOKEN`, `REPLACE_WITH_SESSION_ID`,
//! `REPLACE_WITH_VERIFICATION_TOKEN`, `REPLACE_WITH_EMAIL_CHANGE_TOKEN`,
//! `REPLACE_WITH_CANCEL_TOKEN`)
//! that a person replaces before `sam local invoke -e`; this test does the
//! same.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

use crate::harness::emulators::{workspace, workspace_file};
use crate::harness::stack::{cargo_lambda, stack};
use crate::harness::{NEW_PASSWORD, TestApp, reset_token_sent_to, token_mailed_to};

const ACCESS_TOKEN: &str = "REPLACE_WITH_ACCESS_TOKEN";
const RESET_TOKEN: &str = "REPLACE_WITH_RESET_TOKEN";
const REFRESH_TOKEN: &str = "REPLACE_WITH_REFRESH_TOKEN";
const SESSION_ID: &str = "REPLACE_WITH_SESSION_ID";
const VERIFICATION_TOKEN: &str = "REPLACE_WITH_VERIFICATION_TOKEN";
const EMAIL_CHANGE_TOKEN: &str = "REPLACE_WITH_EMAIL_CHANGE_TOKEN";
const CANCEL_TOKEN: &str = "REPLACE_WITH_CANCEL_TOKEN";
/// The account the event files use, and where update-user-email.json moves it.
const EMAIL: &str = "ada@example.com";
const NEW_EMAIL: &str = "countess@example.com";

/// Invokes `function` with the event file, placeholders filled in; returns
/// the status and the parsed body of the function's response.
fn invoke(function: &str, file: &str, fills: &[(&str, &str)]) -> (u64, Value) {
    let mut text = workspace_file(&format!("events/{file}"));
    for (placeholder, value) in fills {
        text = text.replace(placeholder, value);
    }
    let filled =
        std::env::temp_dir().join(format!("event-{}-{file}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&filled, text).expect("writing the filled-in event");
    let output = Command::new(cargo_lambda())
        .args(["lambda", "invoke", function, "--data-file"])
        .arg(&filled)
        .args([
            "-A",
            "127.0.0.1",
            "-P",
            &stack().watch_port.to_string(),
            "--output-format",
            "json",
        ])
        .output()
        .expect("cargo lambda invoke runs");
    let _ = std::fs::remove_file(&filled);
    assert!(
        output.status.success(),
        "cargo lambda invoke {function} {file}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let response: Value =
        serde_json::from_slice(&output.stdout).expect("invoke prints the function's response");
    let body =
        serde_json::from_str(response["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
    (response["statusCode"].as_u64().expect("a statusCode"), body)
}

#[tokio::test]
async fn every_event_file_gets_its_expected_status_from_cargo_lambda_invoke() {
    let app = TestApp::behind_gateway().await;
    let mut covered = BTreeSet::new();
    let mut check = |function: &str, file: &str, fills: &[(&str, &str)], status: u64| -> Value {
        let (got, body) = invoke(function, file, fills);
        assert_eq!(got, status, "events/{file} via {function}: {body}");
        covered.insert(file.to_owned());
        body
    };

    check("register", "register.json", &[], 201);
    check("register", "error-register-malformed-json.json", &[], 400);
    // A body that is not UTF-8 reaches the function base64-encoded from API
    // Gateway (cargo lambda watch answers such a request itself: docs/security.md, on the local gateway).
    let invalid = check("register", "error-register-invalid-utf8.json", &[], 400);
    assert_eq!(invalid["code"], "invalid_json");
    let unverified = check("login", "login.json", &[], 403);
    assert_eq!(unverified["code"], "email_not_verified");
    // Inside the minute of the registration's mail: answered, nothing sent.
    check(
        "request-verification-email",
        "request-verification-email.json",
        &[],
        200,
    );
    let verification_token = token_mailed_to(EMAIL, "verify-email");
    check(
        "verify-email",
        "verify-email.json",
        &[(VERIFICATION_TOKEN, &verification_token)],
        200,
    );
    let token = check("login", "login.json", &[], 200)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    check("login", "error-login-wrong-password.json", &[], 401);
    check("get-user", "get-user.json", &[(ACCESS_TOKEN, &token)], 200);
    check("get-user", "error-get-user-missing-token.json", &[], 401);
    check(
        "update-user",
        "update-user.json",
        &[(ACCESS_TOKEN, &token)],
        200,
    );
    check(
        "list-users",
        "list-users.json",
        &[(ACCESS_TOKEN, &token)],
        403,
    );
    app.admin(&["promote", EMAIL])
        .await
        .expect("promoting the events' account");
    check(
        "list-users",
        "list-users.json",
        &[(ACCESS_TOKEN, &token)],
        200,
    );
    check(
        "request-password-reset",
        "request-password-reset.json",
        &[],
        200,
    );
    let reset_token = reset_token_sent_to(EMAIL);
    check(
        "reset-password",
        "reset-password.json",
        &[(RESET_TOKEN, &reset_token)],
        200,
    );
    check("logout", "logout.json", &[(ACCESS_TOKEN, &token)], 401);
    let (token, refresh) = app.session_for(EMAIL, NEW_PASSWORD).await;
    let refreshed = check(
        "refresh-token",
        "refresh-token.json",
        &[(REFRESH_TOKEN, &refresh)],
        200,
    );
    assert_ne!(refreshed["refresh_token"].as_str(), Some(refresh.as_str()));
    let (other, _) = app.session_for(EMAIL, NEW_PASSWORD).await;
    let listed = check(
        "list-sessions",
        "list-sessions.json",
        &[(ACCESS_TOKEN, &token)],
        200,
    );
    let other_id = listed["sessions"]
        .as_array()
        .and_then(|sessions| sessions.iter().find(|s| s["current"] == false))
        .and_then(|session| session["id"].as_str())
        .expect("the other session")
        .to_owned();
    check(
        "end-session",
        "end-session.json",
        &[(ACCESS_TOKEN, &token), (SESSION_ID, &other_id)],
        200,
    );
    app.get_user(&other)
        .await
        .assert_error(401, "invalid_token");
    check(
        "logout",
        "logout-others.json",
        &[(ACCESS_TOKEN, &token)],
        200,
    );
    check("logout", "logout.json", &[(ACCESS_TOKEN, &token)], 200);
    let token = app.token_for(EMAIL, NEW_PASSWORD).await;
    let changed = check(
        "change-password",
        "change-password.json",
        &[(ACCESS_TOKEN, &token)],
        200,
    );
    let token = changed["token"].as_str().unwrap().to_owned();
    check(
        "update-user",
        "update-user-email.json",
        &[(ACCESS_TOKEN, &token)],
        202,
    );
    let cancel_token = token_mailed_to(EMAIL, "cancel-email-change");
    check(
        "confirm-email-change",
        "cancel-email-change.json",
        &[(CANCEL_TOKEN, &cancel_token)],
        200,
    );
    check(
        "update-user",
        "update-user-email.json",
        &[(ACCESS_TOKEN, &token)],
        202,
    );
    let change_token = token_mailed_to(NEW_EMAIL, "confirm-email-change");
    let moved = check(
        "confirm-email-change",
        "confirm-email-change.json",
        &[(EMAIL_CHANGE_TOKEN, &change_token)],
        200,
    );
    assert_eq!(moved["user"]["email"], NEW_EMAIL);
    check(
        "delete-user",
        "delete-user.json",
        &[(ACCESS_TOKEN, &token)],
        200,
    );
    let discovery = check(
        "well-known",
        "well-known-openid-configuration.json",
        &[],
        200,
    );
    assert_eq!(
        discovery["issuer"].as_str(),
        stack().config.jwt_issuer.as_deref()
    );
    let jwks = check("well-known", "well-known-jwks.json", &[], 200);
    assert_eq!(jwks["keys"][0]["kid"], stack().key_set.keys[0].kid.as_str());
    // An HTML page: its body is no JSON (the status is the check).
    check("pages", "pages.json", &[], 200);

    let files: BTreeSet<String> = std::fs::read_dir(workspace().join("events"))
        .expect("the events folder")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files, covered,
        "every file in events/ needs an expectation here"
    );
}
