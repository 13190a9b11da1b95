//! One contract, proven: the routes of `template.yaml` (what deploys, and
//! what the local gateway of `make dev` and the black-box tests serve),
//! `openapi.yaml` (what clients read) and `events/` (what `sam local
//! invoke` replays) must name the same method + path + function; and the table `template.yaml` deploys must be
//! the one `accounts::store::schema` creates for the tests and `make dev`.

use std::collections::BTreeSet;

use accounts::store::schema;
use serde_norway::Value as Yaml;

use crate::harness::emulators::{workspace, workspace_file};
use crate::harness::template::{self, Route};

fn yaml(file: &str) -> Yaml {
    serde_norway::from_str(&workspace_file(file)).unwrap_or_else(|error| panic!("{file}: {error}"))
}

fn text(value: &Yaml) -> String {
    value
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{value:?}"))
}

fn openapi_routes() -> BTreeSet<Route> {
    let openapi = yaml("openapi.yaml");
    let mut routes = BTreeSet::new();
    for (path, item) in openapi["paths"].as_mapping().expect("paths") {
        for (method, operation) in item.as_mapping().expect("a path item") {
            let function = operation["x-function"]
                .as_str()
                .unwrap_or_else(|| panic!("{path:?} {method:?} has no x-function"));
            routes.insert((text(method).to_uppercase(), text(path), function.to_owned()));
        }
    }
    routes
}

/// The `METHOD path` of every event file.
fn event_route_keys() -> BTreeSet<String> {
    std::fs::read_dir(workspace().join("events"))
        .expect("the events folder")
        .filter_map(Result::ok)
        .map(|entry| {
            let event: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(entry.path()).expect("an event file"),
            )
            .expect("JSON");
            assert_eq!(
                event["version"],
                "2.0",
                "{:?} is an HTTP API payload 2.0 event",
                entry.path()
            );
            event["routeKey"].as_str().expect("a routeKey").to_owned()
        })
        .collect()
}

/// What differs between two route sets, as a readable message.
fn mismatch(
    left_name: &str,
    left: &BTreeSet<Route>,
    right_name: &str,
    right: &BTreeSet<Route>,
) -> Option<String> {
    let only_left: Vec<_> = left.difference(right).collect();
    let only_right: Vec<_> = right.difference(left).collect();
    (!only_left.is_empty() || !only_right.is_empty()).then(|| {
        format!("routes differ: only in {left_name}: {only_left:?}; only in {right_name}: {only_right:?}")
    })
}

#[test]
fn template_openapi_and_events_name_the_same_routes() {
    let template = template::routes();
    if let Some(problem) = mismatch(
        "template.yaml",
        &template,
        "openapi.yaml",
        &openapi_routes(),
    ) {
        panic!("{problem}");
    }

    let route_keys = template::route_keys();
    let events = event_route_keys();
    let without_event: Vec<_> = route_keys.difference(&events).collect();
    let unknown: Vec<_> = events.difference(&route_keys).collect();
    assert!(
        without_event.is_empty() && unknown.is_empty(),
        "events/ and template.yaml differ: routes without an event: {without_event:?}; events of no route: {unknown:?}"
    );
}

#[test]
fn every_function_package_is_deployed_and_nothing_else() {
    let packages: BTreeSet<String> = std::fs::read_dir(workspace().join("functions"))
        .expect("the functions folder")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    let deployed: BTreeSet<String> = template::routes()
        .into_iter()
        .map(|(_, _, function)| function)
        .collect();
    assert_eq!(packages, deployed, "functions/ and template.yaml");
}

fn strings(value: &Yaml) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| items.iter().map(text).collect())
        .unwrap_or_default()
}

fn key_schema(value: &Yaml) -> Vec<(String, String)> {
    value
        .as_sequence()
        .expect("a KeySchema")
        .iter()
        .map(|key| (text(&key["AttributeName"]), text(&key["KeyType"])))
        .collect()
}

