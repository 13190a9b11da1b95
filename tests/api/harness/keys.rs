//! The run's token-signing key: one RSA key, made once per test run by
//! users-admin's own generator, and put into each test's secret (in the
//! Secrets Manager emulator) and key set (in its table) as a deployer's
//! first `users-admin keys add --activate` does.

use std::sync::OnceLock;

use accounts::clock::unix_now;
use accounts::keys::{KeySet, SigningKey};
use accounts::store::UserStore;
use accounts::store::keys::StoredKeySet;
use signing_keys::{KeyVault, SessionSecret};

use super::emulators::{emulators, sdk_config};

/// Made on first use; RSA key generation is the slow part.
pub fn run_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        users_admin::generate_key()
            .unwrap_or_else(|failure| panic!("generating the test signing key: {failure:?}"))
    })
}

/// The key set that publishes `key` and makes it sign.
pub fn active_key_set(key: &SigningKey) -> KeySet {
    let mut published = key.published(unix_now());
    published.activated_at = Some(published.published_at);
    KeySet {
        active_kid: Some(key.kid.clone()),
        keys: vec![published],
    }
}

/// A vault on the Secrets Manager emulator, with the functions' timeouts.
pub async fn vault(secret_id: &str) -> KeyVault {
    let aws = sdk_config(&emulators().secretsmanager_endpoint).await;
    KeyVault::new(&aws, secret_id)
}

/// The session secret beside the signing-key secret `secret_id`.
pub fn session_secret_id(secret_id: &str) -> String {
    format!("{secret_id}-sessions")
}

/// Stores the run's key in `secret_id` and publishes it, active, in the
/// table of `store`; creates the session secret beside it.
pub async fn install_run_key(store: &UserStore, secret_id: &str) -> KeySet {
    let aws = sdk_config(&emulators().secretsmanager_endpoint).await;
    SessionSecret::new(&aws, &session_secret_id(secret_id))
        .create_if_missing()
        .await
        .unwrap_or_else(|error| panic!("creating the test session secret: {error:?}"));
    let key = run_key();
    let vault = vault(secret_id).await;
    let read = vault
        .read_keys()
        .await
        .unwrap_or_else(|error| panic!("reading the test key secret: {error:?}"));
    let stored = vault
        .replace(&read, std::slice::from_ref(key))
        .await
        .unwrap_or_else(|error| panic!("storing the test signing key: {error:?}"));
    assert!(stored, "the test key secret was written meanwhile");
    let keys = active_key_set(key);
    let replaced = store
        .replace_key_set(&StoredKeySet::default(), &keys)
        .await
        .unwrap_or_else(|error| panic!("publishing the test signing key: {error:?}"));
    assert!(replaced, "the test table already had a key set");
    keys
}

/// The value of a secret in the Secrets Manager emulator, read as an
/// issuing function reads it.
pub async fn secret_string(secret_id: &str) -> String {
    let aws = sdk_config(&emulators().secretsmanager_endpoint).await;
    aws_sdk_secretsmanager::Client::new(&aws)
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .unwrap_or_else(|error| panic!("reading {secret_id}: {error:?}"))
        .secret_string
        .expect("a string secret")
}
