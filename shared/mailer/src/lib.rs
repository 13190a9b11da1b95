//! The SES mailer: every mail the API sends is composed here. A crate of
//! its own, linked only by the functions that send mail: a cargo feature of
//! `accounts` would be switched on for every function whenever they are
//! built together (features unify), and the functions are built together,
//! in one cargo run per architecture.

pub mod alike;

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ses::types::{Body, Content, Destination, Message};
use secrecy::{ExposeSecret, SecretString};

use accounts::clock::unix_now;
use accounts::config::MailConfig;
use accounts::domain::Email;
use accounts::error::cause_chain;
use accounts::mail_token;
use accounts::sdk;
use accounts::store::{Issue, NewToken, StoredUser, TokenKind, UserStore};
use aws_sdk_ses::error::ProvideErrorMetadata;
use http_api::AppState;

use accounts::error::ApiError;

/// The state of a function that verifies tokens and sends mail.
pub struct MailingState {
    pub app: AppState,
    pub mailer: Mailer,
}

impl MailingState {
    pub async fn from_env() -> Result<Self, lambda_http::Error> {
        let (config, mail) = (accounts::Config::from_env()?, MailConfig::from_env()?);
        let aws = sdk::defaults().load().await;
        Ok(Self {
            app: AppState::load(config, &aws).await?,
            mailer: Mailer::new(&aws, &mail),
        })
    }
}

/// A token to mail: its kind, where it goes, how long it works.
pub struct TokenMail<'a> {
    pub kind: TokenKind,
    pub sent_to: &'a Email,
    pub ttl_seconds: u64,
}

/// Whether a token mail went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issued {
    /// Mailed; its stored form, to withdraw it if what it belongs to fails.
    Sent { token_hash: String },
    /// The kind's send limit holds it back this long; the earlier token
    /// stays valid.
    Withheld { retry_after_seconds: u64 },
}

/// Sends the API's mails through SES. Every mail is built by `Mail::compose`.
pub struct Mailer {
    client: aws_sdk_ses::Client,
    from: String,
    /// `LINK_BASE`, when configured.
    link_base: Option<String>,
}

/// One SES call, retries included, ends within this time: the two requests
/// that answer every address alike answer after a fixed response floor, so
/// a failed send must be over (and its token withdrawn) well before it.
const SEND_TIMEOUT: Duration = Duration::from_millis(200);

/// Where the mailed links point: `<base>/<page>#token=<token>`. The token
/// travels in the fragment, which no browser sends to a server, so it
/// reaches no access log, no `Referer` and no link scanner's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    base: String,
}

impl Links {
    /// `LINK_BASE` when configured, else the API's own pages under its
    /// public URL.
    pub fn new(link_base: Option<&str>, public_url: &str) -> Self {
        let base = match link_base {
            Some(base) => base.trim_end_matches('/').to_owned(),
            None => format!("{}/v1/pages", public_url.trim_end_matches('/')),
        };
        Self { base }
    }

    fn to(&self, page: &str, token: &SecretString) -> String {
        format!("{}/{page}#token={}", self.base, token.expose_secret())
    }
}

/// Every mail the API sends. None carries a password.
pub enum Mail<'a> {
    /// After registration or on request: proves the address.
    EmailVerification {
        token: &'a SecretString,
        valid_hours: u64,
    },
    PasswordReset {
        token: &'a SecretString,
        valid_minutes: u64,
    },
    /// To the new address of an email change: confirms it.
    EmailChange {
        token: &'a SecretString,
        valid_minutes: u64,
    },
    /// To the old address of an email change: a warning, with a link that
    /// cancels the change with no login.
    EmailChangeRequested {
        /// Owned: the token's lifetime is the only one a token mail's
        /// composer may borrow for (`Mailer::issue_and_send`).
        new_email: Email,
        cancel_token: &'a SecretString,
        valid_minutes: u64,
    },
    /// To the old address once an email change is made.
    EmailChanged { new_email: &'a Email },
    /// After a password change or reset.
    PasswordChanged,
}

/// A mail ready to send: subject, plain text and an HTML part.
#[derive(Debug)]
pub struct Composed {
    pub subject: &'static str,
    pub text: String,
    pub html: String,
}

const NOT_YOU: &str = "If this was not you, reset your password at once and check your sessions.";

