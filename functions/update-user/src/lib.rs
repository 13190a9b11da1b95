//! `PUT /v1/api/user`: rename the caller at once, or start moving the
//! account to a new email address. A bearer token alone cannot move the
//! address: the change needs the current password (counted by the login
//! lockout) and is only made when the link mailed to the new address is
//! used (`confirm-email-change`); the old address gets a notice with a
//! link that cancels the change.

use accounts::ApiError;
use accounts::domain::{Email, User, UserName};
use accounts::error::{FieldErrors, cause_chain};
use accounts::store::{EMAIL_CHANGE_TTL_SECONDS, TokenKind};
use http_api::field;
use http_api::http::{json_response, parse_body, respond};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use mailer::{Issued, Mail, MailingState, TokenMail};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// The body of `PUT /v1/api/user`: a name, an email (with the current
/// password), or both.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    name: Option<String>,
    email: Option<String>,
    current_password: Option<SecretString>,
}

/// A profile update whose fields passed the field rules.
struct ProfileChange {
    name: Option<UserName>,
    email: Option<(Email, SecretString)>,
}

impl TryFrom<UpdateUserRequest> for ProfileChange {
    type Error = ApiError;

    fn try_from(request: UpdateUserRequest) -> Result<Self, ApiError> {
        let name_field = field!(UpdateUserRequest, name);
        let email_field = field!(UpdateUserRequest, email);
        if request.name.is_none() && request.email.is_none() {
            let wanted = "give name, email or both";
            return Err(ApiError::MissingFields(FieldErrors::from([
                (name_field.to_owned(), wanted.to_owned()),
                (email_field.to_owned(), wanted.to_owned()),
            ])));
        }
        let name = request.name.as_deref().map(UserName::parse).transpose();
        let email = request.email.as_deref().map(Email::parse).transpose();
        let (name, email) = match (name, email) {
            (Ok(name), Ok(email)) => (name, email),
            (name, email) => {
                return Err(ApiError::invalid_fields([
                    (name_field, name.err()),
                    (email_field, email.err()),
                ]));
            }
        };
        let email = match (email, request.current_password) {
            (Some(email), Some(password)) => Some((email, password)),
            (Some(_), None) => {
                return Err(ApiError::MissingFields(FieldErrors::from([(
                    field!(UpdateUserRequest, current_password).to_owned(),
                    "is needed to change the email address".to_owned(),
                )])));
            }
            // A current password sent with a name alone is not checked:
            // a rename needs none.
            (None, _) => None,
        };
        Ok(ProfileChange { name, email })
    }
}

#[derive(Serialize)]
struct Updated {
    message: &'static str,
    user: User,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_email: Option<Email>,
}

#[tracing::instrument(name = "Update own profile", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &MailingState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(update_user(state, &request).await))
}

async fn update_user(
    mailing: &MailingState,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let state = &mailing.app;
    let caller = state.authenticate(request).await?;
    let change: ProfileChange = parse_body::<UpdateUserRequest>(request)?.try_into()?;
    let current = &caller.user;
    let new_email = change
        .email
        .filter(|(email, _)| *email != current.user.email);

    if let Some((new_email, password)) = &new_email {
        let public_url = state.public_url(request)?;
        state
            .store
            .check_current_password(current, password.clone())
            .await?;
        let (cleared, claimed) = tokio::join!(
            state.store.clear_login_failures(&current.user.email),
            state.store.email_is_claimed(new_email),
        );
        cleared?;
        if claimed? {
            return Err(ApiError::EmailTaken);
        }
        let issued = mailing
            .mailer
            .issue_and_send(
                &state.store,
                &public_url,
                current,
                TokenMail {
                    kind: TokenKind::EmailChange,
                    sent_to: new_email,
                    ttl_seconds: EMAIL_CHANGE_TTL_SECONDS,
                },
                |token| Mail::EmailChange {
                    token,
                    valid_minutes: EMAIL_CHANGE_TTL_SECONDS / 60,
                },
            )
            .await?;
        let change_hash = match issued {
            Issued::Sent { token_hash } => token_hash,
            Issued::Withheld {
                retry_after_seconds,
            } => {
                tracing::info!("email change refused: ten today already");
                return Err(ApiError::TooManyAttempts {
                    retry_after_seconds,
                });
            }
        };
        // The owner must be able to stop a change they did not make: a
        // change whose notice (with its cancel link) cannot reach the old
        // address is withdrawn, and the caller may try again.
        let notice = mailing
            .mailer
            .issue_and_send(
                &state.store,
                &public_url,
                current,
                TokenMail {
                    kind: TokenKind::EmailChangeCancel,
                    sent_to: &current.user.email,
                    ttl_seconds: EMAIL_CHANGE_TTL_SECONDS,
                },
                |cancel_token| Mail::EmailChangeRequested {
                    new_email: new_email.clone(),
                    cancel_token,
                    valid_minutes: EMAIL_CHANGE_TTL_SECONDS / 60,
                },
            )
            .await;
        if !matches!(notice, Ok(Issued::Sent { .. })) {
            let sends_before = current.pending.sends(TokenKind::EmailChange);
            if let Err(error) = state
                .store
                .cancel_token(
                    TokenKind::EmailChange,
                    &current.user.id,
                    &change_hash,
                    sends_before,
                )
                .await
            {
                tracing::error!(cause = %cause_chain(&error), "withdrawing an email change without its notice failed");
            }
            return Err(match notice {
                Err(error) => error,
                Ok(_) => {
                    ApiError::Unavailable("the cancel link to the old address was withheld".into())
                }
            });
        }
        tracing::info!("email change started");
    }
    let user = match change.name {
        Some(name) => state.store.rename(&current.user, name).await?,
        None => current.user.clone(),
    };
    match new_email {
        None => {
            tracing::info!("profile updated");
            json_response(
                StatusCode::OK,
                &Updated {
                    message: "User profile updated successfully",
                    user,
                    pending_email: None,
                },
            )
        }
        Some((pending_email, _)) => json_response(
            StatusCode::ACCEPTED,
            &Updated {
                message: "Confirm the new email address to finish the change",
                user,
                pending_email: Some(pending_email),
            },
        ),
    }
}
