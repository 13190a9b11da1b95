//! The `users-admin` binary: environment in, output and exit status out.

use std::process::ExitCode;

use accounts::sdk;
use users_admin::{Failure, USAGE, execute};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if matches!(args.as_slice(), [] | ["-h" | "--help" | "help"]) {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let Some(table) = std::env::var("TABLE_NAME")
        .ok()
        .filter(|table| !table.is_empty())
    else {
        eprintln!("users-admin: set TABLE_NAME to the user table's name\n\n{USAGE}");
        return ExitCode::from(2);
    };
    let client = aws_sdk_dynamodb::Client::new(&sdk::defaults().load().await);
    match execute(&args, &client, &table).await {
        Ok(output) => {
            if !output.is_empty() {
                println!("{output}");
            }
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(problem)) => {
            eprintln!("users-admin: {problem}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Refused(problem)) => {
            eprintln!("users-admin: {problem}");
            ExitCode::FAILURE
        }
    }
}
