//! Access tokens: RS256 JWTs with a `kid` header and the claims `iss`,
//! `aud`, `sub`, `sid` (the session: a token is good only while its session
//! is live, which authentication reads), `iat`, `exp`, `jti`.
//!
//! The verifier pins RS256 (a token whose header names any other algorithm,
//! `none` and HS256 included, is refused before any key is looked at),
//! picks the published key by `kid`, requires every claim, and checks
//! `exp`, `nbf` when present, `iss` and `aud`.

pub mod crypto;

use jsonwebtoken::{Algorithm, Header, Validation};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::clock::unix_now;
use crate::domain::UserId;
use crate::error::ApiError;
use crate::keys::{KeySet, SigningKey};
use crate::refresh_token::SessionId;

/// Clock skew tolerated on `exp` and `nbf`. Issuer and verifier are the same
/// service on synchronised clocks, so this stays small.
const LEEWAY_SECONDS: u64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
    pub sid: String,
}

/// A verified token's subject and identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub user_id: UserId,
    pub token_id: String,
    pub issued_at: u64,
    pub expires_at: u64,
    pub session_id: SessionId,
}

pub struct IssuedToken {
    pub token: SecretString,
    pub expires_in: u64,
}

/// Why a token was refused. Clients see one `InvalidToken` either way; an
/// unknown key id also tells the caller that its key set may be stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    UnknownKey,
    Invalid,
}

impl From<Rejected> for ApiError {
    fn from(_: Rejected) -> Self {
        ApiError::InvalidToken
    }
}

/// Checks tokens against the published keys.
pub struct TokenVerifier {
    /// Everything but the issuer, which may differ per request (see
    /// `Config::jwt_issuer`).
    validation: Validation,
}

impl TokenVerifier {
    pub fn new(audience: &str) -> Self {
        crypto::install();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub", "jti", "sid"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        Self { validation }
    }

    pub fn verify(
        &self,
        token: &str,
        keys: &KeySet,
        issuer: &str,
    ) -> Result<VerifiedToken, Rejected> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejected::Invalid)?;
        if header.alg != Algorithm::RS256 {
            return Err(Rejected::Invalid);
        }
        let kid = header.kid.ok_or(Rejected::Invalid)?;
        let key = keys.decoding_key(&kid).ok_or(Rejected::UnknownKey)?;
        let mut validation = self.validation.clone();
        validation.set_issuer(&[issuer]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|_| Rejected::Invalid)?
            .claims;
        let user_id = UserId::parse(&claims.sub).ok_or(Rejected::Invalid)?;
        let session_id = SessionId::parse(&claims.sid).ok_or(Rejected::Invalid)?;
        if claims.jti.is_empty() {
            return Err(Rejected::Invalid);
        }
        Ok(VerifiedToken {
            user_id,
            token_id: claims.jti,
            issued_at: claims.iat,
            expires_at: claims.exp,
            session_id,
        })
    }
}

/// Issues tokens for one audience with a given lifetime.
#[derive(Clone)]
pub struct TokenSigner {
    audience: String,
    ttl_seconds: u64,
}

impl TokenSigner {
    pub fn new(audience: &str, ttl_seconds: u64) -> Self {
        crypto::install();
        Self {
            audience: audience.to_owned(),
            ttl_seconds,
        }
    }

