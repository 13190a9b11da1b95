//! Least privilege, held both ways: `template.yaml` grants each function
//! exactly the DynamoDB actions and partition keys listed beside the store
//! code (`accounts::store::permissions`), and every DynamoDB request the
//! handlers really send, route by route through their success and failure
//! paths, falls inside that list. A new store call without its permission
//! fails here, not on AWS.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use accounts::store::permissions::{FUNCTION_GRANTS, Grant, Resource, allows};
use http_api::keys::PublishedKeys;
use serde_json::json;
use serde_norway::Value as Yaml;

use crate::harness::emulators::{library_paths, workspace_file};
use crate::harness::template;
use crate::harness::{NEW_PASSWORD, PASSWORD, TestApp, reset_token_sent_to, token_mailed_to};

/// One (action, resource) pair: `table LOGIN#*` or `index users_by_creation`.
type Permission = (String, String);

fn expand(actions: &[String], resources: &[String]) -> BTreeSet<Permission> {
    actions
        .iter()
        .flat_map(|action| {
            resources
                .iter()
                .map(move |resource| (action.clone(), resource.clone()))
        })
        .collect()
}

fn listed(grants: &[Grant]) -> BTreeSet<Permission> {
    grants
        .iter()
        .flat_map(|grant| {
            let actions: Vec<String> = grant.actions.iter().map(|a| (*a).to_owned()).collect();
            let resources: Vec<String> = match grant.resource {
                Resource::Table(keys) => keys.iter().map(|key| format!("table {key}")).collect(),
                Resource::UsersByCreationIndex => vec!["index users_by_creation".to_owned()],
            };
            expand(&actions, &resources)
        })
        .collect()
}

fn strings(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::String(one) => vec![one.clone()],
        Yaml::Sequence(many) => many
            .iter()
            .map(|item| item.as_str().expect("a string").to_owned())
            .collect(),
        other => panic!("expected a string or a list, got {other:?}"),
    }
}

/// The DynamoDB permissions a function's policies in template.yaml grant.
fn granted(function: &Yaml) -> BTreeSet<Permission> {
    let mut permissions = BTreeSet::new();
    for statement in policy_statements(function) {
        assert_eq!(statement["Effect"].as_str(), Some("Allow"));
        let actions: Vec<String> = strings(&statement["Action"])
            .into_iter()
            .filter(|action| action.starts_with("dynamodb:"))
            .collect();
        if actions.is_empty() {
            continue;
        }
        let resource = format!("{:?}", statement["Resource"]);
        let resources = if resource.contains("index/users_by_creation") {
            vec!["index users_by_creation".to_owned()]
        } else {
            assert!(
                resource.contains("UsersTable.Arn"),
                "a DynamoDB statement on the table or its index: {resource}"
            );
            let keys = &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
            assert!(
                !keys.is_null(),
                "every table statement is limited by dynamodb:LeadingKeys: {statement:?}"
            );
            strings(keys)
                .into_iter()
                .map(|key| format!("table {key}"))
                .collect()
        };
        permissions.extend(expand(&actions, &resources));
    }
    permissions
}

/// Every statement of a function resource's policies (none when it has no
/// `Policies`, as the pages function).
fn policy_statements(function: &Yaml) -> Vec<&Yaml> {
    function["Properties"]["Policies"]
        .as_sequence()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .flat_map(|policy| policy["Statement"].as_sequence().expect("Statement"))
        .collect()
}

/// The grants listed for `function` in `accounts::store::permissions`.
#[track_caller]
fn grants_of(function: &str) -> &'static [Grant] {
    FUNCTION_GRANTS
        .iter()
        .find(|(name, _)| *name == function)
        .map(|(_, grants)| *grants)
        .unwrap_or_else(|| panic!("{function} has no grants in accounts::store::permissions"))
}

