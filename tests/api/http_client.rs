//! A plain HTTP/1.0 client for loopback servers: all the black-box tests need
//! (one request a connection, no TLS), without another HTTP stack in the build.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {:?}", self.body))
    }
}

/// Sends one request to `base` (`http://127.0.0.1:port`) and reads the whole answer.
pub fn request(
    method: &str,
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let address = base.strip_prefix("http://").expect("an http:// address");
    let mut stream = TcpStream::connect(address)
        .unwrap_or_else(|error| panic!("{base} does not answer: {error}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a read timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .expect("sending the request");

    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("reading the response");
    let text = String::from_utf8(raw).expect("a UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let response = HttpResponse {
        status,
        headers,
        body: body.to_owned(),
    };
    assert!(
        response.header("transfer-encoding").is_none(),
        "an HTTP/1.0 answer is not chunked"
    );
    response
}

pub fn get_json(base: &str, path: &str) -> Value {
    let response = request("GET", base, path, &[], b"");
    assert_eq!(response.status, 200, "GET {path}: {}", response.body);
    response.json()
}
