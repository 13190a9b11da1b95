//! `users-admin`: administration of the user table from a shell.
//!
//! The commands live here, so tests run them against DynamoDB Local exactly
//! as the binary does; `main.rs` only reads the environment and turns the
//! outcome into output and an exit status.

mod keys;

use accounts::clock::unix_now;
use accounts::domain::Email;
use accounts::error::cause_chain;
use accounts::store::{UserStore, schema};
use signing_keys::{KeyVault, SessionSecret};

pub use keys::{AUTHORIZER_KEY_CACHE_SECONDS, RETIRE_MARGIN_SECONDS, generate_key};

pub const USAGE: &str = "usage: users-admin <command>

commands:
  create-table      create the table named by TABLE_NAME unless it exists
  promote <email> [--force]
                    give the user with this email admin rights (--force: even
                    though the address is not verified)
  demote <email>    take admin rights away from the user with this email
  sign-out <email>  end every session of the user with this email (and with them a
                    pending email change or reset: what a compromised account needs)
  list              print every user (id, email, name, admin, created_at), oldest first
  session-secret create
                    create the secret that refresh-token keys derive from, unless it
                    exists (a local stack: a deployed stack's template makes it)
  keys list         print the token-signing keys and where each is in its life
  keys add [--activate [--force]]
                    make a new signing key and publish it (--activate: the first key only;
                    --force: replace the active key at once, e.g. after a leak)
  keys activate <kid> [--force]
                    make a published key sign (--force: before 2 h 10 min have passed)
  keys retire <kid> [--force]
                    remove a key that no longer signs, once its tokens have expired
                    (--force: at once, ending them, e.g. after a leak)

environment: TABLE_NAME; for session-secret SESSION_KEY_SECRET_ID; for keys also SIGNING_KEYS_SECRET_ID and
ACCESS_TOKEN_TTL_SECONDS (as the functions have it, default 900); AWS
credentials and region as for the AWS CLI (AWS_ENDPOINT_URL_DYNAMODB and
AWS_ENDPOINT_URL_SECRETS_MANAGER point it at the local emulators). `keys add`
needs the openssl command.";

/// Where the commands act.
pub struct Admin {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
    /// The signing keys' secret; only the keys commands need it.
    pub vault: Option<KeyVault>,
    /// The session secret; only `session-secret create` needs it.
    pub session_secret: Option<SessionSecret>,
    pub access_token_ttl_seconds: u64,
}

/// Why a command did not succeed.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// The command line is wrong (exit status 2).
    Usage(String),
    /// The command was understood but could not be done (exit status 1).
    Refused(String),
}

/// Runs one command against `table`; returns what to print.
pub async fn execute(args: &[&str], admin: &Admin) -> Result<String, Failure> {
    let (client, table) = (&admin.dynamodb, admin.table.as_str());
    let store = UserStore::new(client.clone(), table);
    match args {
        ["keys", command @ ..] => {
            let vault = admin.vault.as_ref().ok_or_else(|| {
                Failure::Usage("set SIGNING_KEYS_SECRET_ID to the signing keys' secret".to_owned())
            })?;
            keys::KeyAdmin {
                store: &store,
                vault,
                access_token_ttl_seconds: admin.access_token_ttl_seconds,
                now: unix_now(),
            }
            .execute(command)
            .await
        }
        ["session-secret", "create"] => {
            let secret = admin.session_secret.as_ref().ok_or_else(|| {
                Failure::Usage("set SESSION_KEY_SECRET_ID to the session secret".to_owned())
            })?;
            Ok(
                if secret.create_if_missing().await.map_err(store_failure)? {
                    "created the session secret".to_owned()
                } else {
                    "the session secret exists already".to_owned()
                },
            )
        }
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
        [command @ ("promote" | "demote"), email, flags @ ..]
            if flags.is_empty() || (*command == "promote" && flags == ["--force"]) =>
        {
            let admin = *command == "promote";
            let force = !flags.is_empty();
            let email = Email::parse(email)
                .map_err(|problem| Failure::Refused(format!("that email address {problem}")))?;
            let found = store.find_by_email(&email).await.map_err(store_failure)?;
            let user = found.ok_or_else(|| {
                Failure::Refused(format!("no user has the email {}", email.as_str()))
            })?;
            // Admin rights go to whoever controls the address: one never
            // proven may belong to someone else (API.md, "Admins").
            if admin && !user.user.email_verified && !force {
                return Err(Failure::Refused(format!(
                    "the email {} (id {}) is not verified yet: whoever registered it may not own it. Nothing changed; promote anyway with --force",
                    email.as_str(),
                    user.user.id
                )));
            }
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
        ["sign-out", email] => {
            let email = Email::parse(email)
                .map_err(|problem| Failure::Refused(format!("that email address {problem}")))?;
            let found = store.find_by_email(&email).await.map_err(store_failure)?;
            let user = found.ok_or_else(|| {
                Failure::Refused(format!("no user has the email {}", email.as_str()))
            })?;
            if !store
                .end_all_sessions(&user.user.id)
                .await
                .map_err(store_failure)?
            {
                return Err(Failure::Refused(format!(
                    "the user with the email {} (id {}) was deleted meanwhile",
                    email.as_str(),
                    user.user.id
                )));
            }
            Ok(format!(
                "{} (id {}) is signed out everywhere",
                email.as_str(),
                user.user.id
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

pub(crate) fn store_failure(error: accounts::ApiError) -> Failure {
    Failure::Refused(cause_chain(&error))
}
