//! `GET /v1/pages/{page}`: the pages the mailed links open (API.md "Emails
//! and pages"), and the one script and stylesheet they share. Everything is
//! compiled into the binary: no configuration, no AWS call.
//!
//! A function rather than a bucket behind a CDN: the pages must share the
//! API's origin, because their policy lets the script talk to `'self'` only
//! (no CORS to configure), and the same function then serves them under
//! `make dev`, `sam local` and API Gateway alike.

use accounts::ApiError;
use http_api::http::respond;
use lambda_http::http::StatusCode;
use lambda_http::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use lambda_http::{Body, Error, Request, RequestExt, Response};

/// Only the page's own script and stylesheet, only calls to this origin,
/// no framing, no inline code: a token read from the fragment has nowhere
/// to go but this API.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// The pages hold no token or user data (the token stays in the fragment,
/// which no request carries), so browsers and caches may keep them briefly;
/// five minutes bounds how long an old copy outlives a deploy.
pub const CACHE_CONTROL_VALUE: &str = "public, max-age=300";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: [Asset; 6] = [
    Asset {
        name: "reset-password",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../static/reset-password.html"),
    },
    Asset {
        name: "verify-email",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../static/verify-email.html"),
    },
    Asset {
        name: "confirm-email-change",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../static/confirm-email-change.html"),
    },
    Asset {
        name: "cancel-email-change",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../static/cancel-email-change.html"),
    },
    Asset {
        name: "pages.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../static/pages.js"),
    },
    Asset {
        name: "pages.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../static/pages.css"),
    },
];

#[tracing::instrument(name = "Serve a page", skip_all)]
pub async fn handler(_: &(), request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(page(&request)))
}

fn page(request: &Request) -> Result<Response<Body>, ApiError> {
    let name = request
        .path_parameters_ref()
        .and_then(|parameters| parameters.first("page"));
    let asset = ASSETS
        .iter()
        .find(|asset| Some(asset.name) == name)
        .ok_or(ApiError::PageNotFound)?;
    let headers = [
        (CONTENT_TYPE, asset.content_type),
        (CACHE_CONTROL, CACHE_CONTROL_VALUE),
        (CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_VALUE),
        (REFERRER_POLICY, "no-referrer"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    headers
        .into_iter()
        .fold(
            Response::builder().status(StatusCode::OK),
            |builder, (name, value)| builder.header(name, value),
        )
        .body(Body::Text(asset.body.to_owned()))
        .map_err(ApiError::unexpected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn get(page: &str) -> Response<Body> {
        let request = Request::default()
            .with_path_parameters(HashMap::from([("page".to_owned(), page.to_owned())]));
        respond(super::page(&request))
    }

    fn header<'a>(response: &'a Response<Body>, name: &str) -> &'a str {
        response.headers()[name].to_str().expect("an ASCII header")
    }

    fn text(response: &Response<Body>) -> &str {
        match response.body() {
            Body::Text(text) => text,
            other => panic!("a text body, not {other:?}"),
        }
    }

    #[test]
    fn every_page_and_asset_carries_the_headers_of_api_md() {
        for asset in &ASSETS {
            let response = get(asset.name);
            assert_eq!(response.status(), StatusCode::OK, "{}", asset.name);
            assert_eq!(header(&response, "content-type"), asset.content_type);
            assert_eq!(
                header(&response, "content-security-policy"),
                "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
            );
            assert_eq!(header(&response, "referrer-policy"), "no-referrer");
            assert_eq!(header(&response, "x-content-type-options"), "nosniff");
            assert_eq!(header(&response, "cache-control"), "public, max-age=300");
            assert_eq!(text(&response), asset.body);
        }
    }

    #[test]
    fn each_page_loads_only_the_shared_script_and_stylesheet_and_nothing_inline() {
        for asset in ASSETS
            .iter()
            .filter(|asset| asset.content_type.starts_with("text/html"))
        {
            let html = asset.body;
            assert!(
                html.contains(r#"<script src="pages.js" defer></script>"#),
                "{}",
                asset.name
            );
            assert!(
                html.contains(r#"<link rel="stylesheet" href="pages.css">"#),
                "{}",
                asset.name
            );
            assert_eq!(
                html.matches("<script").count(),
                1,
                "{}: one script",
                asset.name
            );
            for inline in [
                " style=",
                "<style",
                " onclick=",
                " onsubmit=",
                "javascript:",
                "http://",
                "https://",
            ] {
                assert!(!html.contains(inline), "{} contains {inline:?}", asset.name);
            }
            assert!(
                html.contains(&format!(r#"data-page="{}""#, asset.name)),
                "{}",
                asset.name
            );
        }
    }

    #[test]
    fn an_unknown_or_missing_page_is_a_json_404() {
        for page in [
            "",
            "index.html",
            "../Cargo.toml",
            "reset-password/",
            "PAGES.JS",
        ] {
            let response = get(page);
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{page:?}");
            assert_eq!(header(&response, "content-type"), "application/json");
            assert!(
                text(&response).contains(r#""code":"page_not_found""#),
                "{page:?}"
            );
        }
        let response = respond(super::page(&Request::default()));
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
