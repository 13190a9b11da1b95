#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::lambda::run(
        http_api::signing::SigningState::from_env(),
        refresh_token::handler,
    )
    .await
}
