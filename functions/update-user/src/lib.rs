//! `PUT /v1/api/user`: change the caller's name, email or both.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Serialize;
use shared::domain::{Email, UserName};
use shared::error::FieldErrors;
use shared::http::{Fields, json_response, respond};
use shared::store::{ProfileChange, User};
use shared::{ApiError, AppState};

const FIELDS: [&str; 2] = ["name", "email"];

#[derive(Serialize)]
struct Updated {
    message: &'static str,
    user: User,
}

#[tracing::instrument(name = "Update own profile", skip_all, fields(user_id = tracing::field::Empty))]
pub async fn handler(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(update_user(state, &request).await))
}

async fn update_user(state: &AppState, request: &Request) -> Result<Response<Body>, ApiError> {
    let caller = state.authenticate(request).await?;
    let mut fields = Fields::from_request(request, &FIELDS, &[])?;
    let (name, email) = (fields.take("name"), fields.take("email"));
    if name.is_none() && email.is_none() {
        let wanted = "give name, email or both";
        return Err(ApiError::MissingFields(FieldErrors::from([
            ("name".to_owned(), wanted.to_owned()),
            ("email".to_owned(), wanted.to_owned()),
        ])));
    }
    let name = name.as_deref().map(UserName::parse).transpose();
    let email = email.as_deref().map(Email::parse).transpose();
    let change = match (name, email) {
        (Ok(name), Ok(email)) => ProfileChange { name, email },
        (name, email) => {
            return Err(ApiError::invalid_fields([
                ("name", name.err()),
                ("email", email.err()),
            ]));
        }
    };

    let user = state
        .store
        .update_profile(&caller.user.user, change)
        .await?;
    tracing::info!("profile updated");
    json_response(
        StatusCode::OK,
        &Updated {
            message: "User profile updated successfully",
            user,
        },
    )
}
