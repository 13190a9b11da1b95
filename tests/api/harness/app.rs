//! `TestApp`: one way for every black-box test to drive the API, with
//! typed helpers for each route, whichever way the requests travel:
//!
//! - `TestApp::spawn()` calls the real handlers in-process with
//!   `lambda_http::Request`s, on a fresh table of its own (and records the
//!   handlers' DynamoDB requests);
//! - `TestApp::behind_gateway()` sends the same requests over HTTP to the
//!   real function binaries behind `cargo lambda watch` (`stack.rs`), on the
//!   stack's table.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::{Mutex, PoisonError};

use accounts::Config;
use accounts::config::{
    ClientLimits, DEFAULT_ACCESS_TOKEN_TTL_SECONDS, DEFAULT_JWT_AUDIENCE,
    DEFAULT_RESET_TOKEN_TTL_SECONDS, EmailVerification, MailConfig, SessionPolicy,
};
use accounts::error::cause_chain;
use accounts::keys::KeySet;
use accounts::store::{UserStore, schema};
use accounts::token::TokenSigner;
use change_password::ChangePasswordState;
use http_api::AppState;
use http_api::keys::PublishedKeys;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use mailer::alike::MailRequestState;
use mailer::{Mailer, MailingState};
use serde_json::{Value, json};
use signing_keys::{KeyVault, SessionSecret, Signer};
use token_issuer::SigningState;

use super::dynamodb_calls::CallLog;
use super::emulators::{Emulators, emulators, sdk_config, setup_sdk_config};
use super::http_client;
use super::keys;
use super::mailbox::tokens_mailed_to;
use super::response::TestResponse;
use super::route::Route;
use super::stack::stack;

pub const PASSWORD: &str = "correct horse battery staple";
/// The in-process apps' issuer (the stack's is its own address).
pub const ISSUER: &str = "https://id.example.test";
pub const NEW_PASSWORD: &str = "a brand new passphrase";

pub struct TestApp {
    pub state: AppState,
    /// The state of the two functions that answer every address alike.
    pub mail_request_state: MailRequestState,
    /// The state of the functions that verify tokens and send mail.
    pub mailing_state: MailingState,
    pub change_password_state: ChangePasswordState,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// Every DynamoDB request the in-process handlers (not `items`,
    /// `snapshot` and the other direct reads and edits) sent.
    pub dynamodb_calls: CallLog,
    pub table: String,
    /// The secret that holds this app's private signing key.
    pub secret_id: String,
    /// The key set its handlers start with (in the table too).
    pub key_set: KeySet,
    /// The state of the functions that sign (login, refresh).
    pub signing_state: SigningState,
    transport: Transport,
    /// `METHOD path` (`Route::template_key`) of every route this app has called.
    pub reached: Mutex<BTreeSet<String>>,
    /// Makes this test's email addresses unique in the SES emulator, whose
    /// mailbox every test of the run shares, and on the stack's shared table.
    tag: String,
}

/// What a deployment is configured with.
struct Deployment {
    config: Config,
    secret_id: String,
    key_set: KeySet,
}

#[derive(Clone)]
enum Transport {
    InProcess,
    /// `http://127.0.0.1:<port>` of the local gateway in front of `cargo
    /// lambda watch`, and the loopback address this app's requests come
    /// from: each app is a client of its own for the per-client limits.
    Gateway(String, Ipv4Addr),
}

impl TestApp {
    /// A new app on a table of its own, so tests never see each other's data.
    pub async fn spawn() -> Self {
        Self::spawn_with_sessions(SessionPolicy::default()).await
    }

    /// `spawn` with another session policy (short windows for the tests).
    pub async fn spawn_with_sessions(sessions: SessionPolicy) -> Self {
        Self::spawn_configured(sessions, EmailVerification::Required).await
    }

    /// `spawn` with `EMAIL_VERIFICATION` set as given.
    pub async fn spawn_with_email_verification(email_verification: EmailVerification) -> Self {
        Self::spawn_configured(SessionPolicy::default(), email_verification).await
    }

