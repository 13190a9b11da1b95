//! `POST /v1/api/verify_email`: mail a new verification link to an
//! unverified address. The answer is the same for every address
//! (`mailer::alike`); at most one mail per address a minute and five a day,
//! and a new token replaces the previous one.

use accounts::ApiError;
use accounts::domain::Email;
use accounts::store::{TokenKind, VERIFICATION_TTL_SECONDS};
use lambda_http::{Body, Error, Request, Response};
use mailer::alike::{MailRequestState, answer_alike};
use mailer::{Issued, Mail, TokenMail};

const MESSAGE: &str =
    "If that email is registered and not yet verified, a verification email has been sent";

#[tracing::instrument(name = "Request a verification email", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &MailRequestState, request: Request) -> Result<Response<Body>, Error> {
    Ok(answer_alike(state, &request, MESSAGE, |email| {
        send_verification(state, &request, email)
    })
    .await)
}

async fn send_verification(
    state: &MailRequestState,
    request: &Request,
    email: Email,
) -> Result<(), ApiError> {
    let Some(user) = state.store.find_by_email(&email).await? else {
        return Ok(());
    };
    tracing::Span::current().record("user_id", user.user.id.as_str());
    if user.user.email_verified {
        tracing::info!("verification email not sent: the address is verified");
        return Ok(());
    }
    let public_url = state.public_url(request)?;
    let issued = state
        .mailer
        .issue_and_send(
            &state.store,
            &public_url,
            &user,
            TokenMail {
                kind: TokenKind::EmailVerification,
                sent_to: &user.user.email,
                ttl_seconds: VERIFICATION_TTL_SECONDS,
            },
            |token| Mail::EmailVerification {
                token,
                valid_hours: VERIFICATION_TTL_SECONDS / 3600,
            },
        )
        .await?;
    match issued {
        Issued::Sent { .. } => tracing::info!("verification email sent"),
        Issued::Withheld { .. } => {
            tracing::info!("verification email withheld: one a minute, five a day");
        }
    }
    Ok(())
}