impl Mail<'_> {
    pub fn compose(&self, links: &Links) -> Composed {
        match self {
            Mail::EmailVerification { token, valid_hours } => with_link(
                "Verify your email address",
                "Confirm that this address is yours to finish setting up your account.",
                ("Verify my email address", links.to("verify-email", token)),
                &format!(
                    "The link works once, for {valid_hours} hours. If you did not create an account, ignore this email."
                ),
            ),
            Mail::PasswordReset {
                token,
                valid_minutes,
            } => with_link(
                "Reset your password",
                "Someone asked to reset the password of your account.",
                ("Choose a new password", links.to("reset-password", token)),
                &format!(
                    "The link works once, for {valid_minutes} minutes. If you did not ask for this, ignore this email: your password stays as it is."
                ),
            ),
            Mail::EmailChange {
                token,
                valid_minutes,
            } => with_link(
                "Confirm your new email address",
                "Someone asked to move an account to this email address.",
                (
                    "Confirm the new address",
                    links.to("confirm-email-change", token),
                ),
                &format!(
                    "The link works once, for {valid_minutes} minutes. Until it is used, the account keeps its old address. If you did not ask for this, ignore this email."
                ),
            ),
            Mail::EmailChangeRequested {
                new_email,
                cancel_token,
                valid_minutes,
            } => with_link(
                "Your email address is about to change",
                &format!(
                    "Someone signed in to your account asked to change its email address to {}. The change happens only when the link sent to that address is opened.",
                    new_email.as_str()
                ),
                (
                    "This was not me: cancel the change",
                    links.to("cancel-email-change", cancel_token),
                ),
                &format!(
                    "The cancel link works once, for {valid_minutes} minutes, and needs no password. If this was not you, cancel the change, then reset your password: a reset also ends the change and signs out every session."
                ),
            ),
            Mail::EmailChanged { new_email } => plain(
                "Your email address was changed",
                &format!(
                    "The email address of your account was changed to {}. You now sign in with that address, and mail about the account goes there. If this was not you, contact the service's support at once.",
                    new_email.as_str()
                ),
            ),
            Mail::PasswordChanged => plain(
                "Your password was changed",
                &format!(
                    "The password of your account was just changed, and every other session was signed out. {NOT_YOU}"
                ),
            ),
        }
    }
}

fn with_link(
    subject: &'static str,
    opening: &str,
    (action, link): (&str, String),
    closing: &str,
) -> Composed {
    Composed {
        subject,
        text: format!("{opening}\n\n{action}:\n{link}\n\n{closing}\n"),
        // A new tab: webmail and the local mail viewer show mail in a frame,
        // and the pages refuse to be framed (`frame-ancestors 'none'`).
        html: format!(
            "<p>{}</p><p><a href=\"{}\" target=\"_blank\">{}</a></p><p>{}</p>",
            escape_html(opening),
            escape_html(&link),
            escape_html(action),
            escape_html(closing)
        ),
    }
}

fn plain(subject: &'static str, body: &str) -> Composed {
    Composed {
        subject,
        text: format!("{body}\n"),
        html: format!("<p>{}</p>", escape_html(body)),
    }
}