#[test]
fn the_template_grants_each_function_exactly_the_listed_dynamodb_permissions() {
    let mut seen = BTreeSet::new();
    for (function, resource) in template::functions() {
        let grants = grants_of(&function);
        assert_eq!(
            granted(resource),
            listed(grants),
            "template.yaml's DynamoDB permissions of {function}"
        );
        seen.insert(function);
    }
    let listed: BTreeSet<String> = FUNCTION_GRANTS
        .iter()
        .map(|(f, _)| (*f).to_owned())
        .collect();
    assert_eq!(
        seen, listed,
        "the functions of template.yaml and of accounts::store::permissions"
    );
}

/// Security review 2026-12, L6: the functions that only handle sessions
/// (log in, refresh, list and end sessions) can write no user item, so
/// code running in one of them cannot make anyone an admin or change a
/// password hash. Logout's global form must still raise the user's token
/// version, its one write on a user item.
#[test]
fn the_functions_that_handle_only_sessions_cannot_write_a_user_item() {
    let writes = [
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
    ];
    let a_user_item = "USER#00000000-0000-0000-0000-000000000000";
    let a_session_item = "SESSIONS#00000000-0000-0000-0000-000000000000";
    for function in ["login", "refresh-token", "list-sessions", "end-session"] {
        let grants = grants_of(function);
        for action in writes {
            assert!(
                !allows(grants, action, a_user_item),
                "{function} may {action} a user item"
            );
        }
    }
    let logout = grants_of("logout");
    assert!(allows(logout, "dynamodb:UpdateItem", a_user_item));
    for action in ["dynamodb:PutItem", "dynamodb:DeleteItem"] {
        assert!(
            !allows(logout, action, a_user_item),
            "logout may {action} a user item"
        );
    }
    assert!(allows(logout, "dynamodb:DeleteItem", a_session_item));
}

/// The functions whose requests `assert_allowed` has checked, for the walk
/// to prove it left none of the template's out.
static CHECKED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Checks every DynamoDB request since the last check against `function`'s grants.
#[track_caller]
fn assert_allowed(app: &TestApp, function: &str) {
    CHECKED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(function.to_owned());
    let grants = grants_of(function);
    let calls = app.dynamodb_calls.take();
    assert!(!calls.is_empty(), "{function} made no DynamoDB request");
    for call in calls {
        for access in &call.accesses {
            let allowed = if call.operation == "Query" && access.pk == "users_by_creation" {
                grants.iter().any(|grant| {
                    grant.resource == Resource::UsersByCreationIndex
                        && grant.actions.contains(&"dynamodb:Query")
                })
            } else {
                allows(grants, &access.action, &access.pk)
            };
            assert!(
                allowed,
                "{function} sent {} needing {} on {:?}, which its grants do not allow",
                call.operation, access.action, access.pk
            );
        }
    }
}

