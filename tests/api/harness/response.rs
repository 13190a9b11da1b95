//! A response as every test reads it, whichever way the request went.

use lambda_http::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::http_client::HttpResponse;

#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl TestResponse {
    /// Every answer of the API is JSON with the standard headers (and the
    /// route's `Cache-Control`); anything else fails the test here.
    #[track_caller]
    pub fn new(status: u16, headers: HeaderMap, text: String, cache_control: &str) -> Self {
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("response is not JSON ({error}): {text:?}"));
        let response = Self {
            status,
            headers,
            text,
            body,
        };
        response.assert_standard_headers(cache_control);
        response
    }

    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|value| value.to_str().expect("an ASCII header value"))
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
    }

    /// The status is `status`; returns the body for the checks that follow.
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        &self.body
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Value {
        self.assert_status(200)
    }

    #[track_caller]
    fn assert_standard_headers(&self, cache_control: &str) {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{}",
            self.text
        );
        assert_eq!(
            self.header("cache-control"),
            Some(cache_control),
            "{}",
            self.text
        );
    }
}

impl TestResponse {
    #[track_caller]
    pub fn from_http(response: HttpResponse, cache_control: &str) -> Self {
        let mut headers = HeaderMap::new();
        for (name, value) in &response.headers {
            headers.append(
                HeaderName::try_from(name.as_str()).expect("a valid header name"),
                HeaderValue::try_from(value.as_str()).expect("a valid header value"),
            );
        }
        Self::new(response.status, headers, response.body, cache_control)
    }
}
