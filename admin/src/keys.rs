//! `users-admin keys …`: the token-signing keys' life.
//!
//! - `add` makes a new RSA-2048 key (with the `openssl` command), stores its
//!   private half in the secret and publishes its public half in the key
//!   set. It does not sign yet: verifiers that cache the key set (an API
//!   Gateway JWT authorizer keeps it up to two hours) must see it first.
//!   `add --activate` also makes it sign, which only the very first key may
//!   do at once (no verifier can hold an older key set without it);
//!   `add --activate --force` replaces the active key at once, for a key
//!   that leaked (or, on a local stack, whose private half the in-memory
//!   emulator lost): tokens it signed then fail at verifiers that have not
//!   seen the new key set for up to 2 h 10 min.
//! - `activate KID` makes a published key the one that signs; a key
//!   published less than 2 h 10 min ago needs `--force`.
//! - `retire KID` removes a key that no longer signs from both places, once
//!   every token it signed has expired (its last signing + the access-token
//!   lifetime + 15 minutes of margin); `--force` sooner, for a key that
//!   leaked, whose tokens must stop working.

use std::process::{Command, Stdio};

use accounts::keys::{KeySet, PublishedKey, SigningKey};
use accounts::store::UserStore;
use accounts::store::keys::StoredKeySet;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use signing_keys::{KeyVault, ReadKeys};

use crate::{Failure, store_failure};

fn published<'a>(stored: &'a StoredKeySet, kid: &str) -> Result<&'a PublishedKey, Failure> {
    stored
        .keys
        .get(kid)
        .ok_or_else(|| Failure::Refused(format!("no published key has the id {kid}")))
}

/// How long an API Gateway JWT authorizer may keep a key set it fetched.
pub const AUTHORIZER_KEY_CACHE_SECONDS: u64 = 2 * 3600 + 10 * 60;
/// Margin after the last token a key signed has expired.
pub const RETIRE_MARGIN_SECONDS: u64 = 15 * 60;

pub struct KeyAdmin<'a> {
    pub store: &'a UserStore,
    pub vault: &'a KeyVault,
    pub access_token_ttl_seconds: u64,
    pub now: u64,
}