#[tokio::test]
async fn every_dynamodb_request_of_every_route_is_within_its_functions_grants() {
    let mut app = TestApp::spawn().await;
    let ada = app.email("ada");
    let grace = app.email("grace");
    let nobody = app.email("nobody");

    app.dynamodb_calls.take();
    app.state.store.warm_up().await;
    let warm_up = app.dynamodb_calls.take();
    // Only the functions with a store warm it up (the pages have neither).
    for (function, grants) in FUNCTION_GRANTS.iter().filter(|(_, g)| !g.is_empty()) {
        for access in warm_up.iter().flat_map(|call| &call.accesses) {
            assert!(
                allows(grants, &access.action, &access.pk),
                "{function} may not perform its own cold-start warm-up"
            );
        }
    }

    app.register_unverified(&ada, PASSWORD, "Ada").await;
    app.register_unverified(&ada, PASSWORD, "Ada").await; // 409
    app.register_unverified(&grace, PASSWORD, "Grace").await;
    assert_allowed(&app, "register");

    let grace_id = app
        .state
        .store
        .find_by_email(&accounts::domain::Email::parse(&grace).unwrap())
        .await
        .unwrap()
        .unwrap()
        .user
        .id;
    app.set_numbers(&format!("USER#{grace_id}"), "USER", "verify_sends", &[1])
        .await;
    app.dynamodb_calls.take();
    app.request_verification(&grace).await.assert_ok(); // sent
    app.request_verification(&ada).await.assert_ok(); // within the minute
    app.request_verification(&nobody).await.assert_ok();
    assert_allowed(&app, "request-verification-email");

    for address in [&ada, &grace] {
        let token = token_mailed_to(address, "verify-email");
        app.verify_email(&token).await.assert_ok();
        app.verify_email(&token).await; // used
    }
    assert_allowed(&app, "verify-email");

    for _ in 0..6 {
        app.login(&ada, "definitely not it").await; // 401 x5, then 429
    }
    app.login(&nobody, "definitely not it").await;
    let token = app.token_for(&grace, PASSWORD).await;
    assert_allowed(&app, "login");

    app.get_user(&token).await.assert_ok();
    assert_allowed(&app, "get-user");

    app.update_user(&token, &json!({"name": "Grace H."}))
        .await
        .assert_ok();
    let moved = app.email("grace.hopper");
    app.update_user(
        &token,
        &json!({"email": moved, "current_password": "wrong"}),
    )
    .await; // 401
    app.update_user(
        &token,
        &json!({"email": moved, "current_password": PASSWORD}),
    )
    .await
    .assert_status(202);
    app.update_user(&token, &json!({"email": ada, "current_password": PASSWORD}))
        .await; // 409
    assert_allowed(&app, "update-user");

    let change_token = token_mailed_to(&moved, "confirm-email-change");
    app.confirm_email_change(&change_token).await.assert_ok();
    app.confirm_email_change(&change_token).await; // used
    assert_allowed(&app, "confirm-email-change");

    app.request_reset(&ada).await.assert_ok();
    app.request_reset(&ada).await.assert_ok(); // inside the resend window
    app.request_reset(&nobody).await.assert_ok();
    assert_allowed(&app, "request-password-reset");

    let reset_token = reset_token_sent_to(&ada);
    app.reset_password(&reset_token, NEW_PASSWORD)
        .await
        .assert_ok();
    app.reset_password(&reset_token, NEW_PASSWORD).await; // used
    assert_allowed(&app, "reset-password");

    app.list_users(&token, &[]).await; // 403
    app.admin(&["promote", &moved]).await.unwrap();
    app.dynamodb_calls.take();
    app.list_users(&token, &[("limit", "1")]).await.assert_ok();
    assert_allowed(&app, "list-users");

    // Boxed: the whole walk as one future would overflow a test thread's
    // stack in a debug build.
    Box::pin(session_routes_within_their_grants(&app, &token, &moved)).await;

    let grace_token = app.token_for(&moved, PASSWORD).await;
    app.dynamodb_calls.take();
    app.change_password(&grace_token, "not it", NEW_PASSWORD)
        .await; // 401
    app.change_password(&grace_token, PASSWORD, NEW_PASSWORD)
        .await
        .assert_ok();
    assert_allowed(&app, "change-password");

    let ada_token = app.token_for(&ada, NEW_PASSWORD).await;
    app.request_reset(&ada).await.assert_ok();
    app.dynamodb_calls.take();
    app.delete_user(&ada_token).await.assert_ok();
    assert_allowed(&app, "delete-user");

    // As after a cold start: the key set is read before it is served.
    app.state.keys = PublishedKeys::read_ago(app.key_set.clone(), Duration::from_secs(301));
    app.discovery().await.assert_ok();
    app.jwks().await.assert_ok();
    assert_allowed(&app, "well-known");

    let checked = CHECKED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let unchecked: Vec<String> = template::function_names()
        .into_iter()
        .filter(|function| !grants_of(function).is_empty() && !checked.contains(function))
        .collect();
    assert!(
        unchecked.is_empty(),
        "the permissions walk (tests/api/permissions.rs) sends no request to {unchecked:?} of template.yaml"
    );
}

