//! The signing backend `jsonwebtoken` uses: HMAC on ring, the crypto library
//! the HTTPS client already links. The crate's own backends would add aws-lc
//! or the RustCrypto RSA and elliptic-curve code to every binary, for
//! algorithms this service never accepts.
//!
//! HS384 and HS512 are here only so tests can forge tokens with them; the
//! verifier accepts HS256 alone. Every other algorithm is refused.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use ring::hmac;

static HMAC_ONLY: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Makes `HMAC_ONLY` the process's provider. Idempotent; `TokenKeys::new`
/// calls it, and so must anything that signs a token before one exists.
pub fn install() {
    // Err means a provider is installed already: this one, since no other
    // code in the process installs any.
    let _ = HMAC_ONLY.install_default();
}

struct Hmac {
    algorithm: Algorithm,
    key: hmac::Key,
}

impl Hmac {
    fn new(algorithm: Algorithm, family: AlgorithmFamily, secret: Result<&[u8]>) -> Result<Self> {
        let ring_algorithm = match algorithm {
            Algorithm::HS256 => hmac::HMAC_SHA256,
            Algorithm::HS384 => hmac::HMAC_SHA384,
            Algorithm::HS512 => hmac::HMAC_SHA512,
            _ => return Err(ErrorKind::InvalidAlgorithm.into()),
        };
        if family != AlgorithmFamily::Hmac {
            return Err(ErrorKind::InvalidKeyFormat.into());
        }
        Ok(Self {
            algorithm,
            key: hmac::Key::new(ring_algorithm, secret?),
        })
    }
}

impl Signer<Vec<u8>> for Hmac {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        Ok(hmac::sign(&self.key, message).as_ref().to_vec())
    }
}

impl Verifier<Vec<u8>> for Hmac {
    /// Constant time: ring compares the tags without early exit.
    fn verify(&self, message: &[u8], tag: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        hmac::verify(&self.key, message, tag).map_err(|_| signature::Error::new())
    }
}

impl JwtSigner for Hmac {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

impl JwtVerifier for Hmac {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    let signer = Hmac::new(*algorithm, key.family(), Ok(key.as_bytes()))?;
    Ok(Box::new(signer))
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    let verifier = Hmac::new(*algorithm, key.family(), key.try_get_as_bytes())?;
    Ok(Box::new(verifier))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_altered_messages_do_not() {
        let key = DecodingKey::from_secret(b"a-secret-of-32-bytes-or-more-000");
        let signer = new_signer(
            &Algorithm::HS256,
            &EncodingKey::from_secret(b"a-secret-of-32-bytes-or-more-000"),
        )
        .unwrap();
        let verifier = new_verifier(&Algorithm::HS256, &key).unwrap();
        let tag = signer.try_sign(b"header.claims").unwrap();
        assert_eq!(tag.len(), 32);
        assert!(verifier.verify(b"header.claims", &tag).is_ok());
        assert!(verifier.verify(b"header.claimz", &tag).is_err());
        assert!(
            verifier
                .verify(b"header.claims", &tag[..31].to_vec())
                .is_err()
        );
    }

    #[test]
    fn asymmetric_algorithms_are_refused() {
        let key = DecodingKey::from_secret(b"a-secret-of-32-bytes-or-more-000");
        for algorithm in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
            assert!(new_verifier(&algorithm, &key).is_err(), "{algorithm:?}");
        }
    }
}