    /// A token for `user_id` in `session_id`, signed with `key` (the active
    /// key) for `issuer`.
    pub fn issue(
        &self,
        key: &SigningKey,
        issuer: &str,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<IssuedToken, ApiError> {
        let now = unix_now();
        let claims = Claims {
            iss: issuer.to_owned(),
            aud: self.audience.clone(),
            sub: user_id.to_string(),
            iat: now,
            exp: now + self.ttl_seconds,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            sid: session_id.to_string(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(key.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding_key())
            .map_err(ApiError::unexpected)?;
        Ok(IssuedToken {
            token: SecretString::from(token),
            expires_in: self.ttl_seconds,
        })
    }
}

/// Test keys (generated once with `openssl genpkey`, used nowhere else).
#[cfg(test)]
pub(crate) mod test_keys {
    use crate::keys::{KeySet, SigningKey};

    pub const FIRST: &[u8] = include_bytes!("../testdata/rsa-2048-test-only-1.pk8.der");
    pub const SECOND: &[u8] = include_bytes!("../testdata/rsa-2048-test-only-2.pk8.der");
    pub const TOO_SMALL: &[u8] = include_bytes!("../testdata/rsa-1024-test-only.pk8.der");

    pub fn signing(der: &[u8]) -> SigningKey {
        SigningKey::from_pkcs8(der.to_vec()).unwrap()
    }

    /// A key set publishing the given keys, the first active.
    pub fn published(keys: &[&SigningKey]) -> KeySet {
        KeySet {
            active_kid: keys.first().map(|key| key.kid.clone()),
            keys: keys.iter().map(|key| key.published(0)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::EncodingKey;
    use secrecy::ExposeSecret;

    use super::test_keys::{FIRST, SECOND, published, signing};
    use super::*;

    const ISSUER: &str = "https://id.example.com";

    fn verifier() -> TokenVerifier {
        TokenVerifier::new("user-api")
    }

    fn claims_now(user_id: &UserId) -> serde_json::Value {
        let now = unix_now();
        serde_json::json!({"iss": ISSUER, "aud": "user-api", "sub": user_id.as_str(), "iat": now, "exp": now + 60, "jti": "j1", "sid": SessionId::generate().as_str()})
    }

    fn sign_rs256(claims: &serde_json::Value, key: &SigningKey, kid: Option<&str>) -> String {
        crypto::install();
        let mut header = Header::new(Algorithm::RS256);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &key.encoding_key()).unwrap()
    }

    #[test]
    fn an_issued_token_verifies_to_its_subject() {
        let key = signing(FIRST);
        let keys = published(&[&key]);
        let signer = TokenSigner::new("user-api", 900);
        let user_id = UserId::generate();
        let session_id = SessionId::generate();
        let issued = signer.issue(&key, ISSUER, &user_id, &session_id).unwrap();
        let verified = verifier()
            .verify(issued.token.expose_secret(), &keys, ISSUER)
            .unwrap();
        assert_eq!(verified.user_id, user_id);
        assert_eq!(verified.session_id, session_id);
        assert_eq!(verified.expires_at - verified.issued_at, 900);
        assert_eq!(issued.expires_in, 900);
        let header = jsonwebtoken::decode_header(issued.token.expose_secret()).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
    }

    #[test]
    fn each_token_has_its_own_id() {
        let key = signing(FIRST);
        let keys = published(&[&key]);
        let signer = TokenSigner::new("user-api", 900);
        let verifier = verifier();
        let user_id = UserId::generate();
        let mut ids = (0..2).map(|_| {
            let token = signer
                .issue(&key, ISSUER, &user_id, &SessionId::generate())
                .unwrap()
                .token;
            verifier
                .verify(token.expose_secret(), &keys, ISSUER)
                .unwrap()
                .token_id
        });
        assert_ne!(ids.next(), ids.next());
    }

    #[test]
    fn the_key_is_chosen_by_kid_and_an_unpublished_kid_is_unknown() {
        let (first, second) = (signing(FIRST), signing(SECOND));
        let both = published(&[&first, &second]);
        let verifier = verifier();
        let claims = claims_now(&UserId::generate());
        for key in [&first, &second] {
            let token = sign_rs256(&claims, key, Some(&key.kid));
            assert!(verifier.verify(&token, &both, ISSUER).is_ok());
        }
        let only_first = published(&[&first]);
        let by_second = sign_rs256(&claims, &second, Some(&second.kid));
        assert_eq!(
            verifier.verify(&by_second, &only_first, ISSUER),
            Err(Rejected::UnknownKey)
        );
        // Signed by the second key but naming the first: the signature fails.
        let misnamed = sign_rs256(&claims, &second, Some(&first.kid));
        assert_eq!(
            verifier.verify(&misnamed, &both, ISSUER),
            Err(Rejected::Invalid)
        );
        let without_kid = sign_rs256(&claims, &first, None);
        assert_eq!(
            verifier.verify(&without_kid, &both, ISSUER),
            Err(Rejected::Invalid)
        );
    }

    #[test]
    fn other_algorithms_issuers_audiences_and_expired_tokens_are_refused() {
        let key = signing(FIRST);
        let keys = published(&[&key]);
        let verifier = verifier();
        let user_id = UserId::generate();
        for (claim, value) in [
            ("iss", serde_json::json!("https://evil.example.com")),
            ("aud", serde_json::json!("another-api")),
            ("exp", serde_json::json!(unix_now() - 60)),
        ] {
            let mut claims = claims_now(&user_id);
            claims[claim] = value;
            assert_eq!(
                verifier.verify(&sign_rs256(&claims, &key, Some(&key.kid)), &keys, ISSUER),
                Err(Rejected::Invalid),
                "{claim}"
            );
        }
        for claim in ["iss", "aud", "sub", "iat", "exp", "jti", "sid"] {
            let mut claims = claims_now(&user_id);
            claims.as_object_mut().unwrap().remove(claim);
            assert!(
                verifier
                    .verify(&sign_rs256(&claims, &key, Some(&key.kid)), &keys, ISSUER)
                    .is_err(),
                "without {claim}"
            );
        }
    }

    #[test]
    fn hs256_signed_with_the_public_key_and_unsigned_tokens_are_refused() {
        let key = signing(FIRST);
        let keys = published(&[&key]);
        let verifier = verifier();
        let claims = claims_now(&UserId::generate());
        // Key confusion: the published key's own bytes as an HMAC secret.
        let public = keys.get(&key.kid).unwrap();
        for secret in [
            public.n.as_bytes(),
            serde_json::to_string(&keys.jwks()).unwrap().as_bytes(),
        ] {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(key.kid.clone());
            let forged =
                jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap();
            assert_eq!(
                verifier.verify(&forged, &keys, ISSUER),
                Err(Rejected::Invalid)
            );
        }
        let header = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#,
            key.kid
        ));
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        assert_eq!(
            verifier.verify(&format!("{header}.{payload}."), &keys, ISSUER),
            Err(Rejected::Invalid)
        );
    }
}
