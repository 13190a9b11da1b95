//! JSON log lines on stdout, one object a line, as CloudWatch expects.
//!
//! Every line carries the span list, and so the Lambda runtime's
//! `requestId`. Nothing logged anywhere includes a password, token, hash or
//! email address: handlers record user ids only.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Crates whose debug output could include request or response payloads (and
/// so emails or hashes) stay quiet whatever `RUST_LOG` says. The runtime stays
/// at `info`: its invocation span is what carries the request id.
const QUIET_DEPENDENCIES: [(&str, LevelFilter); 5] = [
    ("aws_smithy_runtime", LevelFilter::WARN),
    ("aws_config", LevelFilter::WARN),
    ("aws_sdk_dynamodb", LevelFilter::WARN),
    ("hyper", LevelFilter::WARN),
    ("lambda_runtime", LevelFilter::INFO),
];

/// `RUST_LOG` as a list of `level` and `target=level` directives. `Targets`
/// rather than `EnvFilter`: the same syntax minus span and field matching,
/// without the regex engine EnvFilter links (a smaller package, a faster
/// cold start). Anything unparsable means `info`.
fn filter(rust_log: Option<&str>) -> Targets {
    rust_log
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
        .with_targets(QUIET_DEPENDENCIES)
}

pub fn init() {
    let rust_log = std::env::var("RUST_LOG").ok();
    let format = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_span_list(true)
        .flatten_event(true)
        .with_target(false);
    // A second initialisation (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(format)
        .with(filter(rust_log.as_deref()))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn dependencies_stay_quiet_whatever_rust_log_says() {
        let filter = filter(Some("trace"));
        assert!(filter.would_enable("get_user", &Level::TRACE));
        assert!(!filter.would_enable("aws_smithy_runtime::client", &Level::INFO));
        assert!(!filter.would_enable("hyper::proto", &Level::DEBUG));
        assert!(filter.would_enable("lambda_runtime", &Level::INFO));
    }

    #[test]
    fn unparsable_or_missing_rust_log_means_info() {
        for rust_log in [
            None,
            Some("get_user[span{a=1}]=debug"),
            Some("get_user=loud"),
        ] {
            let filter = filter(rust_log);
            assert!(
                filter.would_enable("get_user", &Level::INFO),
                "{rust_log:?}"
            );
            assert!(
                !filter.would_enable("get_user", &Level::DEBUG),
                "{rust_log:?}"
            );
        }
    }
}