impl KeyAdmin<'_> {
    pub async fn execute(&self, args: &[&str]) -> Result<String, Failure> {
        match args {
            ["list"] => self.list().await,
            ["add"] => self.add(false, false).await,
            ["add", "--activate"] => self.add(true, false).await,
            ["add", "--activate", "--force"] => self.add(true, true).await,
            ["activate", kid] => self.activate(kid, false).await,
            ["activate", kid, "--force"] | ["activate", "--force", kid] => {
                self.activate(kid, true).await
            }
            ["retire", kid] => self.retire(kid, false).await,
            ["retire", kid, "--force"] | ["retire", "--force", kid] => self.retire(kid, true).await,
            _ => Err(Failure::Usage(format!(
                "unknown keys command: {}",
                args.join(" ")
            ))),
        }
    }

    async fn list(&self) -> Result<String, Failure> {
        let stored = self.key_set().await?;
        if stored.keys.keys.is_empty() {
            return Ok("no signing keys: run users-admin keys add --activate".to_owned());
        }
        let private = self.vault.keys().await.map_err(store_failure)?;
        let lines: Vec<String> = stored
            .keys
            .keys
            .iter()
            .map(|key| {
                let state = if stored.keys.active_kid.as_deref() == Some(&key.kid) {
                    "active".to_owned()
                } else if key.activated_at.is_some() {
                    format!(
                        "retirable from {}",
                        self.retirable_at(key).unwrap_or(self.now)
                    )
                } else {
                    format!(
                        "published, may be activated from {}",
                        key.published_at + AUTHORIZER_KEY_CACHE_SECONDS
                    )
                };
                let held = if private.iter().any(|held| held.kid == key.kid) {
                    ""
                } else {
                    "\tprivate half missing"
                };
                format!("{}\tpublished {}\t{state}{held}", key.kid, key.published_at)
            })
            .collect();
        Ok(lines.join("\n"))
    }

    async fn add(&self, activate: bool, force: bool) -> Result<String, Failure> {
        let stored = self.key_set().await?;
        if activate && !force && stored.keys.active_kid.is_some() {
            return Err(Failure::Refused(
                "a key is active already: add the new key without --activate, and activate it once verifiers have seen it (2 h 10 min)".to_owned(),
            ));
        }
        let key = generate_key()?;
        let read = self.vault.read_keys().await.map_err(store_failure)?;
        let mut private = read.keys.clone();
        private.push(key.clone());
        self.store(&read, &private).await?;

        let mut keys = stored.keys.clone();
        keys.keys.push(key.published(self.now));
        if activate {
            keys.activate(&key.kid, self.now);
        }
        self.replace(&stored, &keys).await?;
        Ok(if activate {
            format!("added and activated key {}", key.kid)
        } else {
            format!(
                "added key {} (published; activate it from {} with users-admin keys activate {})",
                key.kid,
                self.now + AUTHORIZER_KEY_CACHE_SECONDS,
                key.kid
            )
        })
    }

    async fn activate(&self, kid: &str, force: bool) -> Result<String, Failure> {
        let stored = self.key_set().await?;
        let key = published(&stored, kid)?;
        if stored.keys.active_kid.as_deref() == Some(kid) {
            return Ok(format!("key {kid} is active already"));
        }
        let ready_at = key.published_at + AUTHORIZER_KEY_CACHE_SECONDS;
        if self.now < ready_at && !force {
            return Err(Failure::Refused(format!(
                "key {kid} was published less than 2 h 10 min ago: verifiers may not have it yet. Activate it from {ready_at}, or now with --force"
            )));
        }
        let private = self.vault.keys().await.map_err(store_failure)?;
        if !private.iter().any(|key| key.kid == kid) {
            return Err(Failure::Refused(format!(
                "key {kid} is published but its private half is not in the secret"
            )));
        }
        let mut keys = stored.keys.clone();
        keys.activate(kid, self.now);
        self.replace(&stored, &keys).await?;
        Ok(format!("key {kid} now signs"))
    }

    async fn retire(&self, kid: &str, force: bool) -> Result<String, Failure> {
        let stored = self.key_set().await?;
        let key = published(&stored, kid)?;
        if stored.keys.active_kid.as_deref() == Some(kid) {
            return Err(Failure::Refused(format!(
                "key {kid} is the active key: activate another one first"
            )));
        }
        if let Some(retirable_at) = self.retirable_at(key)
            && self.now < retirable_at
            && !force
        {
            return Err(Failure::Refused(format!(
                "tokens key {kid} signed may still be live: retire it from {retirable_at}, or now with --force (those tokens then stop working)"
            )));
        }
        let mut keys = stored.keys.clone();
        keys.keys.retain(|key| key.kid != kid);
        self.replace(&stored, &keys).await?;
        let read = self.vault.read_keys().await.map_err(store_failure)?;
        let mut private = read.keys.clone();
        private.retain(|key| key.kid != kid);
        self.store(&read, &private).await?;
        Ok(format!("key {kid} retired"))
    }

    /// When the last token a once-active key signed has expired, with margin;
    /// `None` for a key that never signed.
    fn retirable_at(&self, key: &PublishedKey) -> Option<u64> {
        key.activated_at?;
        let last_signing = key.deactivated_at.unwrap_or(self.now);
        Some(last_signing + self.access_token_ttl_seconds + RETIRE_MARGIN_SECONDS)
    }

    async fn key_set(&self) -> Result<StoredKeySet, Failure> {
        self.store.key_set().await.map_err(store_failure)
    }

    /// Writes the private keys, unless another command wrote them since `read`.
    async fn store(&self, read: &ReadKeys, private: &[SigningKey]) -> Result<(), Failure> {
        if self
            .vault
            .replace(read, private)
            .await
            .map_err(store_failure)?
        {
            Ok(())
        } else {
            Err(Failure::Refused(
                "the key secret changed meanwhile (another users-admin run?); nothing changed, try again".to_owned(),
            ))
        }
    }

    async fn replace(&self, stored: &StoredKeySet, keys: &KeySet) -> Result<(), Failure> {
        let replaced = self
            .store
            .replace_key_set(stored, keys)
            .await
            .map_err(store_failure)?;
        if replaced {
            Ok(())
        } else {
            Err(Failure::Refused(
                "the key set changed meanwhile (another users-admin run?); nothing changed, try again".to_owned(),
            ))
        }
    }
}

/// A new RSA-2048 private key from `openssl genpkey` (PKCS#8 PEM), decoded.
/// ring, the crypto library of the functions, signs but does not generate RSA keys.
pub fn generate_key() -> Result<SigningKey, Failure> {
    let output = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|error| {
            Failure::Refused(format!(
                "users-admin keys add needs the openssl command (OpenSSL 1.1 or later): {error}"
            ))
        })?;
    if !output.status.success() {
        // Its progress dots are dropped; its messages explain a failure.
        return Err(Failure::Refused(format!(
            "openssl genpkey failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let pem = String::from_utf8(output.stdout)
        .map_err(|_| Failure::Refused("openssl printed something other than PEM".to_owned()))?;
    let base64: String = pem
        .lines()
        .skip_while(|line| *line != "-----BEGIN PRIVATE KEY-----")
        .skip(1)
        .take_while(|line| !line.starts_with("-----END"))
        .collect();
    let der = STANDARD
        .decode(base64)
        .map_err(|_| Failure::Refused("openssl printed no PKCS#8 private key".to_owned()))?;
    SigningKey::from_pkcs8(der).map_err(|error| Failure::Refused(error.to_string()))
}
