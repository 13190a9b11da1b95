#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    // Static pages: no configuration and no AWS client to build.
    http_api::lambda::run(async { Ok(()) }, pages::handler).await
}
