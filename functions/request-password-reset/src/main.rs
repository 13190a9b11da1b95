#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::lambda::run(
        request_password_reset::ResetRequestState::from_env(),
        request_password_reset::handler,
    )
    .await
}
