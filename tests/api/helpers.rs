//! `TestApp`: a fresh table in DynamoDB Local, the real handlers called
//! in-process with `lambda_http::Request`s, the SES emulator's mailbox, and
//! typed helpers for each route.

use std::collections::HashMap;

use accounts::Config;
use accounts::error::cause_chain;
use accounts::store::{UserStore, schema};
use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use http_api::AppState;
use lambda_http::http::{HeaderMap, Method};
use lambda_http::{Body, Request, RequestExt};
use mailer::Mailer;
use request_password_reset::ResetRequestState;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::dynamodb_calls::CallLog;
use crate::emulators::emulators;

pub const PASSWORD: &str = "correct horse battery staple";
pub const NEW_PASSWORD: &str = "a brand new passphrase";

#[derive(Clone, Debug)]
pub enum Route {
    Register,
    Login,
    Logout,
    RequestReset,
    ResetPassword(String),
    GetUser,
    UpdateUser,
    DeleteUser,
    ListUsers(Vec<(&'static str, String)>),
}

impl Route {
    fn method_and_path(&self) -> (Method, String) {
        let path = |p: &str| format!("/v1/api/{p}");
        match self {
            Route::Register => (Method::POST, path("register")),
            Route::Login => (Method::POST, path("login")),
            Route::Logout => (Method::POST, path("logout")),
            Route::RequestReset => (Method::POST, path("reset_password")),
            Route::ResetPassword(token) => (Method::POST, path(&format!("reset_password/{token}"))),
            Route::GetUser => (Method::GET, path("user")),
            Route::UpdateUser => (Method::PUT, path("user")),
            Route::DeleteUser => (Method::DELETE, path("user")),
            Route::ListUsers(_) => (Method::GET, path("users")),
        }
    }

    /// The five routes that take a bearer token, each with a body it accepts.
    pub fn authenticated() -> Vec<(Route, Value)> {
        vec![
            (Route::Logout, Value::Null),
            (Route::GetUser, Value::Null),
            (Route::UpdateUser, json!({"name": "New Name"})),
            (Route::DeleteUser, Value::Null),
            (Route::ListUsers(vec![]), Value::Null),
        ]
    }
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl TestResponse {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    /// The response is the contract's error body with this status and code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            self.status, status,
            "unexpected status, body: {}",
            self.text
        );
        assert_eq!(self.code(), code, "unexpected code, body: {}", self.text);
        assert!(
            self.body["error"]
                .as_str()
                .is_some_and(|message| !message.is_empty()),
            "an error body has a human message: {}",
            self.text
        );
        self.assert_standard_headers();
    }

    #[track_caller]
    pub fn assert_ok(&self) {
        assert_eq!(self.status, 200, "{}", self.text);
        self.assert_standard_headers();
    }

    #[track_caller]
    pub fn assert_standard_headers(&self) {
        assert_eq!(self.headers["content-type"], "application/json");
        assert_eq!(self.headers["cache-control"], "no-store");
    }
}

pub struct TestApp {
    pub state: AppState,
    pub reset_state: ResetRequestState,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// Every DynamoDB request the handlers (not `items`, `snapshot` and
    /// the other direct reads and edits) sent.
    pub dynamodb_calls: CallLog,
    pub table: String,
    /// Makes this test's email addresses unique in the SES emulator, whose
    /// mailbox every test of the run shares.
    tag: String,
}

impl TestApp {
    /// A new app on a table of its own, so tests never see each other's data.
    pub async fn spawn() -> Self {
        let emulators = emulators();
        let dynamodb =
            aws_sdk_dynamodb::Client::new(&sdk_config(&emulators.dynamodb_endpoint).await);
        let tag = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let table = format!("users-{tag}");
        schema::create_table(&dynamodb, &table)
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "creating the test table failed: {}",
                    cause_chain(error.as_ref())
                )
            });
        let config = Config {
            table_name: table,
            jwt_secret: SecretString::from(format!(
                "test-secret-{}",
                uuid::Uuid::new_v4().simple()
            )),
            jwt_issuer: "user-api".into(),
            access_token_ttl_seconds: 3600,
        };
        Self::assemble(
            config,
            dynamodb,
            &emulators.dynamodb_endpoint,
            &emulators.ses_endpoint,
            tag,
        )
        .await
    }

    /// The same app (table, secret, data) with its handlers reaching
    /// DynamoDB and SES at other endpoints: a closed port stands in for an
    /// outage. `items` and `snapshot` still read the real table.
    pub async fn with_endpoints(&self, dynamodb_endpoint: &str, ses_endpoint: &str) -> Self {
        let config = self.state.config.clone();
        Self::assemble(
            config,
            self.dynamodb.clone(),
            dynamodb_endpoint,
            ses_endpoint,
            self.tag.clone(),
        )
        .await
    }

    async fn assemble(
        config: Config,
        dynamodb: aws_sdk_dynamodb::Client,
        dynamodb_endpoint: &str,
        ses_endpoint: &str,
        tag: String,
    ) -> Self {
        let aws = sdk_config(dynamodb_endpoint).await;
        let table = config.table_name.clone();
        let dynamodb_calls = CallLog::default();
        let handlers_dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&aws)
                .interceptor(dynamodb_calls.clone())
                .build(),
        );
        let reset_state = ResetRequestState {
            store: UserStore::new(handlers_dynamodb.clone(), &table),
            mailer: Mailer::new(
                &sdk_config(ses_endpoint).await,
                "no-reply@example.com".into(),
                Some("https://app.example.com/reset".into()),
            ),
            token_ttl_seconds: 1800,
        };
        Self {
            state: AppState::new(config, handlers_dynamodb),
            reset_state,
            dynamodb,
            dynamodb_calls,
            table,
            tag,
        }
    }

    /// An address unique to this test: `ada` becomes `ada-<tag>@example.com`.
    pub fn email(&self, local: &str) -> String {
        format!("{local}-{}@example.com", self.tag)
    }

    pub async fn call(&self, route: &Route, request: Request) -> TestResponse {
        let response = match route {
            Route::Register => register::handler(&self.state, request).await,
            Route::Login => login::handler(&self.state, request).await,
            Route::Logout => logout::handler(&self.state, request).await,
            Route::RequestReset => {
                request_password_reset::handler(&self.reset_state, request).await
            }
            Route::ResetPassword(_) => reset_password::handler(&self.state, request).await,
            Route::GetUser => get_user::handler(&self.state, request).await,
            Route::UpdateUser => update_user::handler(&self.state, request).await,
            Route::DeleteUser => delete_user::handler(&self.state, request).await,
            Route::ListUsers(_) => list_users::handler(&self.state, request).await,
        }
        .expect("handlers answer every request with a response, never an Err");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = String::from_utf8(response.body().to_vec()).expect("responses are UTF-8");
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("response is not JSON ({error}): {text:?}"));
        TestResponse {
            status,
            headers,
            text,
            body,
        }
    }

    /// A request to `route` with the given headers and raw body, carrying the
    /// path and query parameters API Gateway would extract.
    pub fn request(route: &Route, headers: &[(&str, &str)], body: impl Into<Body>) -> Request {
        let (method, path) = route.method_and_path();
        let mut builder = lambda_http::http::Request::builder()
            .method(method)
            .uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(body.into())
            .expect("a well-formed test request");
        match route {
            Route::ResetPassword(token) => {
                request.with_path_parameters(HashMap::from([("token".to_owned(), token.clone())]))
            }
            Route::ListUsers(query) => {
                let mut parameters: HashMap<String, Vec<String>> = HashMap::new();
                for (name, value) in query {
                    parameters
                        .entry((*name).to_owned())
                        .or_default()
                        .push(value.clone());
                }
                request.with_query_string_parameters(parameters)
            }
            _ => request,
        }
    }

    /// `route` with a JSON body (none for `Value::Null`) and, if given, a bearer token.
    pub async fn send(&self, route: &Route, token: Option<&str>, body: &Value) -> TestResponse {
        let authorization = token.map(|token| format!("Bearer {token}"));
        let mut headers = vec![];
        if let Some(authorization) = &authorization {
            headers.push(("authorization", authorization.as_str()));
        }
        let body = if body.is_null() {
            Body::Empty
        } else {
            headers.push(("content-type", "application/json"));
            Body::from(body.to_string())
        };
        self.call(route, Self::request(route, &headers, body)).await
    }

    pub async fn post_json(&self, route: Route, body: &Value) -> TestResponse {
        self.send(&route, None, body).await
    }

    pub async fn register(&self, email: &str, password: &str, name: &str) -> TestResponse {
        self.post_json(
            Route::Register,
            &json!({"email": email, "password": password, "name": name}),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> TestResponse {
        self.post_json(Route::Login, &json!({"email": email, "password": password}))
            .await
    }

    /// Logs in with the right password; returns the token.
    pub async fn token_for(&self, email: &str, password: &str) -> String {
        let login = self.login(email, password).await;
        assert_eq!(login.status, 200, "{}", login.text);
        login.body["token"].as_str().expect("a token").to_owned()
    }

    /// Registers an account and logs it in; returns its token.
    pub async fn registered_token(&self, email: &str) -> String {
        let registered = self.register(email, PASSWORD, "Test User").await;
        assert_eq!(registered.status, 201, "{}", registered.text);
        self.token_for(email, PASSWORD).await
    }

    pub async fn get_user(&self, token: &str) -> TestResponse {
        self.send(&Route::GetUser, Some(token), &Value::Null).await
    }

    /// The id of the token's user, read through the API.
    pub async fn user_id(&self, token: &str) -> String {
        let response = self.get_user(token).await;
        response.body["user"]["id"]
            .as_str()
            .expect("a user id")
            .to_owned()
    }

    pub async fn logout(&self, token: &str) -> TestResponse {
        self.send(&Route::Logout, Some(token), &Value::Null).await
    }

    pub async fn update_user(&self, token: &str, body: &Value) -> TestResponse {
        self.send(&Route::UpdateUser, Some(token), body).await
    }

    pub async fn delete_user(&self, token: &str) -> TestResponse {
        self.send(&Route::DeleteUser, Some(token), &Value::Null)
            .await
    }

    pub async fn list_users(&self, token: &str, query: &[(&'static str, &str)]) -> TestResponse {
        let query = query
            .iter()
            .map(|(name, value)| (*name, (*value).to_owned()))
            .collect();
        self.send(&Route::ListUsers(query), Some(token), &Value::Null)
            .await
    }

    pub async fn request_reset(&self, email: &str) -> TestResponse {
        self.post_json(Route::RequestReset, &json!({"email": email}))
            .await
    }

    pub async fn reset_password(&self, token: &str, password: &str) -> TestResponse {
        self.post_json(
            Route::ResetPassword(token.to_owned()),
            &json!({"password": password}),
        )
        .await
    }

    /// Runs a `users-admin` command against this test's table.
    pub async fn admin(&self, args: &[&str]) -> Result<String, users_admin::Failure> {
        users_admin::execute(args, &self.dynamodb, &self.table).await
    }

    /// Every item of the test table, read straight from DynamoDB.
    pub async fn items(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scanning the test table");
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }

    /// Every item, printed and sorted: equal snapshots mean nothing was written.
    pub async fn snapshot(&self) -> Vec<String> {
        let mut items: Vec<String> = self
            .items()
            .await
            .iter()
            .map(|item| {
                let mut attributes: Vec<String> =
                    item.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                attributes.sort();
                attributes.join(" ")
            })
            .collect();
        items.sort();
        items
    }

    /// How many items of each kind (`sk`, or its prefix before `#`) the table holds.
    pub async fn count_items(&self, kind: &str) -> usize {
        self.items()
            .await
            .iter()
            .filter_map(|item| item.get("sk").and_then(|sk| sk.as_s().ok()))
            .filter(|sk| sk.split('#').next() == Some(kind))
            .count()
    }

    /// Removes an attribute of an item directly, to stand in for corrupt data.
    pub async fn remove_attribute(&self, pk: &str, sk: &str, attribute: &str) {
        self.dynamodb
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .update_expression("REMOVE #a")
            .expression_attribute_names("#a", attribute)
            .send()
            .await
            .expect("updating an item directly");
    }

    /// Sets an attribute of an item directly, to stand in for time passing.
    pub async fn set_number(&self, pk: &str, sk: &str, attribute: &str, value: u64) {
        self.dynamodb
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .update_expression("SET #a = :v")
            .expression_attribute_names("#a", attribute)
            .expression_attribute_values(":v", AttributeValue::N(value.to_string()))
            .send()
            .await
            .expect("updating an item directly");
    }
}

pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    accounts::sdk::defaults()
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "integration-tests",
        ))
        .load()
        .await
}

/// The emails the SES emulator received for `address`, oldest first.
pub fn emails_to(address: &str) -> Vec<Value> {
    let store = crate::http_client::get_json(&emulators().ses_endpoint, "/store");
    store["emails"]
        .as_array()
        .expect("the SES emulator's store lists emails")
        .iter()
        .filter(|email| {
            email["destination"]["to"]
                .as_array()
                .is_some_and(|to| to.iter().any(|to| to == address))
        })
        .cloned()
        .collect()
}

/// The reset token in the last email sent to `address`.
#[track_caller]
pub fn reset_token_sent_to(address: &str) -> String {
    let emails = emails_to(address);
    let email = emails
        .last()
        .unwrap_or_else(|| panic!("no email was sent to {address}"));
    let text = email["body"]["text"].as_str().expect("a text part");
    let (_, after) = text
        .split_once("Your reset token: ")
        .expect("the token line");
    after.split_whitespace().next().expect("a token").to_owned()
}
