//! The one-time tokens this API mails (password reset, email verification,
//! email change): 256 random bits, URL-safe base64 without padding (43
//! characters). Only their SHA-256 is ever stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

const TOKEN_BYTES: usize = 32;
const TOKEN_CHARS: usize = 43;

pub fn generate() -> Result<SecretString, ApiError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|error| ApiError::unexpected(error.to_string()))?;
    Ok(SecretString::from(URL_SAFE_NO_PAD.encode(bytes)))
}

/// The stored form of a token: lower-case hex SHA-256 of its text.
pub fn hash(token: &SecretString) -> String {
    Sha256::digest(token.expose_secret().as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether `raw` has the shape of a token this API issues; anything else is
/// refused before the table is read.
pub fn is_well_formed(raw: &str) -> bool {
    raw.len() == TOKEN_CHARS
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_url_safe_characters_and_differ() {
        let first = generate().unwrap();
        let second = generate().unwrap();
        assert!(is_well_formed(first.expose_secret()));
        assert_ne!(first.expose_secret(), second.expose_secret());
    }

    #[test]
    fn the_hash_is_hex_sha256() {
        assert_eq!(
            hash(&SecretString::from("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn malformed_tokens_are_recognised() {
        assert!(!is_well_formed(""));
        assert!(!is_well_formed(&"a".repeat(42)));
        assert!(!is_well_formed(&"a".repeat(44)));
        assert!(!is_well_formed(&format!("{}=", "a".repeat(42))));
        assert!(!is_well_formed(&format!("{}/", "a".repeat(42))));
    }
}
