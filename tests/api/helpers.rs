//! `TestApp`: a fresh table in DynamoDB Local, the real handlers called
//! in-process with `lambda_http::Request`s, and typed helpers for each route.

use aws_config::Region;
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::http::{HeaderMap, Method};
use lambda_http::{Body, Request};
use secrecy::SecretString;
use serde_json::{Value, json};
use shared::store::schema;
use shared::{AppState, Config};

use crate::emulators::emulators;

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Clone, Copy, Debug)]
pub enum Route {
    Register,
    Login,
    GetUser,
}

impl Route {
    fn method_and_path(self) -> (Method, &'static str) {
        match self {
            Route::Register => (Method::POST, "/v1/api/register"),
            Route::Login => (Method::POST, "/v1/api/login"),
            Route::GetUser => (Method::GET, "/v1/api/user"),
        }
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
    pub fn assert_standard_headers(&self) {
        assert_eq!(self.headers["content-type"], "application/json");
        assert_eq!(self.headers["cache-control"], "no-store");
    }
}

pub struct TestApp {
    pub state: AppState,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
}

impl TestApp {
    /// A new app on a table of its own, so tests never see each other's data.
    pub async fn spawn() -> Self {
        let endpoint = &emulators().dynamodb_endpoint;
        let aws = shared::state::aws_defaults()
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
            .await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
        let table = format!("users-{}", uuid::Uuid::new_v4().simple());
        schema::create_table(&dynamodb, &table)
            .await
            .unwrap_or_else(|error| panic!("creating the test table failed: {error}"));
        let config = Config {
            table_name: table.clone(),
            jwt_secret: SecretString::from(format!(
                "test-secret-{}",
                uuid::Uuid::new_v4().simple()
            )),
            jwt_issuer: "user-api".into(),
            access_token_ttl_seconds: 3600,
        };
        Self {
            state: AppState::new(config, &aws),
            dynamodb,
            table,
        }
    }

    pub async fn call(&self, route: Route, request: Request) -> TestResponse {
        let response = match route {
            Route::Register => register::handler(&self.state, request).await,
            Route::Login => login::handler(&self.state, request).await,
            Route::GetUser => get_user::handler(&self.state, request).await,
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

    /// A request to `route` with a raw body and the given headers.
    pub fn request(route: Route, headers: &[(&str, &str)], body: impl Into<Body>) -> Request {
        let (method, path) = route.method_and_path();
        let mut builder = lambda_http::http::Request::builder()
            .method(method)
            .uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder
            .body(body.into())
            .expect("a well-formed test request")
    }

    pub async fn post_json(&self, route: Route, body: &Value) -> TestResponse {
        let request = Self::request(
            route,
            &[("content-type", "application/json")],
            body.to_string(),
        );
        self.call(route, request).await
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

    /// Registers an account and logs it in; returns its token.
    pub async fn registered_token(&self, email: &str) -> String {
        let registered = self.register(email, PASSWORD, "Test User").await;
        assert_eq!(registered.status, 201, "{}", registered.text);
        let login = self.login(email, PASSWORD).await;
        assert_eq!(login.status, 200, "{}", login.text);
        login.body["token"].as_str().expect("a token").to_owned()
    }

    pub async fn get_user(&self, token: &str) -> TestResponse {
        let authorization = format!("Bearer {token}");
        let request = Self::request(
            Route::GetUser,
            &[("authorization", &authorization)],
            Body::Empty,
        );
        self.call(Route::GetUser, request).await
    }

    /// Every item of the test table, read straight from DynamoDB.
    pub async fn items(&self) -> Vec<std::collections::HashMap<String, AttributeValue>> {
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

    /// How many items of each kind (`sk`) the table holds, e.g. `("USER", 1)`.
    pub async fn count_items(&self, kind: &str) -> usize {
        self.items()
            .await
            .iter()
            .filter(|item| {
                item.get("sk")
                    .and_then(|sk| sk.as_s().ok())
                    .map(String::as_str)
                    == Some(kind)
            })
            .count()
    }
}
