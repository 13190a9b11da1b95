#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::password::prepare_working_area();
    shared::lambda::run(shared::AppState::from_env(), reset_password::handler).await
}
