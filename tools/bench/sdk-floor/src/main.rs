//! What one DynamoDB call costs by itself: `hello-world` plus one `GetItem`
//! (of a key no item has) per request, with the SDK configured exactly as the
//! functions configure it. Between this and hello-world lies the AWS SDK's
//! share of a route's CPU time; above this, the project's own.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let table = std::env::var("TABLE_NAME")?;
    let client = aws_sdk_dynamodb::Client::new(&accounts::sdk::defaults().load().await);
    let client = &client;
    let table = table.as_str();
    lambda_http::run(service_fn(move |_request: Request| async move {
        client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S("SDK_FLOOR".to_owned()))
            .key("sk", AttributeValue::S("SDK_FLOOR".to_owned()))
            .send()
            .await?;
        Ok::<_, Error>(
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from(r#"{"message":"Hello"}"#))?,
        )
    }))
    .await
}
