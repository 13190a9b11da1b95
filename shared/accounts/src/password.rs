//! Argon2id password hashing at the OWASP parameters (m = 19456 KiB, t = 2, p = 1).
//!
//! Hashing and verifying take tens of milliseconds of CPU, so they run on the
//! blocking pool rather than stall the async runtime.
//!
//! Every hash and verify of the process works in one 19 MiB area, allocated
//! at the first use and kept. `argon2`'s own `hash_password` allocates and
//! frees the area each time, and glibc, having raised its mmap threshold
//! after the first free, keeps the freed areas in per-thread arenas: peak RSS
//! grew to hundreds of MiB over 500 warm invocations (make bench). Reusing
//! one area holds it at the area plus the function's own few MiB, and saves
//! the allocation and its page faults on every call. The functions that hash
//! fault the area in during init, on a thread of their own
//! ([`prepare_working_area`]), while the main thread waits on the network.

use std::sync::{Mutex, MutexGuard, PoisonError};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};

use crate::error::ApiError;

pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

/// A PHC string at the configured parameters that no known password matches.
/// Verifying an unknown account's login against it costs what a real verify
/// costs, so the response time does not tell whether the email is registered.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$2dnSt2VUo1XhF+sbzt9/yQ$3c+LKDI8MZf6XgTaIrcyLeT7jEyqBhqKw6GL6BRGKxo";

/// The working area. A Lambda environment runs one request at a time, so the
/// lock is uncontended there; concurrent callers (tests) take turns.
static WORKING_AREA: Mutex<Vec<Block>> = Mutex::new(Vec::new());

fn hasher() -> Result<Argon2<'static>, ApiError> {
    let params =
        Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).map_err(ApiError::unexpected)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Argon2's raw output for `password` and `salt`, as `PasswordHasher` would
/// compute it (the salt is the decoded bytes of its base64 form).
fn compute(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: Salt<'_>,
    output_len: usize,
) -> Result<Output, ApiError> {
    let mut salt_buffer = [0u8; Salt::MAX_LENGTH];
    let salt = salt
        .decode_b64(&mut salt_buffer)
        .map_err(ApiError::unexpected)?;
    let blocks = argon2.params().block_count();
    let mut area = working_area(blocks);
    Output::init_with(output_len, |out| {
        argon2
            .hash_password_into_with_memory(password, salt, out, &mut area[..blocks])
            .map_err(Into::into)
    })
    .map_err(ApiError::unexpected)
}

/// The working area, at least `blocks` long. Growing it writes every block,
/// so its pages are faulted in here rather than inside the hash.
fn working_area(blocks: usize) -> MutexGuard<'static, Vec<Block>> {
    let mut area = WORKING_AREA.lock().unwrap_or_else(PoisonError::into_inner);
    if area.len() < blocks {
        area.resize(blocks, Block::default());
    }
    area
}

/// Allocates the working area at the configured parameters on a background
/// thread. A function that hashes calls this first in `main`, so faulting
/// in 19 MiB overlaps the SDK setup and the DynamoDB warm-up instead of
/// delaying the first response (docs/performance.md, "What each choice bought").
/// A request that arrives sooner waits on the lock, then finds it done; if
/// no thread can be started, the first hash faults the area in as before.
pub fn prepare_working_area() {
    // Called before logging is set up, and a failure here costs only time.
    let _ = std::thread::Builder::new()
        .name("argon2-area".into())
        .spawn(|| {
            if let Ok(argon2) = hasher() {
                drop(working_area(argon2.params().block_count()));
            }
        });
}

/// The PHC string of `password`, with a fresh random salt.
pub async fn hash(password: SecretString) -> Result<String, ApiError> {
    run_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        let argon2 = hasher()?;
        let output = compute(
            &argon2,
            password.expose_secret().as_bytes(),
            salt.as_salt(),
            Params::DEFAULT_OUTPUT_LEN,
        )?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(argon2.params()).map_err(ApiError::unexpected)?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(phc.to_string())
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
        let algorithm = Algorithm::try_from(parsed.algorithm).map_err(ApiError::unexpected)?;
        let version = match parsed.version {
            Some(version) => Version::try_from(version).map_err(ApiError::unexpected)?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed).map_err(ApiError::unexpected)?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Err(ApiError::unexpected(
                "the stored hash has no salt or output",
            ));
        };
        let argon2 = Argon2::new(algorithm, version, params);
        let output = compute(
            &argon2,
            password.expose_secret().as_bytes(),
            salt,
            expected.len(),
        )?;
        // Output's equality is constant-time.
        Ok(known && output == expected)
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

    /// Hashes made by the argon2 crate's own `hash_password` (as every stored
    /// hash was before the working area) verify, and ours verify with it.
    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crate() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let salt = SaltString::generate(&mut OsRng);
        let theirs = hasher()
            .unwrap()
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert!(
            verify(secret("correct horse battery"), Some(theirs.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify(secret("correct horse batter"), Some(theirs))
                .await
                .unwrap()
        );

        let ours = hash(secret("correct horse battery")).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            hasher()
                .unwrap()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        assert!(
            hasher()
                .unwrap()
                .verify_password(b"correct horse batter", &parsed)
                .is_err()
        );
    }

    /// A request may arrive while the area is still being prepared.
    #[tokio::test]
    async fn hashing_while_the_area_is_prepared_works() {
        prepare_working_area();
        let phc = hash(secret("correct horse battery")).await.unwrap();
        prepare_working_area();
        assert!(
            verify(secret("correct horse battery"), Some(phc))
                .await
                .unwrap()
        );
        assert!(WORKING_AREA.lock().unwrap().len() >= hasher().unwrap().params().block_count());
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
