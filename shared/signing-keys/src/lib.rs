//! The private halves of the token-signing keys, kept in one AWS Secrets
//! Manager secret as `{"keys": [{"kid": "...", "pkcs8": "<base64>"}]}`, and
//! the session secret that refresh tokens' keys derive from, in another.
//! A crate of its own, like the mailer, so that only the functions that sign
//! (and users-admin) link the Secrets Manager client: the others cannot
//! read the secret (IAM) and would not know how.
//!
//! The functions read the secret once per cold start, and again (at most
//! every 5 s) when the key set names an active key they do not hold. A cold
//! start that cannot reach Secrets Manager still starts: its logins read
//! again and answer 503 until the secret is within reach, instead of the
//! function failing to start (a 502 with no JSON body behind API Gateway).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use accounts::config::ConfigError;
use accounts::domain::UserId;
use accounts::error::{ApiError, cause_chain, sdk_error};
use accounts::keys::{KeySet, SigningKey};
use accounts::refresh_token::{SessionId, SessionKeys};
use accounts::token::{IssuedToken, TokenSigner};

/// After the key set names an active key this function does not hold, the
/// secret is read again at most this often (a key set naming a key that is
/// not in the secret would otherwise cost a Secrets Manager call per login).
const REREAD_AFTER: Duration = Duration::from_secs(5);

/// Signs access tokens with the active key, which the published key set
/// names and the secret holds.
pub struct Signer {
    vault: KeyVault,
    held: RwLock<Held>,
    tokens: TokenSigner,
}

struct Held {
    keys: Vec<SigningKey>,
    /// `None` until a read succeeded: the next login reads again.
    read_at: Option<Instant>,
}

impl Signer {
    /// Reads the private keys (once per cold start). A failure is only
    /// logged: the first login reads again.
    pub async fn load(vault: KeyVault, tokens: TokenSigner) -> Self {
        let held = match vault.keys().await {
            Ok(keys) => Held {
                keys,
                read_at: Some(Instant::now()),
            },
            Err(error) => {
                tracing::warn!(cause = %cause_chain(&error), "the signing keys could not be read at start-up");
                Held {
                    keys: Vec::new(),
                    read_at: None,
                }
            }
        };
        Self {
            vault,
            held: RwLock::new(held),
            tokens,
        }
    }

    /// A token signed with the active key. The RSA signature (about 0.5 ms
    /// of CPU) runs on a blocking thread: on the runtime's one thread it
    /// would hold back a DynamoDB request started beside it (login and
    /// refresh sign while their writes are in flight).
    pub async fn issue(
        &self,
        published: &KeySet,
        issuer: &str,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<IssuedToken, ApiError> {
        let key = self.active_key(published).await?;
        let tokens = self.tokens.clone();
        let (issuer, user_id, session_id) =
            (issuer.to_owned(), user_id.clone(), session_id.clone());
        tokio::task::spawn_blocking(move || tokens.issue(&key, &issuer, &user_id, &session_id))
            .await
            .map_err(ApiError::unexpected)?
    }

    /// The private key the key set names active, read again from the
    /// secret (at most every `REREAD_AFTER`) when this function lacks it.
    async fn active_key(&self, published: &KeySet) -> Result<SigningKey, ApiError> {
        let active = published.active_kid.as_deref().ok_or_else(|| {
            ApiError::unexpected("no signing key is active: run users-admin keys add")
        })?;
        if let Some(key) = self.held_key(active) {
            return Ok(key);
        }
        let stale = self
            .held()
            .read_at
            .is_none_or(|read_at| read_at.elapsed() >= REREAD_AFTER);
        if stale {
            let keys = self.vault.keys().await?;
            *self
                .held
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Held {
                keys,
                read_at: Some(Instant::now()),
            };
        }
        self.held_key(active)
            .ok_or_else(|| ApiError::unexpected("the active signing key is not in the key secret"))
    }

    fn held_key(&self, kid: &str) -> Option<SigningKey> {
        self.held().keys.iter().find(|key| key.kid == kid).cloned()
    }

    fn held(&self) -> std::sync::RwLockReadGuard<'_, Held> {
        self.held
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Serialize, Deserialize, Default)]
struct SecretValue {
    keys: Vec<StoredKey>,
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    pkcs8: String,
}

