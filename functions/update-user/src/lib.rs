//! `PUT /v1/api/user`: change the caller's name, email or both.

use accounts::ApiError;
use accounts::domain::{Email, User, UserName};
use accounts::error::FieldErrors;
use accounts::store::ProfileChange;
use http_api::AppState;
use http_api::field;
use http_api::http::{json_response, parse_body, respond};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::{Deserialize, Serialize};

/// The body of `PUT /v1/api/user`: either field, or both.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    name: Option<String>,
    email: Option<String>,
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
        match (name, email) {
            (Ok(name), Ok(email)) => Ok(ProfileChange { name, email }),
            (name, email) => Err(ApiError::invalid_fields([
                (name_field, name.err()),
                (email_field, email.err()),
            ])),
        }
    }
}

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
    let change = parse_body::<UpdateUserRequest>(request)?.try_into()?;

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
