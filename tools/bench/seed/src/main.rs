//! `bench-seed COUNT TIMING_COUNT`: creates, through the service's own store code, what
//! `lambda-bench` feeds the functions, and prints it as one JSON object:
//!
//! - `password`: the password of every seeded user (the events' own);
//! - `login_emails`: COUNT users to log in as, one login each (a user's
//!   typical login: one of a 101st would also end the least recently used
//!   session); `user_token`, `admin_token`: tokens of a user and of an admin;
//! - `logout_tokens`: COUNT distinct tokens of one user (each logout ends one
//!   session);
//! - `reset_request_emails`: COUNT users' emails (the resend window allows
//!   one reset email per user and minute);
//! - `reset_tokens`: COUNT live reset tokens, one per user;
//! - `delete_tokens`: COUNT tokens, one per user (each delete removes one);
//! - `refresh_tokens`: the first refresh tokens of COUNT sessions of one user
//!   (each refresh advances one);
//! - `sessions_token`, `session_ids`: a token of one user and COUNT other
//!   sessions of that user (each end removes one);
//! - `verification_request_emails`: COUNT unverified users whose
//!   registration mail failed (so a new one is due at once);
//! - `verification_tokens`: COUNT unverified users' live verification tokens;
//! - `email_change_tokens`: COUNT users' live email-change tokens;
//! - `password_change_tokens`: tokens of COUNT users whose password is the
//!   one events/change-password.json gives as current;
//! - `timing_known_emails`, `timing_unknown_emails`: TIMING_COUNT registered
//!   users and as many addresses nobody registered, none with a failed login yet:
//!   the wrong-password logins that compare the two.
//!
//! Runs against whatever `TABLE_NAME` and `AWS_ENDPOINT_URL_DYNAMODB` name:
//! tools/bench.sh points them at a DynamoDB Local of its own. Prints tokens:
//! never run it against a real table.

use std::process::ExitCode;

use accounts::clock::unix_now;
use accounts::domain::{Email, User, UserName};
use accounts::keys::SigningKey;
use accounts::store::session_items::SessionRecord;
use accounts::store::{
    EMAIL_CHANGE_TTL_SECONDS, NewToken, NewUser, TokenKind, UserStore, VERIFICATION_TTL_SECONDS,
};
use accounts::token::TokenSigner;
use accounts::{ApiError, Config, mail_token, password};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use signing_keys::{KeyVault, SessionSecret};
use tokio::task::JoinSet;

