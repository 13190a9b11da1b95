//! The SES mailer. A crate of its own, linked only by the function that
//! sends mail: a cargo feature of `accounts` would be switched on for every
//! function whenever they are built together (features unify), and the
//! functions are built together, in one cargo run per architecture.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ses::types::{Body, Content, Destination, Message};
use secrecy::{ExposeSecret, SecretString};

use accounts::domain::Email;
use aws_sdk_ses::error::ProvideErrorMetadata;

use accounts::error::ApiError;

pub struct Mailer {
    client: aws_sdk_ses::Client,
    from: String,
    reset_url_base: Option<String>,
}

/// One SES call, retries included, ends within this time: a reset request
/// answers after a fixed response floor whatever happens, so a failed send
/// must be over (and its token withdrawn) well before that floor.
const SEND_TIMEOUT: Duration = Duration::from_millis(200);

impl Mailer {
    /// A mailer whose SES client (from `aws`, the shared SDK settings) gives
    /// up within `SEND_TIMEOUT`: two attempts, close together.
    pub fn new(aws: &SdkConfig, from: String, reset_url_base: Option<String>) -> Self {
        let config = aws_sdk_ses::config::Builder::from(aws)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(2)
                    .with_initial_backoff(Duration::from_millis(20)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(SEND_TIMEOUT / 2)
                    .operation_attempt_timeout(SEND_TIMEOUT / 2)
                    .operation_timeout(SEND_TIMEOUT)
                    .build(),
            )
            .build();
        Self {
            client: aws_sdk_ses::Client::from_conf(config),
            from,
            reset_url_base,
        }
    }

    /// Sends the reset token to `to`, with a link when a reset URL base is set.
    pub async fn send_password_reset(
        &self,
        to: &Email,
        token: &SecretString,
        valid_minutes: u64,
    ) -> Result<(), ApiError> {
        let token = token.expose_secret();
        let link = self.reset_url_base.as_ref().map(|base| {
            let separator = if base.contains('?') { '&' } else { '?' };
            format!("{base}{separator}token={token}")
        });
        let (text, html) = reset_message(token, link.as_deref(), valid_minutes);
        let content = |data: String| Content::builder().data(data).charset("UTF-8").build();
        let message = Message::builder()
            .subject(content("Reset your password".to_owned()).map_err(ApiError::unexpected)?)
            .body(
                Body::builder()
                    .text(content(text).map_err(ApiError::unexpected)?)
                    .html(content(html).map_err(ApiError::unexpected)?)
                    .build(),
            )
            .build();
        self.client
            .send_email()
            .source(&self.from)
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .message(message)
            .send()
            .await
            .map_err(|error| {
                // SES error messages can quote the addresses involved: only
                // the error code is kept for the log.
                let code = error.code().unwrap_or("no service error code").to_owned();
                let unavailable = matches!(
                    error,
                    aws_sdk_ses::error::SdkError::DispatchFailure(_)
                        | aws_sdk_ses::error::SdkError::TimeoutError(_)
                ) || code == "Throttling";
                let cause = SendFailed(code);
                if unavailable {
                    ApiError::Unavailable(cause.into())
                } else {
                    ApiError::unexpected(cause)
                }
            })?;
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("SES SendEmail failed: {0}")]
struct SendFailed(String);

fn reset_message(token: &str, link: Option<&str>, valid_minutes: u64) -> (String, String) {
    let mut text = String::from("Someone asked to reset the password of your account.\n\n");
    let mut html = String::from("<p>Someone asked to reset the password of your account.</p>");
    if let Some(link) = link {
        text.push_str(&format!(
            "Open this link to choose a new password:\n{link}\n\n"
        ));
        let link = escape_html(link);
        html.push_str(&format!(
            "<p><a href=\"{link}\">Choose a new password</a></p>"
        ));
    }
    text.push_str(&format!(
        "Your reset token: {token}\n\nIt works once, for {valid_minutes} minutes. \
         If you did not ask for this, ignore this email: your password stays as it is.\n"
    ));
    html.push_str(&format!(
        "<p>Your reset token: <code>{token}</code></p><p>It works once, for {valid_minutes} minutes. \
         If you did not ask for this, ignore this email: your password stays as it is.</p>"
    ));
    (text, html)
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_carries_the_token_and_an_escaped_link() {
        let (text, html) = reset_message("tok", Some("https://x.io/r?a=1&token=tok"), 30);
        assert!(text.contains("Your reset token: tok"));
        assert!(text.contains("https://x.io/r?a=1&token=tok"));
        assert!(html.contains("href=\"https://x.io/r?a=1&amp;token=tok\""));
        assert!(text.contains("30 minutes"));
    }

    #[test]
    fn without_a_url_base_there_is_no_link() {
        let (text, html) = reset_message("tok", None, 30);
        assert!(!text.contains("link"));
        assert!(!html.contains("href"));
    }
}