/// `SIGNING_KEYS_SECRET_ID`: the name or ARN of the secret.
pub fn secret_id_from_env() -> Result<String, ConfigError> {
    std::env::var("SIGNING_KEYS_SECRET_ID")
        .ok()
        .filter(|id| !id.trim().is_empty())
        .ok_or(ConfigError::Missing("SIGNING_KEYS_SECRET_ID"))
}

pub struct KeyVault {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl KeyVault {
    pub fn new(aws: &SdkConfig, secret_id: &str) -> Self {
        Self {
            client: aws_sdk_secretsmanager::Client::new(aws),
            secret_id: secret_id.to_owned(),
        }
    }

    /// Every private key in the secret; none before the first is added. A
    /// stored key whose id does not match its key is an error, not skipped.
    pub async fn keys(&self) -> Result<Vec<SigningKey>, ApiError> {
        Ok(self.read_keys().await?.keys)
    }

    /// The private keys and the secret version they were read from, for
    /// `replace`.
    pub async fn read_keys(&self) -> Result<ReadKeys, ApiError> {
        // The version labelled current, named: AWS reads it by default, but
        // the local emulator (moto) keeps reading the version it first
        // created after `replace` moves the label.
        let output = match self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage("AWSCURRENT")
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) if not_found(&error) => {
                return Ok(ReadKeys {
                    keys: Vec::new(),
                    version: None,
                });
            }
            Err(error) => return Err(sdk_error(error)),
        };
        let text = output.secret_string.unwrap_or_default();
        Ok(ReadKeys {
            keys: parse_keys(&text)?,
            version: output.version_id,
        })
    }

    /// Replaces the secret's value with `keys`, on condition that it is still
    /// the version `read` came from (users-admin only): `false`, and nothing
    /// changed, if another command wrote it meanwhile. The new value is put
    /// beside the current one, then made current by moving the AWSCURRENT
    /// label off the version read, which Secrets Manager refuses once that
    /// label has moved: two `keys add` at once cannot lose a key.
    pub async fn replace(&self, read: &ReadKeys, keys: &[SigningKey]) -> Result<bool, ApiError> {
        let value = SecretValue {
            keys: keys
                .iter()
                .map(|key| StoredKey {
                    kid: key.kid.clone(),
                    pkcs8: STANDARD.encode(key.pkcs8()),
                })
                .collect(),
        };
        let text = serde_json::to_string(&value).map_err(ApiError::unexpected)?;
        let Some(read_version) = &read.version else {
            // Only a local stack starts without the secret (the template
            // creates the deployed one).
            return match self
                .client
                .create_secret()
                .name(&self.secret_id)
                .secret_string(text)
                .send()
                .await
            {
                Ok(_) => Ok(true),
                Err(error) if service_code(&error) == Some("ResourceExistsException") => Ok(false),
                Err(error) => Err(sdk_error(error)),
            };
        };
        let staged = self
            .client
            .put_secret_value()
            .secret_id(&self.secret_id)
            .secret_string(&text)
            .version_stages(STAGED_LABEL)
            .send()
            .await
            .map_err(sdk_error)?;
        let staged_version = staged
            .version_id
            .ok_or_else(|| ApiError::unexpected("Secrets Manager named no new version"))?;
        match self
            .client
            .update_secret_version_stage()
            .secret_id(&self.secret_id)
            .version_stage("AWSCURRENT")
            .remove_from_version_id(read_version)
            .move_to_version_id(staged_version)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if service_code(&error) == Some("InvalidParameterException") => Ok(false),
            Err(error) => Err(sdk_error(error)),
        }
    }
}

/// The label of a value `replace` has put but not yet made current.
const STAGED_LABEL: &str = "USERS_ADMIN_STAGED";

/// What `KeyVault::read_keys` read.
pub struct ReadKeys {
    pub keys: Vec<SigningKey>,
    /// `None` while the secret does not exist.
    version: Option<String>,
}

fn service_code<E: ProvideErrorMetadata, R>(
    error: &aws_sdk_secretsmanager::error::SdkError<E, R>,
) -> Option<&str> {
    error.as_service_error().and_then(|e| e.code())
}