/// The password of events/login.json.
const PASSWORD: &str = "correct horse battery staple";
/// The current password of events/change-password.json.
const CHANGED_FROM: &str = "a brand new passphrase";
/// Writes in flight at once: enough to hide DynamoDB Local's latency.
const CONCURRENCY: usize = 16;
const RESET_TOKEN_TTL_SECONDS: u64 = 3600;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let counts: Vec<usize> = std::env::args()
        .skip(1)
        .map_while(|n| n.parse().ok())
        .collect();
    let [count, timing_count] = counts[..] else {
        eprintln!("usage: bench-seed COUNT TIMING_COUNT");
        return ExitCode::from(2);
    };
    match seed(count, timing_count).await {
        Ok(fixtures) => {
            println!("{fixtures}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("bench-seed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn seed(count: usize, timing_count: usize) -> Result<Value, Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let aws = accounts::sdk::defaults().load().await;
    let store = UserStore::new(aws_sdk_dynamodb::Client::new(&aws), &config.table_name);
    // Tokens as login issues them: the active key from the local secret.
    let published = store.key_set().await?.keys;
    let active = published
        .active_kid
        .clone()
        .ok_or("no active signing key")?;
    let key = KeyVault::new(&aws, &signing_keys::secret_id_from_env()?)
        .keys()
        .await?
        .into_iter()
        .find(|key| key.kid == active)
        .ok_or("the active key is not in the secret")?;
    let issuer = config.jwt_issuer.clone().ok_or("set JWT_ISSUER")?;
    let tokens = Tokens {
        signer: TokenSigner::new(&config.jwt_audience, config.access_token_ttl_seconds),
        key,
        issuer,
    };
    let hash = password::hash(SecretString::from(PASSWORD)).await?;
    // Several runs may share a table: every address is new.
    let run = uuid_fragment();
    let addresses = |pool: &str, count: usize| {
        (0..count)
            .map(|i| format!("bench-{run}-{pool}-{i}@example.com"))
            .collect::<Vec<_>>()
    };
    let new_users = |pool: &str| addresses(pool, count);

    let login = create_users(&store, new_users("login"), &hash).await?;
    let reader = create_users(
        &store,
        vec![format!("bench-{run}-reader@example.com")],
        &hash,
    )
    .await?;
    let logging_out = create_users(
        &store,
        vec![format!("bench-{run}-logout@example.com")],
        &hash,
    )
    .await?;
    let admin = create_users(
        &store,
        vec![format!("bench-{run}-admin@example.com")],
        &hash,
    )
    .await?;
    store.set_admin(&admin[0].id, true).await?;
    let reset_request = create_users(&store, new_users("reset-request"), &hash).await?;
    let reset = create_users(&store, new_users("reset"), &hash).await?;
    let delete = create_users(&store, new_users("delete"), &hash).await?;

    let mut reset_tokens = Vec::with_capacity(count);
    for user in reset {
        let token = mail_token::generate()?;
        let stored = store
            .find_by_id(&user.id)
            .await?
            .ok_or("a seeded user vanished")?;
        let now = unix_now();
        let new_token = NewToken {
            kind: TokenKind::PasswordReset,
            hash: &mail_token::hash(&token),
            sent_to: &user.email,
            expires_at: now + RESET_TOKEN_TTL_SECONDS,
            token_version: stored.token_version,
        };
        store.issue_token(&stored, new_token, now).await?;
        reset_tokens.push(token.expose_secret().to_owned());
    }

    let mut logout_tokens = Vec::with_capacity(count);
    for _ in 0..count {
        logout_tokens.push(issue(&store, &config, &tokens, &logging_out[0]).await?);
    }
    let mut delete_tokens = Vec::with_capacity(count);
    for user in &delete {
        delete_tokens.push(issue(&store, &config, &tokens, user).await?);
    }
    let refreshing = create_users(
        &store,
        vec![format!("bench-{run}-refresh@example.com")],
        &hash,
    )
    .await?;
    let session_keys = SessionSecret::new(&aws, &signing_keys::session_secret_id_from_env()?)
        .keys()
        .await?;
    let mut refresh_tokens = Vec::with_capacity(count);
    for _ in 0..count {
        let session = new_session(&store, &config, &refreshing[0]).await?;
        let token = session.current_token().encode(&session_keys)?;
        refresh_tokens.push(token.expose_secret().to_owned());
    }
    let many = create_users(
        &store,
        vec![format!("bench-{run}-sessions@example.com")],
        &hash,
    )
    .await?;
    let mut session_ids = Vec::with_capacity(count);
    for _ in 0..count {
        session_ids.push(new_session(&store, &config, &many[0]).await?.id.to_string());
    }

    let kind = TokenKind::EmailVerification;
    let mut verification_request_emails = Vec::with_capacity(count);
    for (user, token) in create_unverified(&store, new_users("resend"), &hash).await? {
        // As after a registration whose mail failed: withdrawn, not counted.
        let token_hash = mail_token::hash(&token);
        store.cancel_token(kind, &user.id, &token_hash, &[]).await?;
        verification_request_emails.push(user.email.as_str().to_owned());
    }
    let verification_tokens: Vec<String> = create_unverified(&store, new_users("verify"), &hash)
        .await?
        .iter()
        .map(|(_, token)| token.expose_secret().to_owned())
        .collect();
    let mut email_change_tokens = Vec::with_capacity(count);
    for user in create_users(&store, new_users("move"), &hash).await? {
        let stored = store
            .find_by_id(&user.id)
            .await?
            .ok_or("a seeded user vanished")?;
        let token = mail_token::generate()?;
        let now = unix_now();
        let new_email = Email::parse(&format!("moved-{}", user.email.as_str()))?;
        let new_token = NewToken {
            kind: TokenKind::EmailChange,
            hash: &mail_token::hash(&token),
            sent_to: &new_email,
            expires_at: now + EMAIL_CHANGE_TTL_SECONDS,
            token_version: stored.token_version,
        };
        store.issue_token(&stored, new_token, now).await?;
        email_change_tokens.push(token.expose_secret().to_owned());
    }
    let changing_hash = password::hash(SecretString::from(CHANGED_FROM)).await?;
    let mut password_change_tokens = Vec::with_capacity(count);
    for user in create_users(&store, new_users("change"), &changing_hash).await? {
        password_change_tokens.push(issue(&store, &config, &tokens, &user).await?);
    }
    let timing_known = create_users(&store, addresses("timing-known", timing_count), &hash).await?;
    Ok(json!({
        "password": PASSWORD,
        "timing_known_emails": timing_known.iter().map(|u| u.email.as_str()).collect::<Vec<_>>(),
        "timing_unknown_emails": addresses("timing-unknown", timing_count),
        "login_emails": login.iter().map(|u| u.email.as_str()).collect::<Vec<_>>(),
        "user_token": issue(&store, &config, &tokens, &reader[0]).await?,
        "admin_token": issue(&store, &config, &tokens, &admin[0]).await?,
        "logout_tokens": logout_tokens,
        "reset_request_emails": reset_request.iter().map(|u| u.email.as_str()).collect::<Vec<_>>(),
        "reset_tokens": reset_tokens,
        "delete_tokens": delete_tokens,
        "refresh_tokens": refresh_tokens,
        "sessions_token": issue(&store, &config, &tokens, &many[0]).await?,
        "session_ids": session_ids,
        "verification_request_emails": verification_request_emails,
        "verification_tokens": verification_tokens,
        "email_change_tokens": email_change_tokens,
        "password_change_tokens": password_change_tokens,
    }))
}

struct Tokens {
    signer: TokenSigner,
    key: SigningKey,
    issuer: String,
}

/// An access token as login issues it: in a session of its own.
async fn issue(
    store: &UserStore,
    config: &Config,
    tokens: &Tokens,
    user: &User,
) -> Result<String, ApiError> {
    let session = new_session(store, config, user).await?;
    Ok(tokens
        .signer
        .issue(&tokens.key, &tokens.issuer, &user.id, &session.id)?
        .token
        .expose_secret()
        .to_owned())
}

/// A stored session of `user`, as login begins one.
async fn new_session(
    store: &UserStore,
    config: &Config,
    user: &User,
) -> Result<SessionRecord, ApiError> {
    let session = SessionRecord::begin(&user.id, 0, Some("bench-seed"), unix_now())?;
    store.create_session(&session, &config.sessions).await?;
    Ok(session)
}

/// Users as one that registered and used the verification link.
async fn create_users(
    store: &UserStore,
    emails: Vec<String>,
    password_hash: &str,
) -> Result<Vec<User>, Box<dyn std::error::Error>> {
    let accounts = create_accounts(store, emails, password_hash, true).await?;
    Ok(accounts.into_iter().map(|(user, _)| user).collect())
}

/// Users as registered, verification link unused: each with its token.
async fn create_unverified(
    store: &UserStore,
    emails: Vec<String>,
    password_hash: &str,
) -> Result<Vec<(User, SecretString)>, Box<dyn std::error::Error>> {
    create_accounts(store, emails, password_hash, false).await
}

/// Registers a user per address, `CONCURRENCY` at a time, each with the
/// verification token registration mails; with `verified`, the token is
/// then used, as by the owner.
async fn create_accounts(
    store: &UserStore,
    emails: Vec<String>,
    password_hash: &str,
    verified: bool,
) -> Result<Vec<(User, SecretString)>, Box<dyn std::error::Error>> {
    let mut users = Vec::with_capacity(emails.len());
    for chunk in emails.chunks(CONCURRENCY) {
        let mut writes = JoinSet::new();
        for (i, email) in chunk.iter().enumerate() {
            let new_user = NewUser {
                email: Email::parse(email)?,
                name: UserName::parse("Bench User")?,
                password_hash: password_hash.to_owned(),
            };
            let store = store.clone();
            writes.spawn(async move {
                let (user, token) = create_account(&store, new_user, verified).await?;
                Ok::<_, ApiError>((i, user, token))
            });
        }
        let mut created = Vec::with_capacity(chunk.len());
        while let Some(joined) = writes.join_next().await {
            created.push(joined??);
        }
        created.sort_by_key(|(i, _, _)| *i);
        users.extend(created.into_iter().map(|(_, user, token)| (user, token)));
    }
    Ok(users)
}

async fn create_account(
    store: &UserStore,
    new_user: NewUser,
    verified: bool,
) -> Result<(User, SecretString), ApiError> {
    let token = mail_token::generate()?;
    let token_hash = mail_token::hash(&token);
    let now = unix_now();
    let user = store
        .create_user(new_user, &token_hash, now + VERIFICATION_TTL_SECONDS)
        .await?;
    if !verified {
        return Ok((user, token));
    }
    let ticket = store
        .find_token(TokenKind::EmailVerification, &token_hash, now)
        .await?
        .ok_or_else(|| ApiError::unexpected("the verification token just stored is missing"))?;
    Ok((store.verify_email(&token_hash, &ticket, now).await?, token))
}

fn uuid_fragment() -> String {
    accounts::domain::UserId::generate().as_str()[28..].to_owned()
}
