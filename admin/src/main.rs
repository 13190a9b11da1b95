//! `users-admin`: administration of the user table from a shell.
//!
//! Reads the same environment variables as the functions (`TABLE_NAME`, and
//! the standard AWS ones, `AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB Local), so
//! one binary serves the local stack and a deployed table alike.

use std::process::ExitCode;

use shared::state::aws_defaults;
use shared::store::schema;

const USAGE: &str = "usage: users-admin create-table

commands:
  create-table   create the table named by TABLE_NAME unless it exists";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Ok(table) = std::env::var("TABLE_NAME") else {
        eprintln!("users-admin: set TABLE_NAME to the user table's name");
        return ExitCode::from(2);
    };
    let client = aws_sdk_dynamodb::Client::new(&aws_defaults().load().await);

    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["create-table"] => match schema::ensure_table(&client, &table).await {
            Ok(true) => {
                println!("created table {table}");
                ExitCode::SUCCESS
            }
            Ok(false) => {
                println!("table {table} already exists");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("users-admin: could not create table {table}: {error}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