/// Refresh, the session list, ending one, and the logout scopes, each
/// checked against its function's grants.
async fn session_routes_within_their_grants(app: &TestApp, token: &str, email: &str) {
    let (_, refresh) = app.session_for(email, PASSWORD).await;
    app.dynamodb_calls.take();
    let next = app.refresh(&refresh).await;
    let next = next.assert_ok()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.refresh(&refresh).await.assert_ok(); // retry
    app.refresh(&next).await.assert_ok();
    app.refresh(&refresh).await; // reused
    app.refresh("not a token").await; // 401, no read
    assert_allowed(app, "refresh-token");

    let sessions = app.sessions(token).await;
    let own_id = sessions.assert_ok()["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_allowed(app, "list-sessions");

    let (other, _) = app.session_for(email, PASSWORD).await;
    app.dynamodb_calls.take();
    app.end_session(&other, &own_id).await.assert_ok();
    app.end_session(&other, &own_id).await; // 404
    assert_allowed(app, "end-session");

    let token = app.token_for(email, PASSWORD).await;
    app.dynamodb_calls.take();
    app.logout_scope(&token, "others").await.assert_ok();
    app.logout_scope(&token, "global").await.assert_ok();
    assert_allowed(app, "logout");
    let token = app.token_for(email, PASSWORD).await;
    app.dynamodb_calls.take();
    app.logout(&token).await.assert_ok();
    app.logout(&token).await; // 401
    assert_allowed(app, "logout");
}

/// The functions that sign tokens: the only ones that may read the secret
/// with the private keys.
const SIGNERS: [&str; 3] = ["login", "refresh-token", "change-password"];

/// The functions that send mail: the only ones that may call SES.
const MAILERS: [&str; 7] = [
    "register",
    "request-password-reset",
    "reset-password",
    "request-verification-email",
    "update-user",
    "change-password",
    // The old address is told when an email change is made.
    "confirm-email-change",
];

#[test]
fn only_the_functions_that_send_mail_may_call_ses_only_send_and_only_as_the_sender() {
    let mut mailers = BTreeSet::new();
    for (function, resource) in template::functions() {
        let ses_actions: Vec<String> = policy_statements(resource)
            .into_iter()
            .flat_map(|statement| strings(&statement["Action"]))
            .filter(|action| action.starts_with("ses:"))
            .collect();
        if !ses_actions.is_empty() {
            assert_eq!(ses_actions, ["ses:SendEmail"], "{function}");
            // Only as the configured sender (security review 2026-12, L7).
            for statement in policy_statements(resource) {
                if strings(&statement["Action"])
                    .iter()
                    .any(|a| a.starts_with("ses:"))
                {
                    let condition = format!(
                        "{:?}",
                        statement["Condition"]["StringEquals"]["ses:FromAddress"]
                    );
                    assert!(
                        condition.contains("SesFromAddress"),
                        "{function}: {condition}"
                    );
                }
            }
            mailers.insert(function);
        }
    }
    assert_eq!(mailers, MAILERS.iter().map(|m| (*m).to_owned()).collect());
}

#[test]
fn only_the_signing_functions_may_read_the_private_keys_and_the_session_secret() {
    let mut signers = BTreeSet::new();
    for (function, resource) in template::functions() {
        let statements: Vec<&Yaml> = policy_statements(resource)
            .into_iter()
            .filter(|statement| {
                strings(&statement["Action"])
                    .iter()
                    .any(|action| action.starts_with("secretsmanager:"))
            })
            .collect();
        let variable =
            &resource["Properties"]["Environment"]["Variables"]["SIGNING_KEYS_SECRET_ID"];
        if statements.is_empty() {
            assert!(
                variable.is_null(),
                "{function} names the key secret but may not read it"
            );
            continue;
        }
        assert_eq!(statements.len(), 1, "{function}: {statements:?}");
        assert_eq!(
            strings(&statements[0]["Action"]),
            ["secretsmanager:GetSecretValue"],
            "{function} may only read the key secret"
        );
        let resource_text = format!("{:?}", statements[0]["Resource"]);
        assert!(
            resource_text.contains("SigningKeys") && resource_text.contains("SessionKeySecret"),
            "{function} reads the private keys and the session secret: {resource_text}"
        );
        assert!(
            format!("{variable:?}").contains("SigningKeys"),
            "{function}: {variable:?}"
        );
        let session_variable =
            &resource["Properties"]["Environment"]["Variables"]["SESSION_KEY_SECRET_ID"];
        assert!(
            format!("{session_variable:?}").contains("SessionKeySecret"),
            "{function}: {session_variable:?}"
        );
        signers.insert(function);
    }
    assert_eq!(signers, BTreeSet::from(SIGNERS.map(str::to_owned)));
    let text = workspace_file("template.yaml");
    assert!(!text.to_lowercase().contains("jwt_secret"));
}

/// The template's resource named `logical_id`.
fn template_resource(logical_id: &str) -> Yaml {
    let resource = template::document()["Resources"][logical_id].clone();
    assert!(!resource.is_null(), "template.yaml has no {logical_id}");
    resource
}

/// The principals a Deny statement of a secret's resource policy spares.
fn spared_by(statement: &Yaml) -> String {
    assert_eq!(statement["Effect"].as_str(), Some("Deny"), "{statement:?}");
    assert_eq!(statement["Principal"].as_str(), Some("*"), "{statement:?}");
    format!(
        "{:?}",
        statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    )
}

/// An account-wide `secretsmanager:GetSecretValue` (an admin's, CI's) does
/// not read the private keys or the session secret (security review
/// 2026-12, L7): both are sealed by a key usable only through Secrets
/// Manager, by principals granted `kms:Decrypt` on it (the signers), and
/// their resource policies deny every reader but the signers and the key
/// admins, and every writer but the key admins.
#[test]
fn the_secrets_are_sealed_by_their_own_key_and_refuse_every_other_reader() {
    let key = template_resource("SecretsKey");
    assert_eq!(key["Type"].as_str(), Some("AWS::KMS::Key"));
    for statement in key["Properties"]["KeyPolicy"]["Statement"]
        .as_sequence()
        .expect("a key policy")
    {
        assert!(
            format!("{:?}", statement["Principal"]["AWS"]).contains(":root"),
            "only the account is named in the key policy: {statement:?}"
        );
        let actions = strings(&statement["Action"]);
        // A grant hands the key's use to anyone, with no condition.
        for delegating in ["kms:*", "kms:Create*", "kms:CreateGrant"] {
            assert!(
                !actions.iter().any(|action| action == delegating),
                "{delegating}"
            );
        }
        let cryptographic = actions.iter().any(|action| {
            [
                "kms:Decrypt",
                "kms:Encrypt",
                "kms:GenerateDataKey",
                "kms:ReEncrypt",
            ]
            .iter()
            .any(|use_of_the_key| action.starts_with(use_of_the_key))
        });
        if cryptographic {
            assert!(
                format!(
                    "{:?}",
                    statement["Condition"]["StringEquals"]["kms:ViaService"]
                )
                .contains("secretsmanager."),
                "the key is used only through Secrets Manager: {statement:?}"
            );
        }
    }
    for secret in ["SigningKeys", "SessionKeySecret"] {
        let resource = template_resource(secret);
        assert!(
            format!("{:?}", resource["Properties"]["KmsKeyId"]).contains("SecretsKey"),
            "{secret} is encrypted with SecretsKey"
        );
        let policy = template_resource(&format!("{secret}Access"));
        assert_eq!(
            policy["Type"].as_str(),
            Some("AWS::SecretsManager::ResourcePolicy")
        );
        assert!(format!("{:?}", policy["Properties"]["SecretId"]).contains(secret));
        let statements = policy["Properties"]["ResourcePolicy"]["Statement"]
            .as_sequence()
            .expect("a resource policy");
        let [read, change] = statements.as_slice() else {
            panic!("{secret}: a read and a change statement: {statements:?}");
        };
        assert_eq!(strings(&read["Action"]), ["secretsmanager:GetSecretValue"]);
        let readers = spared_by(read);
        let writers = spared_by(change);
        for role in [
            "LoginFunctionRole",
            "RefreshTokenFunctionRole",
            "ChangePasswordFunctionRole",
        ] {
            assert!(readers.contains(role), "{secret}: {role} reads");
            assert!(!writers.contains(role), "{secret}: {role} does not write");
        }
        assert_eq!(
            readers.matches("FunctionRole").count(),
            SIGNERS.len(),
            "{readers}"
        );
        for admins in [readers, writers] {
            assert!(admins.contains("KeyAdminArns") && admins.contains(":root"));
        }
        let changes = strings(&change["Action"]);
        for action in [
            "secretsmanager:PutSecretValue",
            "secretsmanager:UpdateSecret",
            "secretsmanager:UpdateSecretVersionStage",
            "secretsmanager:PutResourcePolicy",
            "secretsmanager:DeleteResourcePolicy",
        ] {
            assert!(
                changes.iter().any(|denied| denied == action),
                "{secret}: {action}"
            );
        }
    }
    let mut decrypters = BTreeSet::new();
    for (function, resource) in template::functions() {
        for statement in policy_statements(resource) {
            let actions = strings(&statement["Action"]);
            if actions.iter().any(|action| action.starts_with("kms:")) {
                assert_eq!(actions, ["kms:Decrypt"], "{function}");
                assert!(format!("{:?}", statement["Resource"]).contains("SecretsKey"));
                assert!(
                    format!(
                        "{:?}",
                        statement["Condition"]["StringEquals"]["kms:ViaService"]
                    )
                    .contains("secretsmanager."),
                    "{function}"
                );
                decrypters.insert(function.clone());
            }
        }
    }
    assert_eq!(decrypters, BTreeSet::from(SIGNERS.map(str::to_owned)));
}

fn manifest(package_dir: &str) -> toml::Table {
    let file = format!("{package_dir}/Cargo.toml");
    workspace_file(&file)
        .parse()
        .unwrap_or_else(|error| panic!("{file}: {error}"))
}

/// What a function links agrees with its policy: the SES mailer only where
/// mail may be sent, the private keys only where they may be read. And no
/// crate of ours has features, nor does a function choose any: `sam build`
/// builds each function alone and must find the binary that `make
/// package` built for all of them in one run, which `make bench` measured
/// (`make package` fails when it does not).
#[test]
fn each_function_links_what_its_policy_allows_and_chooses_no_features() {
    let libraries = library_paths();
    assert!(
        libraries
            .iter()
            .any(|library| library == "shared/token-issuer"),
        "{libraries:?}"
    );
    for library in &libraries {
        assert!(
            manifest(library).get("features").is_none(),
            "{library} declares features"
        );
    }
    for function in template::function_names() {
        let function = function.as_str();
        let manifest = manifest(&format!("functions/{function}"));
        assert!(manifest.get("features").is_none(), "{function}");
        let dependencies = manifest["dependencies"]
            .as_table()
            .unwrap_or_else(|| panic!("{function}: [dependencies]"));
        for (name, spec) in dependencies {
            assert!(
                spec.get("features").is_none(),
                "{function} chooses features of {name}: set them in [workspace.dependencies]"
            );
        }
        assert_eq!(
            dependencies.contains_key("mailer"),
            MAILERS.contains(&function),
            "{function} and the mailer"
        );
        assert_eq!(
            dependencies.contains_key("token-issuer"),
            SIGNERS.contains(&function),
            "{function} and token-issuer"
        );
        assert!(
            !dependencies.contains_key("signing-keys"),
            "{function} reaches the private keys only through token-issuer"
        );
    }
}
