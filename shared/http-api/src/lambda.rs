//! The one way a function binary starts: logging, state built once per cold
//! start, then the Lambda runtime loop.

use std::future::Future;

use lambda_http::{Body, Error, Request, Response, service_fn};

use crate::telemetry;

pub async fn run<S, F, Fut>(
    state: impl Future<Output = Result<S, Error>>,
    handler: F,
) -> Result<(), Error>
where
    S: Sync + 'static,
    F: Fn(&'static S, Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, Error>> + Send,
{
    telemetry::init();
    let state = state.await.inspect_err(|error| {
        tracing::error!(cause = %error, "the function could not start");
    })?;
    // The state lives as long as the process, which is what a Lambda
    // execution environment is; leaking it lets every invocation borrow it.
    let state: &'static S = Box::leak(Box::new(state));
    lambda_http::run(service_fn(|request| handler(state, request))).await
}
