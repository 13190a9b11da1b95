//! `POST /v1/api/reset_password`: email a password-reset link. The answer
//! is the same for every address (`mailer::alike`).

use accounts::ApiError;
use accounts::domain::Email;
use accounts::store::TokenKind;
use lambda_http::{Body, Error, Request, Response};
use mailer::alike::{MailRequestState, answer_alike};
use mailer::{Issued, Mail, TokenMail};

const MESSAGE: &str = "If that email is registered, a password reset token has been sent";

#[tracing::instrument(name = "Request a password reset", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &MailRequestState, request: Request) -> Result<Response<Body>, Error> {
    Ok(answer_alike(state, &request, MESSAGE, |email| {
        send_reset(state, &request, email)
    })
    .await)
}

/// Mails a new reset token to a registered address, unless one went there
/// less than a minute ago (then the earlier token stays valid).
async fn send_reset(
    state: &MailRequestState,
    request: &Request,
    email: Email,
) -> Result<(), ApiError> {
    let Some(user) = state.store.find_by_email(&email).await? else {
        return Ok(());
    };
    tracing::Span::current().record("user_id", user.user.id.as_str());
    let ttl = state.config.reset_token_ttl_seconds;
    let public_url = state.public_url(request)?;
    let issued = state
        .mailer
        .issue_and_send(
            &state.store,
            &public_url,
            &user,
            TokenMail {
                kind: TokenKind::PasswordReset,
                sent_to: &user.user.email,
                ttl_seconds: ttl,
            },
            |token| Mail::PasswordReset {
                token,
                valid_minutes: ttl / 60,
            },
        )
        .await?;
    match issued {
        Issued::Sent { .. } => tracing::info!("reset email sent"),
        Issued::Withheld { .. } => {
            tracing::info!("reset email withheld: one was sent less than a minute ago");
        }
    }
    Ok(())
}
