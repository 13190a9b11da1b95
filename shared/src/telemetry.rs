//! JSON log lines on stdout, one object a line, as CloudWatch expects.
//!
//! Every line carries the span list, and so the Lambda runtime's
//! `requestId`. Nothing logged anywhere includes a password, token, hash or
//! email address: handlers record user ids only.

use tracing_subscriber::EnvFilter;

/// Crates whose debug output could include request or response payloads (and
/// so emails or hashes) stay quiet whatever `RUST_LOG` says. The runtime stays
/// at `info`: its invocation span is what carries the request id.
const QUIET_DEPENDENCIES: [&str; 5] = [
    "aws_smithy_runtime=warn",
    "aws_config=warn",
    "aws_sdk_dynamodb=warn",
    "hyper=warn",
    "lambda_runtime=info",
];

pub fn init() {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    for directive in QUIET_DEPENDENCIES {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    // A second initialisation (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(true)
        .flatten_event(true)
        .with_target(false)
        .try_init();
}
