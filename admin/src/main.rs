//! The `users-admin` binary: environment in, output and exit status out.

use std::process::ExitCode;

use accounts::sdk;
use signing_keys::{KeyVault, SessionSecret};
use users_admin::{Admin, Failure, USAGE, execute};

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
    let ttl = match accounts::Config::from_env() {
        Ok(config) => config.access_token_ttl_seconds,
        Err(problem) => {
            eprintln!("users-admin: {problem}");
            return ExitCode::from(2);
        }
    };
    let aws = sdk::defaults().load().await;
    let admin = Admin {
        dynamodb: aws_sdk_dynamodb::Client::new(&aws),
        vault: signing_keys::secret_id_from_env()
            .ok()
            .map(|secret_id| KeyVault::new(&aws, &secret_id)),
        session_secret: signing_keys::session_secret_id_from_env()
            .ok()
            .map(|secret_id| SessionSecret::new(&aws, &secret_id)),
        table,
        access_token_ttl_seconds: ttl,
    };
    match execute(&args, &admin).await {
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
