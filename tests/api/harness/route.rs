//! The routes of the API as the tests name them, with where each lives.

use lambda_http::http::Method;
use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub enum Route {
    Register,
    Login,
    Logout,
    /// `POST /logout?scope=...` (the query as sent, repeats kept).
    LogoutScope(Vec<(&'static str, String)>),
    Refresh,
    Sessions,
    EndSession(String),
    RequestReset,
    ResetPassword(String),
    RequestVerification,
    VerifyEmail(String),
    ConfirmEmailChange(String),
    CancelEmailChange(String),
    ChangePassword,
    GetUser,
    UpdateUser,
    DeleteUser,
    ListUsers(Vec<(&'static str, String)>),
    Discovery,
    Jwks,
    /// `GET /v1/pages/{page}`: a page of the mailed links, or its script or style.
    Page(&'static str),
}

impl Route {
    pub fn method(&self) -> Method {
        match self {
            Route::Register
            | Route::Login
            | Route::Logout
            | Route::LogoutScope(_)
            | Route::Refresh
            | Route::RequestReset
            | Route::ResetPassword(_)
            | Route::RequestVerification
            | Route::VerifyEmail(_)
            | Route::ConfirmEmailChange(_)
            | Route::CancelEmailChange(_) => Method::POST,
            Route::GetUser
            | Route::ListUsers(_)
            | Route::Sessions
            | Route::Discovery
            | Route::Jwks
            | Route::Page(_) => Method::GET,
            Route::UpdateUser | Route::ChangePassword => Method::PUT,
            Route::DeleteUser | Route::EndSession(_) => Method::DELETE,
        }
    }

    /// The path, without the query string.
    pub fn path(&self) -> String {
        let path = |p: &str| format!("/v1/api/{p}");
        match self {
            Route::Register => path("register"),
            Route::Login => path("login"),
            Route::Logout | Route::LogoutScope(_) => path("logout"),
            Route::Refresh => path("token/refresh"),
            Route::Sessions => path("sessions"),
            Route::EndSession(id) => path(&format!("sessions/{id}")),
            Route::RequestReset => path("reset_password"),
            Route::ResetPassword(token) => path(&format!("reset_password/{token}")),
            Route::RequestVerification => path("verify_email"),
            Route::VerifyEmail(token) => path(&format!("verify_email/{token}")),
            Route::ConfirmEmailChange(token) => path(&format!("confirm_email_change/{token}")),
            Route::CancelEmailChange(token) => path(&format!("cancel_email_change/{token}")),
            Route::ChangePassword => path("user/password"),
            Route::GetUser | Route::UpdateUser | Route::DeleteUser => path("user"),
            Route::ListUsers(_) => path("users"),
            Route::Discovery => "/.well-known/openid-configuration".to_owned(),
            Route::Jwks => "/.well-known/jwks.json".to_owned(),
            Route::Page(page) => format!("/v1/pages/{page}"),
        }
    }

    /// `METHOD path` as `template.yaml` routes it (path parameters named).
    pub fn template_key(&self) -> String {
        let path = match self {
            Route::EndSession(_) => "/v1/api/sessions/{id}".to_owned(),
            Route::ResetPassword(_) => "/v1/api/reset_password/{token}".to_owned(),
            Route::VerifyEmail(_) => "/v1/api/verify_email/{token}".to_owned(),
            Route::ConfirmEmailChange(_) => "/v1/api/confirm_email_change/{token}".to_owned(),
            Route::CancelEmailChange(_) => "/v1/api/cancel_email_change/{token}".to_owned(),
            Route::Page(_) => "/v1/pages/{page}".to_owned(),
            _ => self.path(),
        };
        format!("{} {path}", self.method())
    }

    /// The query parameters, in order (repeats kept).
    pub fn query(&self) -> &[(&'static str, String)] {
        match self {
            Route::ListUsers(query) | Route::LogoutScope(query) => query,
            _ => &[],
        }
    }

    /// The path and query string as a client sends them. Test values are
    /// URL-safe already (cursors are base64url), so nothing is escaped; a
    /// value that is not fails here rather than reaching the API garbled.
    pub fn path_and_query(&self) -> String {
        let mut target = self.path();
        for (index, (name, value)) in self.query().iter().enumerate() {
            assert!(
                value
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b"-_.~=".contains(&byte)),
                "query value {value:?} would need percent-encoding"
            );
            target.push(if index == 0 { '?' } else { '&' });
            target.push_str(&format!("{name}={value}"));
        }
        target
    }

    /// What every answer of the route says in `Cache-Control`: the key
    /// documents may be cached by anyone, nothing else by anyone.
    pub fn cache_control(&self) -> &'static str {
        match self {
            Route::Discovery | Route::Jwks => "public, max-age=600",
            Route::Page(_) => "public, max-age=300",
            _ => "no-store",
        }
    }

    /// The routes that take a bearer token, each with a body it accepts.
    pub fn authenticated() -> Vec<(Route, Value)> {
        vec![
            (Route::Logout, Value::Null),
            (Route::Sessions, Value::Null),
            (Route::GetUser, Value::Null),
            (Route::UpdateUser, json!({"name": "New Name"})),
            (
                Route::ChangePassword,
                json!({"current_password": "x", "new_password": "y"}),
            ),
            (Route::DeleteUser, Value::Null),
            (Route::ListUsers(vec![]), Value::Null),
        ]
    }
}
