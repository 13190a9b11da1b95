#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(get_user::handler).await
}