impl Mailer {
    /// A mailer whose SES client (from `aws`, the shared SDK settings) gives
    /// up within `SEND_TIMEOUT`: two attempts, close together.
    pub fn new(aws: &SdkConfig, config: &MailConfig) -> Self {
        let ses = aws_sdk_ses::config::Builder::from(aws)
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
            client: aws_sdk_ses::Client::from_conf(ses),
            from: config.ses_from_address.clone(),
            link_base: config.link_base.clone(),
        }
    }

    /// Stores a new token for `user` (replacing the previous one of its
    /// kind) and mails it as `compose` words it, unless the kind's send
    /// limit withholds it. A token whose mail could not be sent is withdrawn
    /// before the send's error is returned.
    pub async fn issue_and_send(
        &self,
        store: &UserStore,
        public_url: &str,
        user: &StoredUser,
        token: TokenMail<'_>,
        compose: impl for<'t> FnOnce(&'t SecretString) -> Mail<'t>,
    ) -> Result<Issued, ApiError> {
        let TokenMail {
            kind,
            sent_to,
            ttl_seconds,
        } = token;
        let token = mail_token::generate()?;
        let token_hash = mail_token::hash(&token);
        let now = unix_now();
        let new_token = NewToken {
            kind,
            hash: &token_hash,
            sent_to,
            expires_at: now + ttl_seconds,
            token_version: user.token_version,
        };
        if let Issue::Withheld {
            retry_after_seconds,
        } = store.issue_token(user, new_token, now).await?
        {
            return Ok(Issued::Withheld {
                retry_after_seconds,
            });
        }
        if let Err(error) = self.send(public_url, sent_to, &compose(&token)).await {
            let sends_before = user.pending.sends(kind);
            let withdrawn = store.cancel_token(kind, &user.user.id, &token_hash, sends_before);
            if let Err(cancel_error) = withdrawn.await {
                tracing::error!(cause = %cause_chain(&cancel_error), "withdrawing an unsent token failed");
            }
            return Err(error);
        }
        Ok(Issued::Sent { token_hash })
    }

    /// Sends `mail` to `to`. Its links point at `LINK_BASE`, or else at the
    /// pages under `public_url`, the API's (`http_api::state::public_url`).
    pub async fn send(
        &self,
        public_url: &str,
        to: &Email,
        mail: &Mail<'_>,
    ) -> Result<(), ApiError> {
        let links = Links::new(self.link_base.as_deref(), public_url);
        let Composed {
            subject,
            text,
            html,
        } = mail.compose(&links);
        let content = |data: String| Content::builder().data(data).charset("UTF-8").build();
        let message = Message::builder()
            .subject(content(subject.to_owned()).map_err(ApiError::unexpected)?)
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

    fn token() -> SecretString {
        SecretString::from("tok-en_1")
    }

    #[test]
    fn links_carry_the_token_in_the_fragment_under_the_pages_or_link_base() {
        let own = Links::new(None, "https://api.example.com/");
        assert_eq!(
            own.to("verify-email", &token()),
            "https://api.example.com/v1/pages/verify-email#token=tok-en_1"
        );
        let app = Links::new(
            Some("https://app.example.com/auth/"),
            "https://api.example.com",
        );
        assert_eq!(
            app.to("reset-password", &token()),
            "https://app.example.com/auth/reset-password#token=tok-en_1"
        );
    }

    #[test]
    fn every_token_mail_links_to_its_page_and_says_how_long_it_works() {
        let links = Links::new(Some("https://app.example.com/a?b=1&c=2"), "https://x.io");
        let token = token();
        for (mail, page, lifetime) in [
            (
                Mail::EmailVerification {
                    token: &token,
                    valid_hours: 24,
                },
                "verify-email",
                "24 hours",
            ),
            (
                Mail::PasswordReset {
                    token: &token,
                    valid_minutes: 30,
                },
                "reset-password",
                "30 minutes",
            ),
            (
                Mail::EmailChange {
                    token: &token,
                    valid_minutes: 60,
                },
                "confirm-email-change",
                "60 minutes",
            ),
        ] {
            let composed = mail.compose(&links);
            let link = format!("https://app.example.com/a?b=1&c=2/{page}#token=tok-en_1");
            assert!(composed.text.contains(&link), "{}", composed.text);
            assert!(composed.text.contains(lifetime));
            assert!(
                composed.html.contains(&link.replace('&', "&amp;")),
                "{}",
                composed.html
            );
        }
    }

    #[test]
    fn the_email_change_notice_links_to_the_cancel_page() {
        let links = Links::new(None, "https://x.io");
        let new_email = Email::parse("new@example.com").unwrap();
        let composed = Mail::EmailChangeRequested {
            new_email,
            cancel_token: &token(),
            valid_minutes: 60,
        }
        .compose(&links);
        assert!(
            composed
                .text
                .contains("https://x.io/v1/pages/cancel-email-change#token=tok-en_1"),
            "{}",
            composed.text
        );
        assert!(composed.text.contains("new@example.com"));
        assert!(composed.text.contains("60 minutes"));
    }

    #[test]
    fn notices_carry_no_link() {
        let links = Links::new(None, "https://x.io");
        let new_email = Email::parse("new@example.com").unwrap();
        for mail in [
            Mail::EmailChanged {
                new_email: &new_email,
            },
            Mail::PasswordChanged,
        ] {
            let composed = mail.compose(&links);
            assert!(!composed.text.contains("https://"), "{}", composed.text);
            assert!(!composed.html.contains("href"));
        }
    }
}
