//! The black-box tests' HTTP client: HTTP/1.0 over a plain TCP socket (every
//! server they call listens on loopback), every status handed back as a
//! response. The socket can be bound to any address of 127.0.0.0/8 first,
//! so that a test acts as a client of its own: the local gateway reports
//! the TCP peer as the source address, as API Gateway does, and the
//! per-client limits count by it. HTTP/1.0 makes every server answer with a
//! plain body and close the connection, so reading to the end is the whole
//! answer.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde_json::Value;
use socket2::{Domain, Socket, Type};

const TIMEOUT: Duration = Duration::from_secs(30);

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

/// Sends one request to `base` (`http://127.0.0.1:port`) from 127.0.0.1 and
/// reads the whole answer.
#[track_caller]
pub fn request(
    method: &str,
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    request_from(Ipv4Addr::LOCALHOST, method, base, path, headers, body)
}

/// `request`, from the loopback address `source`.
#[track_caller]
pub fn request_from(
    source: Ipv4Addr,
    method: &str,
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    try_request_from(source, method, base, path, headers, body)
        .unwrap_or_else(|error| panic!("{method} {base}{path}: {error}"))
}

/// `request`, or why no answer came (nothing listens yet, say).
pub fn try_request(
    method: &str,
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    try_request_from(Ipv4Addr::LOCALHOST, method, base, path, headers, body)
}

fn try_request_from(
    source: Ipv4Addr,
    method: &str,
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let host = base
        .strip_prefix("http://")
        .expect("tests call plain-HTTP servers on loopback");
    let target = host
        .to_socket_addrs()?
        .find(SocketAddr::is_ipv4)
        .expect("an IPv4 loopback address");
    assert!(
        target.ip().is_loopback() && IpAddr::V4(source).is_loopback(),
        "tests send only to and from loopback"
    );
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(IpAddr::V4(source), 0).into())?;
    socket.connect_timeout(&target.into(), TIMEOUT)?;
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;

    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: {host}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;

    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    parse_response(&answer)
}

fn parse_response(answer: &[u8]) -> std::io::Result<HttpResponse> {
    let malformed =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let split = answer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| malformed("no end of the response head"))?;
    let head = std::str::from_utf8(&answer[..split]).map_err(|_| malformed("a non-UTF-8 head"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| malformed("no status line"))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let body = String::from_utf8(answer[split + 4..].to_vec())
        .map_err(|_| malformed("a non-UTF-8 body"))?;
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

#[track_caller]
pub fn get_json(base: &str, path: &str) -> Value {
    let response = request("GET", base, path, &[], b"");
    assert_eq!(response.status, 200, "GET {path}: {}", response.body);
    response.json()
}
