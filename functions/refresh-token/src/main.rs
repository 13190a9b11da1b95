#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::lambda::run(
        token_issuer::SigningState::from_env(),
        refresh_token::handler,
    )
    .await
}
