//! The black-box tests' HTTP client: `ureq`, without TLS (every server they
//! call listens on loopback), with every status handed back as a response.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {:?}", self.body))
    }
}

fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into()
    })
}

/// Sends one request to `base` (`http://127.0.0.1:port`) and reads the whole answer.
#[track_caller]
pub fn request(
    method: &str,
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    try_request(method, base, path, headers, body)
        .unwrap_or_else(|error| panic!("{method} {base}{path}: {error}"))
}

/// `request`, or why no answer came (nothing listens yet, say).
pub fn try_request(
    method: &str,
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<HttpResponse, ureq::Error> {
    let mut builder = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder.body(body.to_vec()).expect("a well-formed request");
    let mut response = agent().run(request)?;
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = value.to_str().expect("an ASCII header value");
            (name.as_str().to_owned(), value.to_owned())
        })
        .collect();
    Ok(HttpResponse {
        status: response.status().as_u16(),
        headers,
        body: response
            .body_mut()
            .read_to_string()
            .expect("a UTF-8 response body"),
    })
}

#[track_caller]
pub fn get_json(base: &str, path: &str) -> Value {
    let response = request("GET", base, path, &[], b"");
    assert_eq!(response.status, 200, "GET {path}: {}", response.body);
    response.json()
}
