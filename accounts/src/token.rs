//! Access tokens: HS256 JWTs with `sub`, `iat`, `exp`, `jti` and `iss`, plus
//! `ver`, the user's token version when it was issued: a password reset moves
//! the version on, which refuses every token issued before it without
//! comparing clocks.
//!
//! The verifier pins the algorithm (a token whose header names any other,
//! `none` included, is refused), requires every claim, and checks `exp`,
//! `nbf` when present, and `iss`.

pub mod crypto;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::clock::unix_now;
use crate::config::Config;
use crate::domain::UserId;
use crate::error::ApiError;

/// Clock skew tolerated on `exp` and `nbf`. Issuer and verifier are the same
/// service on synchronised clocks, so this stays small.
const LEEWAY_SECONDS: u64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
    pub iss: String,
    pub ver: u64,
}

/// A verified token's subject and identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub user_id: UserId,
    pub token_id: String,
    pub issued_at: u64,
    pub expires_at: u64,
    pub token_version: u64,
}

pub struct IssuedToken {
    pub token: SecretString,
    pub expires_in: u64,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    ttl_seconds: u64,
}

impl TokenKeys {
    pub fn new(config: &Config) -> Self {
        crypto::install();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&config.jwt_issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "sub", "jti"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        Self {
            encoding: EncodingKey::from_secret(config.jwt_secret_bytes()),
            decoding: DecodingKey::from_secret(config.jwt_secret_bytes()),
            validation,
            issuer: config.jwt_issuer.clone(),
            ttl_seconds: config.access_token_ttl_seconds,
        }
    }

    pub fn issue(&self, user_id: &UserId, token_version: u64) -> Result<IssuedToken, ApiError> {
        let now = unix_now();
        let claims = Claims {
            sub: user_id.to_string(),
            iat: now,
            exp: now + self.ttl_seconds,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            iss: self.issuer.clone(),
            ver: token_version,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::unexpected)?;
        Ok(IssuedToken {
            token: SecretString::from(token),
            expires_in: self.ttl_seconds,
        })
    }

    /// Any failure is the same `InvalidToken`: the client learns nothing about
    /// which check refused the token.
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, ApiError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| ApiError::InvalidToken)?
            .claims;
        let user_id = UserId::parse(&claims.sub).ok_or(ApiError::InvalidToken)?;
        if claims.jti.is_empty() {
            return Err(ApiError::InvalidToken);
        }
        Ok(VerifiedToken {
            user_id,
            token_id: claims.jti,
            issued_at: claims.iat,
            expires_at: claims.exp,
            token_version: claims.ver,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn config(secret: &str, issuer: &str) -> Config {
        Config {
            table_name: "users".into(),
            jwt_secret: SecretString::from(secret),
            jwt_issuer: issuer.into(),
            access_token_ttl_seconds: 3600,
        }
    }

    const SECRET: &str = "an-example-secret-of-32-bytes-or-more";

    fn sign(claims: &serde_json::Value, algorithm: Algorithm, secret: &str) -> String {
        crypto::install();
        jsonwebtoken::encode(
            &Header::new(algorithm),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn claims_now(user_id: &UserId) -> serde_json::Value {
        let now = unix_now();
        serde_json::json!({"sub": user_id.as_str(), "iat": now, "exp": now + 60, "jti": "j1", "iss": "user-api", "ver": 0})
    }

    #[test]
    fn an_issued_token_verifies_to_its_subject() {
        let keys = TokenKeys::new(&config(SECRET, "user-api"));
        let user_id = UserId::generate();
        let issued = keys.issue(&user_id, 7).unwrap();
        let verified = keys.verify(issued.token.expose_secret()).unwrap();
        assert_eq!(verified.user_id, user_id);
        assert_eq!(verified.token_version, 7);
        assert_eq!(verified.expires_at - verified.issued_at, 3600);
        assert_eq!(issued.expires_in, 3600);
    }

    #[test]
    fn each_token_has_its_own_id() {
        let keys = TokenKeys::new(&config(SECRET, "user-api"));
        let user_id = UserId::generate();
        let first = keys
            .verify(keys.issue(&user_id, 0).unwrap().token.expose_secret())
            .unwrap();
        let second = keys
            .verify(keys.issue(&user_id, 0).unwrap().token.expose_secret())
            .unwrap();
        assert_ne!(first.token_id, second.token_id);
    }

    #[test]
    fn tokens_signed_otherwise_or_for_another_issuer_are_refused() {
        let keys = TokenKeys::new(&config(SECRET, "user-api"));
        let user_id = UserId::generate();
        let claims = claims_now(&user_id);
        assert!(
            keys.verify(&sign(&claims, Algorithm::HS256, SECRET))
                .is_ok()
        );
        assert!(
            keys.verify(&sign(&claims, Algorithm::HS512, SECRET))
                .is_err()
        );
        assert!(
            keys.verify(&sign(
                &claims,
                Algorithm::HS256,
                "another-secret-of-32-bytes-or-more!"
            ))
            .is_err()
        );
        let other_issuer = TokenKeys::new(&config(SECRET, "someone-else"));
        assert!(
            other_issuer
                .verify(&sign(&claims, Algorithm::HS256, SECRET))
                .is_err()
        );
    }

    #[test]
    fn expired_tokens_and_tokens_missing_claims_are_refused() {
        let keys = TokenKeys::new(&config(SECRET, "user-api"));
        let user_id = UserId::generate();
        let mut expired = claims_now(&user_id);
        expired["exp"] = serde_json::json!(unix_now() - 60);
        assert!(
            keys.verify(&sign(&expired, Algorithm::HS256, SECRET))
                .is_err()
        );
        for claim in ["sub", "iat", "exp", "jti", "iss", "ver"] {
            let mut partial = claims_now(&user_id);
            partial.as_object_mut().unwrap().remove(claim);
            assert!(
                keys.verify(&sign(&partial, Algorithm::HS256, SECRET))
                    .is_err(),
                "without {claim}"
            );
        }
    }

    #[test]
    fn unsigned_tokens_are_refused() {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let keys = TokenKeys::new(&config(SECRET, "user-api"));
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims_now(&UserId::generate()).to_string());
        assert!(keys.verify(&format!("{header}.{payload}.")).is_err());
    }
}
