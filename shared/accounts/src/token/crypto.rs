//! The signing backend `jsonwebtoken` uses, on ring, the crypto library the
//! HTTPS client already links: RSASSA-PKCS1-v1_5 with SHA-256 (RS256) for
//! the service's tokens, and HMAC. The crate's own backends would add
//! aws-lc or the RustCrypto RSA and elliptic-curve code to every binary.
//!
//! HMAC is here only so tests can forge HS256 tokens (with the public key as
//! the secret, say); the verifier pins RS256. Every other algorithm is
//! refused.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::hmac;
use ring::rand::SystemRandom;
use ring::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents,
};

static RING: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Makes `RING` the process's provider. Idempotent; `TokenVerifier::new`
/// and `TokenSigner::new` call it, and so must anything that signs a token
/// before one exists.
pub fn install() {
    // Err means a provider is installed already: this one, since no other
    // code in the process installs any.
    let _ = RING.install_default();
}

enum Backend {
    Hmac(hmac::Key),
    /// Signs RS256 with a private key (PKCS#8 DER).
    RsaPrivate(RsaKeyPair),
    /// Verifies RS256 with a public key's modulus and exponent.
    RsaPublic(RsaPublicKeyComponents<Vec<u8>>),
}

struct Ring {
    algorithm: Algorithm,
    backend: Backend,
}

fn hmac_algorithm(algorithm: Algorithm) -> Result<hmac::Algorithm> {
    match algorithm {
        Algorithm::HS256 => Ok(hmac::HMAC_SHA256),
        Algorithm::HS384 => Ok(hmac::HMAC_SHA384),
        Algorithm::HS512 => Ok(hmac::HMAC_SHA512),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

impl Signer<Vec<u8>> for Ring {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        match &self.backend {
            Backend::Hmac(key) => Ok(hmac::sign(key, message).as_ref().to_vec()),
            Backend::RsaPrivate(key_pair) => {
                let mut signature = vec![0; key_pair.public().modulus_len()];
                key_pair
                    .sign(
                        &RSA_PKCS1_SHA256,
                        &SystemRandom::new(),
                        message,
                        &mut signature,
                    )
                    .map_err(|_| signature::Error::new())?;
                Ok(signature)
            }
            Backend::RsaPublic(_) => Err(signature::Error::new()),
        }
    }
}

impl Verifier<Vec<u8>> for Ring {
    /// HMAC tags are compared in constant time (ring has no early exit).
    fn verify(
        &self,
        message: &[u8],
        signature: &Vec<u8>,
    ) -> std::result::Result<(), signature::Error> {
        match &self.backend {
            Backend::Hmac(key) => hmac::verify(key, message, signature),
            Backend::RsaPublic(key) => key.verify(&RSA_PKCS1_2048_8192_SHA256, message, signature),
            Backend::RsaPrivate(_) => return Err(signature::Error::new()),
        }
        .map_err(|_| signature::Error::new())
    }
}

impl JwtSigner for Ring {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

impl JwtVerifier for Ring {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    let backend = match (algorithm, key.family()) {
        (Algorithm::RS256, AlgorithmFamily::Rsa) => Backend::RsaPrivate(
            RsaKeyPair::from_pkcs8(key.as_bytes()).map_err(|_| ErrorKind::InvalidKeyFormat)?,
        ),
        (_, AlgorithmFamily::Hmac) => {
            Backend::Hmac(hmac::Key::new(hmac_algorithm(*algorithm)?, key.as_bytes()))
        }
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    };
    Ok(Box::new(Ring {
        algorithm: *algorithm,
        backend,
    }))
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    let backend = match (algorithm, key.family(), key.kind()) {
        (Algorithm::RS256, AlgorithmFamily::Rsa, DecodingKeyKind::RsaModulusExponent { n, e }) => {
            Backend::RsaPublic(RsaPublicKeyComponents {
                n: n.clone(),
                e: e.clone(),
            })
        }
        (_, AlgorithmFamily::Hmac, DecodingKeyKind::SecretOrDer(secret)) => {
            Backend::Hmac(hmac::Key::new(hmac_algorithm(*algorithm)?, secret))
        }
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    };
    Ok(Box::new(Ring {
        algorithm: *algorithm,
        backend,
    }))
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
