#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::lambda::run(
        mailer::MailingState::from_env(),
        confirm_email_change::handler,
    )
    .await
}