fn parse_keys(text: &str) -> Result<Vec<SigningKey>, ApiError> {
    let value: SecretValue = serde_json::from_str(text)
        .map_err(|_| ApiError::unexpected("the signing-key secret is not the expected JSON"))?;
    value
        .keys
        .into_iter()
        .map(|stored| {
            let der = STANDARD
                .decode(&stored.pkcs8)
                .map_err(|_| ApiError::unexpected("a signing key is not base64"))?;
            let key = SigningKey::from_pkcs8(der).map_err(ApiError::unexpected)?;
            if key.kid != stored.kid {
                return Err(ApiError::unexpected(
                    "a signing key's kid does not match the key",
                ));
            }
            Ok(key)
        })
        .collect()
}

/// `SESSION_KEY_SECRET_ID`: the name or ARN of the session secret.
pub fn session_secret_id_from_env() -> Result<String, ConfigError> {
    std::env::var("SESSION_KEY_SECRET_ID")
        .ok()
        .filter(|id| !id.trim().is_empty())
        .ok_or(ConfigError::Missing("SESSION_KEY_SECRET_ID"))
}

/// The session secret, from which every refresh token's key derives
/// (`accounts::refresh_token`). Read at cold start like the signing keys; a
/// start that cannot read it still starts, and reads again at each use
/// until it has it (503 meanwhile).
pub struct SessionSecret {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    held: RwLock<Option<Arc<SessionKeys>>>,
}

impl SessionSecret {
    /// Reads nothing yet (users-admin, which may create it).
    pub fn new(aws: &SdkConfig, secret_id: &str) -> Self {
        Self {
            client: aws_sdk_secretsmanager::Client::new(aws),
            secret_id: secret_id.to_owned(),
            held: RwLock::new(None),
        }
    }

    /// Reads it at once (a function's cold start); a failure is only logged.
    pub async fn load(aws: &SdkConfig, secret_id: &str) -> Self {
        let secret = Self::new(aws, secret_id);
        if let Err(error) = secret.keys().await {
            tracing::warn!(cause = %cause_chain(&error), "the session secret could not be read at start-up");
        }
        secret
    }

    /// The session keys, read from Secrets Manager unless held already.
    pub async fn keys(&self) -> Result<Arc<SessionKeys>, ApiError> {
        if let Some(keys) = self
            .held
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
        {
            return Ok(keys);
        }
        let text = read_secret(&self.client, &self.secret_id)
            .await?
            .ok_or_else(|| {
                ApiError::unexpected(
                    "the session secret does not exist: run users-admin session-secret create",
                )
            })?;
        let keys =
            Arc::new(SessionKeys::from_secret(text.as_bytes()).ok_or_else(|| {
                ApiError::unexpected("the session secret is shorter than 32 bytes")
            })?);
        *self
            .held
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Arc::clone(&keys));
        Ok(keys)
    }

    /// Creates the secret with 256 random bits unless it exists (a local
    /// stack: the template generates the deployed one). `true` if created.
    pub async fn create_if_missing(&self) -> Result<bool, ApiError> {
        if read_secret(&self.client, &self.secret_id).await?.is_some() {
            return Ok(false);
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|error| ApiError::unexpected(error.to_string()))?;
        let created = self
            .client
            .create_secret()
            .name(&self.secret_id)
            .secret_string(URL_SAFE_NO_PAD.encode(secret))
            .send()
            .await;
        match created {
            Ok(_) => Ok(true),
            // Another run created it meanwhile.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.code() == Some("ResourceExistsException")) =>
            {
                Ok(false)
            }
            Err(error) => Err(sdk_error(error)),
        }
    }
}

/// A secret's current value; `None` while the secret does not exist.
async fn read_secret(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<Option<String>, ApiError> {
    match client.get_secret_value().secret_id(secret_id).send().await {
        Ok(output) => Ok(output.secret_string),
        Err(error) if not_found(&error) => Ok(None),
        Err(error) => Err(sdk_error(error)),
    }
}

fn not_found<E: ProvideErrorMetadata, R>(
    error: &aws_sdk_secretsmanager::error::SdkError<E, R>,
) -> bool {
    error
        .as_service_error()
        .is_some_and(|e| e.code() == Some("ResourceNotFoundException"))
}