#[test]
fn the_deployed_table_is_the_one_the_code_creates() {
    let template = template::document();
    let table = &template["Resources"]["UsersTable"];
    assert_eq!(table["Type"].as_str(), Some("AWS::DynamoDB::Table"));
    let properties = &table["Properties"];
    let pair = |name: &str, kind: &str| (name.to_owned(), kind.to_owned());

    assert_eq!(text(&properties["BillingMode"]), "PAY_PER_REQUEST");
    assert_eq!(
        key_schema(&properties["KeySchema"]),
        [
            pair(schema::PARTITION_KEY, "HASH"),
            pair(schema::SORT_KEY, "RANGE")
        ],
        "the table's keys"
    );
    let attributes: BTreeSet<(String, String)> = properties["AttributeDefinitions"]
        .as_sequence()
        .expect("AttributeDefinitions")
        .iter()
        .map(|attribute| {
            (
                text(&attribute["AttributeName"]),
                text(&attribute["AttributeType"]),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        schema::PARTITION_KEY,
        schema::SORT_KEY,
        schema::INDEX_PARTITION_KEY,
        schema::INDEX_SORT_KEY,
    ]
    .into_iter()
    .map(|name| pair(name, "S"))
    .collect();
    assert_eq!(attributes, expected, "the attribute definitions");

    let indexes = properties["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("GlobalSecondaryIndexes");
    assert_eq!(indexes.len(), 1, "one index");
    let index = &indexes[0];
    assert_eq!(text(&index["IndexName"]), schema::USERS_BY_CREATION_INDEX);
    assert_eq!(
        key_schema(&index["KeySchema"]),
        [
            pair(schema::INDEX_PARTITION_KEY, "HASH"),
            pair(schema::INDEX_SORT_KEY, "RANGE")
        ],
        "the index's keys"
    );
    assert_eq!(text(&index["Projection"]["ProjectionType"]), "INCLUDE");
    assert_eq!(
        strings(&index["Projection"]["NonKeyAttributes"]),
        schema::INDEX_PROJECTED_ATTRIBUTES,
        "the index projection"
    );

    assert_eq!(
        text(&properties["TimeToLiveSpecification"]["AttributeName"]),
        schema::TTL_ATTRIBUTE
    );
    assert_eq!(
        properties["TimeToLiveSpecification"]["Enabled"].as_bool(),
        Some(true)
    );
}

#[test]
fn the_sensitive_routes_share_the_tight_throttle() {
    let template = template::document();
    let settings = &template["Resources"]["HttpApi"]["Properties"]["RouteSettings"];
    for route in [
        "POST /v1/api/register",
        "POST /v1/api/login",
        "POST /v1/api/reset_password",
        "POST /v1/api/reset_password/{token}",
        // 409 for a taken address would otherwise list addresses at 100/s.
        "PUT /v1/api/user",
    ] {
        let setting = &settings[route];
        assert_eq!(
            text(&setting["ThrottlingRateLimit"]),
            text(&serde_norway::from_str::<Yaml>("!Ref SensitiveRouteRateLimit").unwrap()),
            "{route}"
        );
        assert_eq!(
            text(&setting["ThrottlingBurstLimit"]),
            text(&serde_norway::from_str::<Yaml>("!Ref SensitiveRouteBurstLimit").unwrap()),
            "{route}"
        );
    }
}

#[test]
fn every_example_in_openapi_passes_the_field_rules() {
    use accounts::domain::{Email, Password, UserName};
    use secrecy::SecretString;

    let openapi = yaml("openapi.yaml");
    let schemas = &openapi["components"]["schemas"];
    let examples = |name: &str| -> Vec<String> {
        let found = strings(&schemas[name]["examples"]);
        assert!(!found.is_empty(), "{name} has examples");
        found
    };
    for email in examples("Email") {
        assert!(Email::parse(&email).is_ok(), "example email {email:?}");
    }
    for name in examples("Name") {
        assert!(UserName::parse(&name).is_ok(), "example name {name:?}");
    }
    let email = Email::parse(&examples("Email")[0]).unwrap();
    for password in examples("Password") {
        assert!(
            Password::parse(SecretString::from(password.clone()), Some(&email)).is_ok(),
            "example password {password:?}"
        );
    }
    for token in examples("MailedToken") {
        assert!(
            accounts::mail_token::is_well_formed(&token),
            "example mailed token {token:?}"
        );
    }
}

#[test]
fn the_mailed_token_schema_admits_exactly_the_tokens_the_api_issues() {
    let openapi = yaml("openapi.yaml");
    for path in [
        "/v1/api/reset_password/{token}",
        "/v1/api/verify_email/{token}",
        "/v1/api/confirm_email_change/{token}",
    ] {
        let parameter = &openapi["paths"][path]["post"]["parameters"][0];
        assert_eq!(
            text(&parameter["schema"]["$ref"]),
            "#/components/schemas/MailedToken",
            "{path}"
        );
    }
    let schema = &openapi["components"]["schemas"]["MailedToken"];
    let issued =
        secrecy::ExposeSecret::expose_secret(&accounts::mail_token::generate().unwrap()).to_owned();
    assert_eq!(schema["minLength"].as_u64(), Some(issued.len() as u64));
    assert_eq!(schema["maxLength"].as_u64(), Some(issued.len() as u64));
    assert_eq!(text(&schema["pattern"]), "^[A-Za-z0-9_-]{43}$");
    assert!(accounts::mail_token::is_well_formed(&issued));
    assert!(!accounts::mail_token::is_well_formed("0"));
}

#[test]
fn the_refresh_token_schema_states_the_length_the_api_issues() {
    let openapi = yaml("openapi.yaml");
    let schema = &openapi["components"]["schemas"]["SessionTokens"]["properties"]["refresh_token"];
    assert_eq!(
        text(&schema["pattern"]),
        format!(
            "^[A-Za-z0-9_-]{{{}}}$",
            accounts::refresh_token::TOKEN_CHARS
        )
    );
}
