//! The SES emulator's mailbox, which every test of the run shares (tests
//! tell their mail apart by unique addresses).

use serde_json::Value;

use super::emulators::emulators;

/// The emails the SES emulator received for `address`, oldest first.
pub fn emails_to(address: &str) -> Vec<Value> {
    let store = super::http_client::get_json(&emulators().ses_endpoint, "/store");
    store["emails"]
        .as_array()
        .expect("the SES emulator's store lists emails")
        .iter()
        .filter(|email| {
            email["destination"]["to"]
                .as_array()
                .is_some_and(|to| to.iter().any(|to| to == address))
        })
        .cloned()
        .collect()
}

/// The emails to `address` with this subject, oldest first.
pub fn emails_about(address: &str, subject: &str) -> Vec<Value> {
    emails_to(address)
        .into_iter()
        .filter(|email| email["subject"] == subject)
        .collect()
}

/// The reset emails to `address`.
pub fn reset_emails_to(address: &str) -> Vec<Value> {
    emails_about(address, "Reset your password")
}

/// The token of the link to `page` in the last email sent to `address`
/// (`<base>/<page>#token=<token>`).
#[track_caller]
pub fn token_mailed_to(address: &str, page: &str) -> String {
    let emails = emails_to(address);
    let email = emails
        .last()
        .unwrap_or_else(|| panic!("no email was sent to {address}"));
    let text = email["body"]["text"].as_str().expect("a text part");
    let marker = format!("/{page}#token=");
    let (_, after) = text
        .split_once(&marker)
        .unwrap_or_else(|| panic!("the last email to {address} has no {page} link: {text}"));
    after.split_whitespace().next().expect("a token").to_owned()
}

/// The tokens of the links to `page` in every email sent to `address`,
/// newest first. Tests that share a fixed address (on tables of their own)
/// share its mailbox: a test tries these until one is its own.
pub fn tokens_mailed_to(address: &str, page: &str) -> Vec<String> {
    let marker = format!("/{page}#token=");
    emails_to(address)
        .iter()
        .rev()
        .filter_map(|email| {
            let text = email["body"]["text"].as_str()?;
            let (_, after) = text.split_once(&marker)?;
            Some(after.split_whitespace().next()?.to_owned())
        })
        .collect()
}

/// The reset token in the last email sent to `address`.
#[track_caller]
pub fn reset_token_sent_to(address: &str) -> String {
    token_mailed_to(address, "reset-password")
}
