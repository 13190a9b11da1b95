//! One Secrets Manager read, timed the way a signing function's cold start
//! pays for it: a new connection, `GetSecretValue` on the signing-key
//! secret, the whole answer read. The emulator checks no signature, so a
//! plain HTTP request does; the SDK's own work on top is part of what the
//! 15 ms of the cold-start target covers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const SAMPLES: usize = 20;

/// The median of `SAMPLES` reads, from the endpoint and secret id the
/// functions are configured with (tools/local-stack.sh exports them).
pub fn median() -> Result<Duration, String> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_SECRETS_MANAGER")
        .map_err(|_| "AWS_ENDPOINT_URL_SECRETS_MANAGER is not set".to_owned())?;
    let secret_id = std::env::var("SIGNING_KEYS_SECRET_ID")
        .map_err(|_| "SIGNING_KEYS_SECRET_ID is not set".to_owned())?;
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let body = serde_json::json!({ "SecretId": secret_id }).to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: secretsmanager.GetSecretValue\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let mut stream = TcpStream::connect(address)
            .map_err(|e| format!("Secrets Manager emulator at {address}: {e}"))?;
        stream
            .write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .map_err(|e| e.to_string())?;
        samples.push(started.elapsed());
        if !response.starts_with(b"HTTP/1.1 200") && !response.starts_with(b"HTTP/1.0 200") {
            return Err(format!(
                "GetSecretValue answered {}",
                String::from_utf8_lossy(&response[..response.len().min(80)])
            ));
        }
    }
    Ok(crate::report::median(&samples))
}
