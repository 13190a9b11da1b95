//! `GET /.well-known/openid-configuration` and `GET /.well-known/jwks.json`
//! (route 17): what another service's API Gateway JWT authorizer (or any
//! JWT library) needs to accept this API's access tokens with no code. The
//! discovery document names the issuer (exactly the tokens' `iss`) and
//! where the keys are; the key set holds public keys only. Both may be
//! cached for ten minutes.

use accounts::ApiError;
use http_api::AppState;
use http_api::http::{public_json_response, respond};
use lambda_http::{Body, Error, Request, Response};
use serde::Serialize;

pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The OpenID Provider Metadata members that describe these tokens. There
/// is no authorization endpoint (this is not an OAuth server): the members
/// about one are left out rather than filled with something untrue.
#[derive(Serialize)]
struct Discovery<'a> {
    issuer: &'a str,
    jwks_uri: String,
    id_token_signing_alg_values_supported: [&'static str; 1],
    subject_types_supported: [&'static str; 1],
    response_types_supported: [&'static str; 1],
    claims_supported: [&'static str; 7],
}

#[tracing::instrument(name = "Serve the key documents", skip_all)]
pub async fn handler(state: &AppState, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(well_known(state, &request).await))
}

async fn well_known(state: &AppState, request: &Request) -> Result<Response<Body>, ApiError> {
    match request.uri().path() {
        DISCOVERY_PATH => {
            let issuer = state.public_url(request)?;
            public_json_response(&Discovery {
                jwks_uri: format!("{issuer}{JWKS_PATH}"),
                issuer: &issuer,
                id_token_signing_alg_values_supported: ["RS256"],
                subject_types_supported: ["public"],
                response_types_supported: ["token"],
                claims_supported: ["iss", "aud", "sub", "sid", "iat", "exp", "jti"],
            })
        }
        JWKS_PATH => {
            let keys = state.keys.current(&state.store).await?;
            public_json_response(&keys.jwks())
        }
        _ => Err(ApiError::unexpected(
            "a path this function is not routed for",
        )),
    }
}
