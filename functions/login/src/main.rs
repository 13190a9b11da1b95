#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    accounts::password::prepare_working_area();
    http_api::lambda::run(token_issuer::SigningState::from_env(), login::handler).await
}
