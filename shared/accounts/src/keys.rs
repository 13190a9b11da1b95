//! The RSA keys that sign access tokens (RS256).
//!
//! A key's private half (PKCS#8 DER) lives only in AWS Secrets Manager and is
//! read by the functions that sign; its public half (modulus and exponent)
//! is published in the table's key-set item, which every function that
//! verifies reads and `/.well-known/jwks.json` serves. A key id is the key's
//! RFC 7638 thumbprint, so it names exactly one public key.
//!
//! A key's life: published (in the JWKS, not signing) → active (signing;
//! one key at a time) → deactivated (another key signs; still published
//! while tokens it signed may live) → retired (gone from both places).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use ring::signature::{RsaKeyPair, RsaPublicKeyComponents};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The public half of a signing key and where it is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedKey {
    pub kid: String,
    /// Modulus, big-endian, base64url without padding (as in a JWK).
    pub n: String,
    /// Public exponent, the same encoding.
    pub e: String,
    /// Unix seconds when the key entered the JWKS.
    pub published_at: u64,
    /// Unix seconds when it last began signing, if it ever did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<u64>,
    /// Unix seconds when another key took over from it, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivated_at: Option<u64>,
}

/// Every published key and which one signs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySet {
    pub active_kid: Option<String>,
    pub keys: Vec<PublishedKey>,
}

impl KeySet {
    pub fn get(&self, kid: &str) -> Option<&PublishedKey> {
        self.keys.iter().find(|key| key.kid == kid)
    }

    /// Makes the published key `kid` the one that signs from `now` on; the
    /// key it takes over from stops signing at `now`.
    pub fn activate(&mut self, kid: &str, now: u64) {
        let previous = self.active_kid.replace(kid.to_owned());
        for key in &mut self.keys {
            if Some(&key.kid) == previous.as_ref() {
                key.deactivated_at = Some(now);
            }
            if key.kid == kid {
                key.activated_at = Some(now);
                key.deactivated_at = None;
            }
        }
    }

    /// The key that verifies tokens with this `kid`, if it is published.
    pub fn decoding_key(&self, kid: &str) -> Option<DecodingKey> {
        let key = self.get(kid)?;
        let n = URL_SAFE_NO_PAD.decode(&key.n).ok()?;
        let e = URL_SAFE_NO_PAD.decode(&key.e).ok()?;
        Some(DecodingKey::from_rsa_raw_components(&n, &e))
    }

    /// The JSON Web Key Set: public fields only (RFC 7517).
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = self
            .keys
            .iter()
            .map(|key| {
                serde_json::json!({
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": key.kid,
                    "n": key.n,
                    "e": key.e,
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

/// A private key read from Secrets Manager, ready to sign.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    /// PKCS#8 DER, as `jsonwebtoken::EncodingKey::from_rsa_der` takes it
    /// with this crate's ring backend.
    pkcs8: Vec<u8>,
}

impl SigningKey {
    /// Parses and checks a PKCS#8 RSA private key; its id is computed, not trusted.
    pub fn from_pkcs8(pkcs8: Vec<u8>) -> Result<Self, KeyError> {
        // ring signs with RSA keys of 2048 to 4096 bits only (API.md: at least 2048).
        let key_pair = RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| KeyError::Unusable)?;
        let (n, e) = public_components(&key_pair);
        Ok(Self {
            kid: thumbprint(&n, &e),
            pkcs8,
        })
    }

    pub fn encoding_key(&self) -> jsonwebtoken::EncodingKey {
        jsonwebtoken::EncodingKey::from_rsa_der(&self.pkcs8)
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public half, to publish at `now`.
    pub fn published(&self, now: u64) -> PublishedKey {
        let key_pair = RsaKeyPair::from_pkcs8(&self.pkcs8).expect("checked when the key was read");
        let (n, e) = public_components(&key_pair);
        PublishedKey {
            kid: self.kid.clone(),
            n,
            e,
            published_at: now,
            activated_at: None,
            deactivated_at: None,
        }
    }
}

// Written by hand so the private key can never reach a log through `{:?}`.
impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("the key is not an RSA private key of at least 2048 bits in PKCS#8 DER")]
    Unusable,
}

fn public_components(key_pair: &RsaKeyPair) -> (String, String) {
    let components = RsaPublicKeyComponents::<Vec<u8>>::from(key_pair.public());
    (
        URL_SAFE_NO_PAD.encode(&components.n),
        URL_SAFE_NO_PAD.encode(&components.e),
    )
}

/// RFC 7638: SHA-256 of the JWK's required members in lexical order.
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::test_keys::{FIRST, SECOND, TOO_SMALL, published, signing};

    #[test]
    fn activating_a_key_stops_the_previous_one_at_the_same_moment() {
        let (first, second) = (signing(FIRST), signing(SECOND));
        let mut keys = published(&[&first, &second]);
        keys.activate(&first.kid, 10);
        keys.activate(&second.kid, 20);
        assert_eq!(keys.active_kid.as_deref(), Some(second.kid.as_str()));
        let (old, new) = (
            keys.get(&first.kid).unwrap(),
            keys.get(&second.kid).unwrap(),
        );
        assert_eq!((old.activated_at, old.deactivated_at), (Some(10), Some(20)));
        assert_eq!((new.activated_at, new.deactivated_at), (Some(20), None));
    }

    #[test]
    fn a_key_id_is_the_thumbprint_of_its_public_key() {
        let (first, again, second) = (signing(FIRST), signing(FIRST), signing(SECOND));
        assert_eq!(first.kid, again.kid);
        assert_ne!(first.kid, second.kid);
        let public = first.published(0);
        assert_eq!(first.kid, thumbprint(&public.n, &public.e));
        // 32 bytes of SHA-256, base64url without padding.
        assert_eq!(first.kid.len(), 43);
        assert_eq!(public.e, "AQAB");
    }

    #[test]
    fn short_and_malformed_keys_are_refused() {
        for refused in [TOO_SMALL, b"not a key"] {
            assert_eq!(
                SigningKey::from_pkcs8(refused.to_vec()).unwrap_err(),
                KeyError::Unusable
            );
        }
    }

    #[test]
    fn the_jwks_holds_public_members_only() {
        let keys = published(&[&signing(FIRST), &signing(SECOND)]);
        let jwks = keys.jwks();
        let listed = jwks["keys"].as_array().unwrap();
        assert_eq!(listed.len(), 2);
        for key in listed {
            let mut members: Vec<&str> = key
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            members.sort_unstable();
            assert_eq!(members, ["alg", "e", "kid", "kty", "n", "use"]);
            assert_eq!(key["alg"], "RS256");
            assert_eq!(key["use"], "sig");
        }
    }

    #[test]
    fn a_signing_key_never_prints_its_private_half() {
        let key = signing(FIRST);
        let printed = format!("{key:?}");
        assert!(printed.contains(&key.kid));
        assert!(printed.len() < 100, "{printed}");
    }
}