    async fn spawn_configured(
        sessions: SessionPolicy,
        email_verification: EmailVerification,
    ) -> Self {
        let emulators = emulators();
        let dynamodb =
            aws_sdk_dynamodb::Client::new(&setup_sdk_config(&emulators.dynamodb_endpoint).await);
        let tag = new_tag();
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
            jwt_issuer: Some(ISSUER.to_owned()),
            jwt_audience: DEFAULT_JWT_AUDIENCE.to_owned(),
            access_token_ttl_seconds: DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
            sessions,
            email_verification,
            client_limits: ClientLimits::default(),
        };
        let secret_id = format!("signing-keys-{tag}");
        let store = UserStore::new(dynamodb.clone(), &config.table_name);
        let key_set = keys::install_run_key(&store, &secret_id).await;
        Self::assemble(
            Deployment {
                config,
                secret_id,
                key_set,
            },
            dynamodb,
            emulators,
            Transport::InProcess,
            tag,
        )
        .await
    }

    /// An app whose requests go over HTTP to the function binaries, which
    /// share one table (started with the stack by the first test that asks).
    /// `state` holds the binaries' configuration, `items` reads their table.
    pub async fn behind_gateway() -> Self {
        let stack = stack();
        let emulators = emulators();
        let dynamodb =
            aws_sdk_dynamodb::Client::new(&setup_sdk_config(&emulators.dynamodb_endpoint).await);
        Self::assemble(
            Deployment {
                config: stack.config.clone(),
                secret_id: stack.secret_id.clone(),
                key_set: stack.key_set.clone(),
            },
            dynamodb,
            emulators,
            Transport::Gateway(stack.base.clone(), random_loopback_address()),
            new_tag(),
        )
        .await
    }

    /// The same app (table, secret, data) with its handlers reaching
    /// DynamoDB, SES and Secrets Manager at other endpoints: a closed port
    /// stands in for an outage. `items` and `snapshot` still read the real
    /// table.
    pub async fn with_endpoints(&self, endpoints: Emulators) -> Self {
        assert!(
            matches!(self.transport, Transport::InProcess),
            "only in-process handlers can be pointed elsewhere"
        );
        Self::assemble(
            Deployment {
                config: self.state.config.clone(),
                secret_id: self.secret_id.clone(),
                key_set: self.key_set.clone(),
            },
            self.dynamodb.clone(),
            &endpoints,
            Transport::InProcess,
            self.tag.clone(),
        )
        .await
    }

    /// The same app after a cold start of its handlers: they read the key
    /// set and the private keys afresh.
    pub async fn restarted(&self) -> Self {
        let key_set = self
            .state
            .store
            .key_set()
            .await
            .expect("reading the key set")
            .keys;
        let emulators = emulators();
        Self::assemble(
            Deployment {
                config: self.state.config.clone(),
                secret_id: self.secret_id.clone(),
                key_set,
            },
            self.dynamodb.clone(),
            emulators,
            self.transport.clone(),
            self.tag.clone(),
        )
        .await
    }

    async fn assemble(
        deployment: Deployment,
        dynamodb: aws_sdk_dynamodb::Client,
        endpoints: &Emulators,
        transport: Transport,
        tag: String,
    ) -> Self {
        let Deployment {
            config,
            secret_id,
            key_set,
        } = deployment;
        let aws = sdk_config(&endpoints.dynamodb_endpoint).await;
        let table = config.table_name.clone();
        let dynamodb_calls = CallLog::default();
        let handlers_dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&aws)
                .interceptor(dynamodb_calls.clone())
                .build(),
        );
        let mail_config = MailConfig {
            table_name: table.clone(),
            ses_from_address: "no-reply@example.com".into(),
            link_base: None,
            public_url: config.jwt_issuer.clone(),
            reset_token_ttl_seconds: DEFAULT_RESET_TOKEN_TTL_SECONDS,
            client_limits: config.client_limits,
        };
        let ses = sdk_config(&endpoints.ses_endpoint).await;
        let mail_request_state = MailRequestState {
            store: UserStore::new(handlers_dynamodb.clone(), &table),
            mailer: Mailer::new(&ses, &mail_config),
            config: mail_config.clone(),
        };
        let tokens = TokenSigner::new(&config.jwt_audience, config.access_token_ttl_seconds);
        let vault = KeyVault::new(
            &sdk_config(&endpoints.secretsmanager_endpoint).await,
            &secret_id,
        );
        let signer = Signer::load(vault, tokens).await;
        let app_state = || {
            AppState::new(
                config.clone(),
                handlers_dynamodb.clone(),
                PublishedKeys::new(key_set.clone()),
            )
        };
        let secrets = sdk_config(&endpoints.secretsmanager_endpoint).await;
        let session_secret_id = keys::session_secret_id(&secret_id);
        let signing_state = SigningState {
            app: app_state(),
            signer,
            sessions: SessionSecret::load(&secrets, &session_secret_id).await,
        };
        let change_password_state = ChangePasswordState {
            signing: SigningState {
                app: app_state(),
                signer: Signer::load(
                    KeyVault::new(
                        &sdk_config(&endpoints.secretsmanager_endpoint).await,
                        &secret_id,
                    ),
                    TokenSigner::new(&config.jwt_audience, config.access_token_ttl_seconds),
                )
                .await,
                sessions: SessionSecret::load(&secrets, &session_secret_id).await,
            },
            mailer: Mailer::new(&ses, &mail_config),
        };
        let mailing_state = MailingState {
            app: app_state(),
            mailer: Mailer::new(&ses, &mail_config),
        };
        Self {
            state: app_state(),
            mail_request_state,
            mailing_state,
            change_password_state,
            dynamodb,
            dynamodb_calls,
            table,
            secret_id,
            key_set,
            signing_state,
            transport,
            reached: Mutex::default(),
            tag,
        }
    }

    /// An address unique to this test: `ada` becomes `ada-<tag>@example.com`.
    pub fn email(&self, local: &str) -> String {
        format!("{local}-{}@example.com", self.tag)
    }

    fn record_reached(&self, route: &Route) {
        self.reached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(route.template_key());
    }

    /// Sends `request` (made by `TestApp::request` for `route`) the app's way.
    pub async fn call(&self, route: &Route, request: Request) -> TestResponse {
        self.record_reached(route);
        match &self.transport {
            Transport::InProcess => self.call_handler(route, request).await,
            Transport::Gateway(base, client) => {
                let headers: Vec<(&str, &str)> = request
                    .headers()
                    .iter()
                    .map(|(name, value)| {
                        let value = value.to_str().expect("ASCII test header values");
                        (name.as_str(), value)
                    })
                    .collect();
                let body: &[u8] = request.body().as_ref();
                let response = http_client::request_from(
                    *client,
                    route.method().as_str(),
                    base,
                    &route.path_and_query(),
                    &headers,
                    body,
                );
                TestResponse::from_http(response, route.cache_control())
            }
        }
    }

    async fn call_handler(&self, route: &Route, request: Request) -> TestResponse {
        // Each handler's future is boxed: inline, the largest of them sized
        // every caller's future, and long tests overflowed a debug-build
        // test thread's stack.
        let response = match route {
            Route::Register => Box::pin(register::handler(&self.mailing_state, request)).await,
            Route::Login => Box::pin(login::handler(&self.signing_state, request)).await,
            Route::Logout | Route::LogoutScope(_) => {
                Box::pin(logout::handler(&self.state, request)).await
            }
            Route::Refresh => Box::pin(refresh_token::handler(&self.signing_state, request)).await,
            Route::Sessions => Box::pin(list_sessions::handler(&self.state, request)).await,
            Route::EndSession(_) => Box::pin(end_session::handler(&self.state, request)).await,
            Route::RequestReset => {
                Box::pin(request_password_reset::handler(
                    &self.mail_request_state,
                    request,
                ))
                .await
            }
            Route::ResetPassword(_) => {
                Box::pin(reset_password::handler(&self.mailing_state, request)).await
            }
            Route::RequestVerification => {
                Box::pin(request_verification_email::handler(
                    &self.mail_request_state,
                    request,
                ))
                .await
            }
            Route::VerifyEmail(_) => Box::pin(verify_email::handler(&self.state, request)).await,
            Route::ConfirmEmailChange(_) | Route::CancelEmailChange(_) => {
                Box::pin(confirm_email_change::handler(&self.mailing_state, request)).await
            }
            Route::ChangePassword => {
                Box::pin(change_password::handler(
                    &self.change_password_state,
                    request,
                ))
                .await
            }
            Route::GetUser => Box::pin(get_user::handler(&self.state, request)).await,
            Route::UpdateUser => Box::pin(update_user::handler(&self.mailing_state, request)).await,
            Route::DeleteUser => Box::pin(delete_user::handler(&self.state, request)).await,
            Route::ListUsers(_) => Box::pin(list_users::handler(&self.state, request)).await,
            Route::Discovery | Route::Jwks => {
                Box::pin(well_known::handler(&self.state, request)).await
            }
            Route::Page(_) => panic!("the pages answer HTML: TestApp::page fetches them"),
        }
        .expect("handlers answer every request with a response, never an Err");
        let text = String::from_utf8(response.body().to_vec()).expect("responses are UTF-8");
        TestResponse::new(
            response.status().as_u16(),
            response.headers().clone(),
            text,
            route.cache_control(),
        )
    }

    /// A request to `route` with the given headers and raw body, carrying the
    /// path and query parameters API Gateway would extract, from a client
    /// address of its own (so no test meets the per-client limits unless it
    /// means to: `request_from`).
    pub fn request(route: &Route, headers: &[(&str, &str)], body: impl Into<Body>) -> Request {
        Self::request_from(&random_client_address(), route, headers, body)
    }

    /// `request`, from the client address `client` (as API Gateway reports
    /// the connection's source in `requestContext.http.sourceIp`).
    pub fn request_from(
        client: &str,
        route: &Route,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Request {
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.http.source_ip = Some(client.to_owned());
        Self::request_without_context(route, headers, body)
            .with_request_context(RequestContext::ApiGatewayV2(context))
    }

    fn request_without_context(
        route: &Route,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method(route.method())
            .uri(route.path());
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(body.into())
            .expect("a well-formed test request");
        match route {
            Route::ResetPassword(token)
            | Route::VerifyEmail(token)
            | Route::ConfirmEmailChange(token)
            | Route::CancelEmailChange(token) => {
                request.with_path_parameters(HashMap::from([("token".to_owned(), token.clone())]))
            }
            Route::EndSession(id) => {
                request.with_path_parameters(HashMap::from([("id".to_owned(), id.clone())]))
            }
            Route::ListUsers(query) | Route::LogoutScope(query) => {
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
        self.send_from(&random_client_address(), route, token, body)
            .await
    }

    /// `send`, from the client address `client` (in-process apps only:
    /// behind the gateway, the app's own loopback address is the client).
    pub async fn send_from(
        &self,
        client: &str,
        route: &Route,
        token: Option<&str>,
        body: &Value,
    ) -> TestResponse {
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
        self.call(route, Self::request_from(client, route, &headers, body))
            .await
    }

    pub async fn post_json(&self, route: Route, body: &Value) -> TestResponse {
        self.send(&route, None, body).await
    }

    /// Registers an account as its owner would: after a 201, the link of
    /// the verification mail is used, so the account can log in. The
    /// answer is the registration's.
    pub async fn register(&self, email: &str, password: &str, name: &str) -> TestResponse {
        let registered = self.register_unverified(email, password, name).await;
        if registered.status == 201 {
            // Another test may have registered the same fixed address on its
            // own table meanwhile: the first token this table accepts is ours.
            let address = email.trim().to_lowercase();
            let mut verified = false;
            for token in tokens_mailed_to(&address, "verify-email") {
                if self.verify_email(&token).await.status == 200 {
                    verified = true;
                    break;
                }
            }
            assert!(verified, "no verification mail to {address} worked");
        }
        registered
    }

    /// Registers an account and leaves its verification mail unopened.
    pub async fn register_unverified(
        &self,
        email: &str,
        password: &str,
        name: &str,
    ) -> TestResponse {
        self.post_json(
            Route::Register,
            &json!({"email": email, "password": password, "name": name}),
        )
        .await
    }

    pub async fn request_verification(&self, email: &str) -> TestResponse {
        self.post_json(Route::RequestVerification, &json!({"email": email}))
            .await
    }

    pub async fn verify_email(&self, token: &str) -> TestResponse {
        self.send(&Route::VerifyEmail(token.to_owned()), None, &Value::Null)
            .await
    }

    pub async fn confirm_email_change(&self, token: &str) -> TestResponse {
        self.send(
            &Route::ConfirmEmailChange(token.to_owned()),
            None,
            &Value::Null,
        )
        .await
    }

    pub async fn cancel_email_change(&self, token: &str) -> TestResponse {
        self.send(
            &Route::CancelEmailChange(token.to_owned()),
            None,
            &Value::Null,
        )
        .await
    }

    pub async fn change_password(&self, token: &str, current: &str, new: &str) -> TestResponse {
        self.send(
            &Route::ChangePassword,
            Some(token),
            &json!({"current_password": current, "new_password": new}),
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

    /// `GET /.well-known/openid-configuration`.
    pub async fn discovery(&self) -> TestResponse {
        self.send(&Route::Discovery, None, &Value::Null).await
    }

    /// `GET /v1/pages/{page}` through the gateway, as a browser opens a
    /// mailed link: the status and the body (HTML, script or style).
    pub fn page(&self, page: &'static str) -> (u16, String) {
        let Transport::Gateway(base, client) = &self.transport else {
            panic!("the pages are fetched through the gateway (TestApp::behind_gateway)");
        };
        let route = Route::Page(page);
        self.record_reached(&route);
        let response = http_client::request_from(*client, "GET", base, &route.path(), &[], b"");
        (response.status, response.body)
    }

    /// `GET /.well-known/jwks.json`.
    pub async fn jwks(&self) -> TestResponse {
        self.send(&Route::Jwks, None, &Value::Null).await
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

    /// `POST /logout?scope=<scope>`.
    pub async fn logout_scope(&self, token: &str, scope: &str) -> TestResponse {
        let route = Route::LogoutScope(vec![("scope", scope.to_owned())]);
        self.send(&route, Some(token), &Value::Null).await
    }

    /// Logs in with the right password; returns the access and the refresh token.
    pub async fn session_for(&self, email: &str, password: &str) -> (String, String) {
        let login = self.login(email, password).await;
        let body = login.assert_status(200);
        (
            body["token"].as_str().expect("a token").to_owned(),
            body["refresh_token"]
                .as_str()
                .expect("a refresh token")
                .to_owned(),
        )
    }

    pub async fn refresh(&self, refresh_token: &str) -> TestResponse {
        self.post_json(Route::Refresh, &json!({"refresh_token": refresh_token}))
            .await
    }

    pub async fn sessions(&self, token: &str) -> TestResponse {
        self.send(&Route::Sessions, Some(token), &Value::Null).await
    }

    pub async fn end_session(&self, token: &str, id: &str) -> TestResponse {
        self.send(&Route::EndSession(id.to_owned()), Some(token), &Value::Null)
            .await
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
        let admin = users_admin::Admin {
            dynamodb: self.dynamodb.clone(),
            table: self.table.clone(),
            vault: Some(keys::vault(&self.secret_id).await),
            session_secret: Some(SessionSecret::new(
                &sdk_config(&emulators().secretsmanager_endpoint).await,
                &keys::session_secret_id(&self.secret_id),
            )),
            access_token_ttl_seconds: self.state.config.access_token_ttl_seconds,
        };
        users_admin::execute(args, &admin).await
    }
}

/// Twelve hex characters, unique to one test.
fn new_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// An address in 198.18.0.0/15 (set aside for benchmarks, never routed).
pub fn random_client_address() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    format!("198.{}.{}.{}", 18 + (bytes[0] & 1), bytes[1], bytes[2])
}

/// An address in 127.0.0.0/8 other than 127.0.0.1, as a client of its own.
pub fn random_loopback_address() -> Ipv4Addr {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    Ipv4Addr::new(127, bytes[0].max(1), bytes[1], bytes[2].max(2))
}
