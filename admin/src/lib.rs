//! `users-admin`: administration of the user table from a shell.
//!
//! The commands live here, so tests run them against DynamoDB Local exactly
//! as the binary does; `main.rs` only reads the environment and turns the
//! outcome into output and an exit status.

use accounts::domain::Email;
use accounts::error::cause_chain;
use accounts::store::{UserStore, schema};

pub const USAGE: &str = "usage: users-admin <command>

commands:
  create-table      create the table named by TABLE_NAME unless it exists
  promote <email>   give the user with this email admin rights
  demote <email>    take admin rights away from the user with this email
  list              print every user (id, email, name, admin, created_at), oldest first

environment: TABLE_NAME, and AWS credentials and region as for the AWS CLI
(AWS_ENDPOINT_URL_DYNAMODB points it at DynamoDB Local).";

/// Why a command did not succeed.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// The command line is wrong (exit status 2).
    Usage(String),
    /// The command was understood but could not be done (exit status 1).
    Refused(String),
}

/// Runs one command against `table`; returns what to print.
pub async fn execute(
    args: &[&str],
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<String, Failure> {
    let store = UserStore::new(client.clone(), table);
    match args {
        ["create-table"] => {
            let created = schema::ensure_table(client, table).await.map_err(|error| {
                Failure::Refused(format!("could not create table {table}: {error}"))
            })?;
            Ok(if created {
                format!("created table {table}")
            } else {
                format!("table {table} already exists")
            })
        }
        [command @ ("promote" | "demote"), email] => {
            let admin = *command == "promote";
            let email = Email::parse(email)
                .map_err(|problem| Failure::Refused(format!("that email address {problem}")))?;
            let found = store.find_by_email(&email).await.map_err(store_failure)?;
            let user = found.ok_or_else(|| {
                Failure::Refused(format!("no user has the email {}", email.as_str()))
            })?;
            // The account may go between the lookup and the update: then
            // nothing changed, and the operator must hear so.
            let changed = store
                .set_admin(&user.user.id, admin)
                .await
                .map_err(store_failure)?
                .ok_or_else(|| {
                    Failure::Refused(format!(
                        "the user with the email {} (id {}) was deleted meanwhile; nothing changed",
                        email.as_str(),
                        user.user.id
                    ))
                })?;
            Ok(format!(
                "{} (id {}) is {} an admin",
                changed.email.as_str(),
                changed.id,
                if admin { "now" } else { "no longer" }
            ))
        }
        ["list"] => {
            let mut lines = Vec::new();
            let mut after = None;
            loop {
                let page = store
                    .list_users(100, after.as_ref())
                    .await
                    .map_err(store_failure)?;
                lines.extend(page.users.iter().map(|user| {
                    format!(
                        "{}\t{}\t{}\t{}\t{}",
                        user.id,
                        user.email.as_str(),
                        user.name.as_str(),
                        if user.admin { "admin" } else { "-" },
                        user.created_at
                    )
                }));
                match page.last {
                    Some(last) => after = Some(last),
                    None => return Ok(lines.join("\n")),
                }
            }
        }
        _ => Err(Failure::Usage(format!(
            "unknown command: {}",
            args.join(" ")
        ))),
    }
}

fn store_failure(error: accounts::ApiError) -> Failure {
    Failure::Refused(cause_chain(&error))
}
