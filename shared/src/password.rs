//! Argon2id password hashing at the OWASP parameters (m = 19456 KiB, t = 2, p = 1).
//!
//! Hashing and verifying take tens of milliseconds of CPU, so they run on the
//! blocking pool rather than stall the async runtime.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

use crate::error::ApiError;

pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

/// A PHC string at the configured parameters that no known password matches.
/// Verifying an unknown account's login against it costs what a real verify
/// costs, so the response time does not tell whether the email is registered.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$2dnSt2VUo1XhF+sbzt9/yQ$3c+LKDI8MZf6XgTaIrcyLeT7jEyqBhqKw6GL6BRGKxo";

fn hasher() -> Result<Argon2<'static>, ApiError> {
    let params =
        Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).map_err(ApiError::unexpected)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The PHC string of `password`, with a fresh random salt.
pub async fn hash(password: SecretString) -> Result<String, ApiError> {
    run_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()?
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(ApiError::unexpected)
    })
    .await
}

/// Whether `password` matches `stored` (a PHC string, whose own parameters are
/// used). With no stored hash, a dummy verify runs and the answer is `false`.
pub async fn verify(password: SecretString, stored: Option<String>) -> Result<bool, ApiError> {
    run_blocking(move || {
        let known = stored.is_some();
        let phc = stored.as_deref().unwrap_or(DUMMY_HASH);
        let parsed = PasswordHash::new(phc).map_err(ApiError::unexpected)?;
        let matches = hasher()?
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await
}

async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::unexpected)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text)
    }

    #[tokio::test]
    async fn a_hash_verifies_its_own_password_only() {
        let phc = hash(secret("correct horse battery")).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            verify(secret("correct horse battery"), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify(secret("wrong horse battery"), Some(phc))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        assert!(!verify(secret("anything at all"), None).await.unwrap());
    }

    #[test]
    fn the_dummy_hash_uses_the_configured_parameters() {
        let parsed = PasswordHash::new(DUMMY_HASH).unwrap();
        let params = Params::try_from(&parsed).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (MEMORY_KIB, ITERATIONS, PARALLELISM)
        );
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_is_an_unexpected_error() {
        let result = verify(secret("whatever"), Some("not a phc string".into())).await;
        assert!(matches!(result, Err(ApiError::Unexpected(_))));
    }
}
