//! A Lambda Runtime API on 127.0.0.1, enough of it for `lambda_runtime`:
//! `GET …/invocation/next` hands out one event at a time, `POST
//! …/invocation/{id}/response` (or `/error`) takes the result.
//!
//! Each function process gets its own path prefix (`/p{generation}`) in
//! `AWS_LAMBDA_RUNTIME_API`, as `cargo lambda watch` does, so a request left
//! waiting by a killed process can never take the next process's event.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the function answered, and when, as the runtime API saw it.
#[derive(Debug)]
pub struct Outcome {
    pub request_id: String,
    /// When `next` handed the event over.
    pub handed_at: Instant,
    /// When the whole response body had arrived.
    pub received_at: Instant,
    pub result: Result<Vec<u8>, String>,
}

#[derive(Default)]
struct State {
    generation: u64,
    pending: Option<(String, Vec<u8>)>,
    handed: Vec<(String, Instant)>,
    outcomes: VecDeque<Outcome>,
    init_error: Option<String>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking connection thread must not take the benchmark down.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct RuntimeApi {
    address: SocketAddr,
    shared: Arc<Shared>,
}

impl RuntimeApi {
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let accepting = Arc::clone(&shared);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = Arc::clone(&accepting);
                thread::spawn(move || {
                    let _ = serve_connection(stream, &shared);
                });
            }
        });
        Ok(Self { address, shared })
    }

    /// Starts a new generation, abandoning whatever the previous process left,
    /// and returns the `AWS_LAMBDA_RUNTIME_API` value for the next process.
    pub fn next_generation(&self) -> String {
        let mut state = self.shared.lock();
        state.generation += 1;
        state.pending = None;
        state.handed.clear();
        state.outcomes.clear();
        state.init_error = None;
        self.shared.changed.notify_all();
        format!("http://{}/p{}", self.address, state.generation)
    }

    /// Queues `event` for the current process and waits for its outcome.
    pub fn invoke(
        &self,
        request_id: &str,
        event: Vec<u8>,
        timeout: Duration,
    ) -> Result<Outcome, String> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        state.pending = Some((request_id.to_owned(), event));
        self.shared.changed.notify_all();
        loop {
            if let Some(error) = state.init_error.take() {
                return Err(format!("the function failed to start: {error}"));
            }
            if let Some(position) = state
                .outcomes
                .iter()
                .position(|o| o.request_id == request_id)
            {
                return state
                    .outcomes
                    .remove(position)
                    .ok_or_else(|| "lost outcome".to_owned());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!("no response within {timeout:?}"));
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0);
        }
    }
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn serve_connection(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    while let Some(request) = read_request(&mut reader)? {
        let received_at = Instant::now();
        let Some((generation, route)) = split_generation(&request.path) else {
            respond(&mut writer, 404, &[], b"{}")?;
            continue;
        };
        match (
            request.method.as_str(),
            route.split('/').collect::<Vec<_>>().as_slice(),
        ) {
            ("GET", ["2018-06-01", "runtime", "invocation", "next"]) => {
                let Some((request_id, event)) = wait_for_event(shared, generation) else {
                    // The process this request came from is gone.
                    return Ok(());
                };
                let deadline_ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|now| now.as_millis() + 30_000)
                    .unwrap_or_default();
                let headers = [
                    ("Content-Type", "application/json".to_owned()),
                    ("Lambda-Runtime-Aws-Request-Id", request_id),
                    ("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string()),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:bench".to_owned(),
                    ),
                    (
                        "Lambda-Runtime-Trace-Id",
                        "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
                    ),
                ];
                respond(&mut writer, 200, &headers, &event)?;
            }
            (
                "POST",
                [
                    "2018-06-01",
                    "runtime",
                    "invocation",
                    request_id,
                    kind @ ("response" | "error"),
                ],
            ) => {
                let result = if *kind == "response" {
                    Ok(request.body)
                } else {
                    Err(String::from_utf8_lossy(&request.body).into_owned())
                };
                record_outcome(shared, generation, request_id, received_at, result);
                respond(&mut writer, 202, &[], br#"{"status":"OK"}"#)?;
            }
            ("POST", ["2018-06-01", "runtime", "init", "error"]) => {
                let mut state = shared.lock();
                if state.generation == generation {
                    state.init_error = Some(String::from_utf8_lossy(&request.body).into_owned());
                    shared.changed.notify_all();
                }
                drop(state);
                respond(&mut writer, 202, &[], br#"{"status":"OK"}"#)?;
            }
            _ => respond(&mut writer, 404, &[], b"{}")?,
        }
    }
    Ok(())
}

fn split_generation(path: &str) -> Option<(u64, &str)> {
    let rest = path.strip_prefix("/p")?;
    let (generation, route) = rest.split_once('/')?;
    Some((generation.parse().ok()?, route))
}

fn wait_for_event(shared: &Shared, generation: u64) -> Option<(String, Vec<u8>)> {
    let mut state = shared.lock();
    loop {
        if state.generation != generation {
            return None;
        }
        if let Some((request_id, event)) = state.pending.take() {
            state.handed.push((request_id.clone(), Instant::now()));
            return Some((request_id, event));
        }
        state = shared
            .changed
            .wait(state)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
    }
}

fn record_outcome(
    shared: &Shared,
    generation: u64,
    request_id: &str,
    received_at: Instant,
    result: Result<Vec<u8>, String>,
) {
    let mut state = shared.lock();
    if state.generation != generation {
        return;
    }
    let Some(position) = state.handed.iter().position(|(id, _)| id == request_id) else {
        return;
    };
    let (request_id, handed_at) = state.handed.swap_remove(position);
    state.outcomes.push_back(Outcome {
        request_id,
        handed_at,
        received_at,
        result,
    });
    shared.changed.notify_all();
}

/// One HTTP/1.1 request, body included (by length or chunked); `None` at the
/// end of the connection.
fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(invalid("malformed request line"));
    };
    let (method, path) = (method.to_owned(), path.to_owned());
    let mut content_length = 0usize;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(invalid("connection closed inside the headers"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse().map_err(|_| invalid("bad content-length"))?;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
    }
    let body = if chunked {
        read_chunked(reader)?
    } else {
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body)?;
        body
    };
    Ok(Some(Request { method, path, body }))
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let size_text = line.trim_end().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            // Trailers, if any, end with an empty line.
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        line.clear();
        reader.read_line(&mut line)?;
    }
}

fn respond(
    writer: &mut impl Write,
    status: u16,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        202 => "Accepted",
        _ => "Not Found",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut message = head.into_bytes();
    message.extend_from_slice(body);
    writer.write_all(&message)?;
    writer.flush()
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}
