#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::lambda::run(
        mailer::alike::MailRequestState::from_env(),
        request_password_reset::handler,
    )
    .await
}
