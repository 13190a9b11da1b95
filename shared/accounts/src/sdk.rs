//! The AWS SDK settings every client of the service uses.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// The AWS SDK settings every client uses. Credentials, region and endpoints
/// come from the standard environment variables (`AWS_ENDPOINT_URL_DYNAMODB`
/// points the functions at DynamoDB Local), so no code knows about emulators.
///
/// The timeouts keep a dependency outage a prompt 503 instead of a request
/// that hangs until the Lambda timeout: a connection gets 1 s, an attempt 1 s,
/// and the whole call, retries included, 2.5 s.
///
/// The HTTPS client is rustls on ring, the crypto library the JWT code uses
/// too: the SDK's default client would link aws-lc as a second one.
pub fn defaults() -> ConfigLoader {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(1))
                .operation_timeout(Duration::from_millis(2500))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
}
