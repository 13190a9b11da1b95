//! Refresh tokens: opaque to clients, never stored. A token names its user,
//! its session and a counter, and carries an HMAC-SHA256 of those under the
//! session's own 256-bit key, as Supabase Auth's v2 tokens do. So no item
//! per token exists: the session's counter alone says which token is
//! current, and one conditional update on it decides every race. The token
//! after counter `c` is always the same (the MAC of `c + 1`), so
//! simultaneous refreshes with one token all get one answer.
//!
//! A session's key is not stored anywhere: it is derived from the session
//! secret (`SessionKeys`, kept in Secrets Manager and read only by the
//! functions that issue and refresh tokens) and the session's ids. A copy of
//! the table, its stream or a backup therefore yields no refresh token
//! (API.md, "Changes to 1.1 behaviour").
//!
//! Text form: URL-safe base64 without padding of
//! `user id (16) | session id (16) | counter (8, big-endian) | MAC (32)`,
//! 96 characters.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use secrecy::{ExposeSecret, SecretString};

use crate::domain::{UserId, canonical_uuid};
use crate::error::ApiError;

const ID_BYTES: usize = 16;
const COUNTER_BYTES: usize = 8;
const MAC_BYTES: usize = 32;
const PAYLOAD_BYTES: usize = 2 * ID_BYTES + COUNTER_BYTES;
const TOKEN_BYTES: usize = PAYLOAD_BYTES + MAC_BYTES;
/// The length of every token's text; anything else is refused unread.
pub const TOKEN_CHARS: usize = TOKEN_BYTES.div_ceil(3) * 4;
pub const SESSION_KEY_BYTES: usize = 32;
/// The shortest session secret accepted: 256 bits, as an HMAC-SHA256 key
/// should have (the template generates 64 letters and digits, ~380 bits).
pub const MIN_SESSION_SECRET_BYTES: usize = 32;
/// Separates this derivation from any other use of the secret.
const DERIVATION_LABEL: &[u8] = b"user-api refresh-token key v1";

/// The session secret: every session's key derives from it. Its `Debug`
/// shows nothing.
pub struct SessionKeys(hmac::Key);

impl SessionKeys {
    /// `None` for a secret shorter than `MIN_SESSION_SECRET_BYTES`.
    pub fn from_secret(secret: &[u8]) -> Option<Self> {
        (secret.len() >= MIN_SESSION_SECRET_BYTES)
            .then(|| Self(hmac::Key::new(hmac::HMAC_SHA256, secret)))
    }

    /// The key of one session: HMAC-SHA256(secret, label | user | session).
    fn for_session(&self, user_id: &[u8], session_id: &[u8]) -> SessionKey {
        let mut context = hmac::Context::with_key(&self.0);
        context.update(DERIVATION_LABEL);
        context.update(user_id);
        context.update(session_id);
        let mut key = [0u8; SESSION_KEY_BYTES];
        key.copy_from_slice(context.sign().as_ref());
        SessionKey(key)
    }
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys([redacted])")
    }
}

/// One session's MAC key, derived and dropped per use.
struct SessionKey([u8; SESSION_KEY_BYTES]);

impl SessionKey {
    fn mac_key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &self.0)
    }
}

/// What a token names. Only `Presented::verify` makes one from client text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub counter: u64,
}

/// A session id: a UUIDv7, hyphenated like user ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().hyphenated().to_string())
    }

    /// Accepts only the canonical hyphenated form this API issues.
    pub fn parse(raw: &str) -> Option<Self> {
        canonical_uuid(raw).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl RefreshToken {
    /// The token's text, its MAC under the session's key from `keys`.
    pub fn encode(&self, keys: &SessionKeys) -> Result<SecretString, ApiError> {
        let payload = payload(&self.user_id, &self.session_id, self.counter)?;
        let key = keys.for_session(&payload[..ID_BYTES], &payload[ID_BYTES..2 * ID_BYTES]);
        let mut bytes = Vec::with_capacity(TOKEN_BYTES);
        bytes.extend_from_slice(&payload);
        bytes.extend_from_slice(hmac::sign(&key.mac_key(), &payload).as_ref());
        Ok(SecretString::from(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The token that rotation hands out next.
    pub fn next(&self) -> Self {
        Self {
            counter: self.counter + 1,
            ..self.clone()
        }
    }
}

fn payload(
    user_id: &UserId,
    session_id: &SessionId,
    counter: u64,
) -> Result<[u8; PAYLOAD_BYTES], ApiError> {
    let uuid_bytes = |raw: &str| {
        uuid::Uuid::try_parse(raw)
            .map(|uuid| *uuid.as_bytes())
            .map_err(ApiError::unexpected)
    };
    let mut payload = [0u8; PAYLOAD_BYTES];
    payload[..ID_BYTES].copy_from_slice(&uuid_bytes(user_id.as_str())?);
    payload[ID_BYTES..2 * ID_BYTES].copy_from_slice(&uuid_bytes(session_id.as_str())?);
    payload[2 * ID_BYTES..].copy_from_slice(&counter.to_be_bytes());
    Ok(payload)
}

/// A token as a client sent it: its names are read (to find the session),
/// but nothing in it is trusted until `verify` checked its MAC.
pub struct Presented {
    claimed: RefreshToken,
    payload: [u8; PAYLOAD_BYTES],
    mac: [u8; MAC_BYTES],
}

impl Presented {
    /// `None` for anything that is not shaped like a token of this API.
    pub fn parse(text: &SecretString) -> Option<Self> {
        let text = text.expose_secret();
        if text.len() != TOKEN_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let bytes: [u8; TOKEN_BYTES] = bytes.try_into().ok()?;
        let id = |range: std::ops::Range<usize>| {
            uuid::Uuid::from_slice(&bytes[range])
                .ok()
                .map(|uuid| uuid.hyphenated().to_string())
        };
        let claimed = RefreshToken {
            user_id: UserId::parse(&id(0..ID_BYTES)?)?,
            session_id: SessionId::parse(&id(ID_BYTES..2 * ID_BYTES)?)?,
            counter: u64::from_be_bytes(bytes[2 * ID_BYTES..PAYLOAD_BYTES].try_into().ok()?),
        };
        let mut payload = [0u8; PAYLOAD_BYTES];
        payload.copy_from_slice(&bytes[..PAYLOAD_BYTES]);
        let mut mac = [0u8; MAC_BYTES];
        mac.copy_from_slice(&bytes[PAYLOAD_BYTES..]);
        Some(Self {
            claimed,
            payload,
            mac,
        })
    }

    /// Which session to read the key from.
    pub fn claimed(&self) -> &RefreshToken {
        &self.claimed
    }

    /// The token, if its MAC is the session key's (compared in constant time).
    pub fn verify(self, keys: &SessionKeys) -> Option<RefreshToken> {
        let key = keys.for_session(
            &self.payload[..ID_BYTES],
            &self.payload[ID_BYTES..2 * ID_BYTES],
        );
        hmac::verify(&key.mac_key(), &self.payload, &self.mac)
            .ok()
            .map(|()| self.claimed)
    }
}

/// What a verified token's counter means against the session's.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The current token: the session advances to the next one.
    Advance,
    /// The token just before the current one, within the retry window
    /// (a client that lost the answer): the current token again, no write.
    Retry,
    /// Any other old token: someone holds a copy. The session ends.
    Reused,
}

/// `presented` and `current` are counters; `rotated_at` is when `current`
/// was handed out (seconds), `reuse_interval` the retry window.
pub fn rotation(
    presented: u64,
    current: u64,
    rotated_at: u64,
    now: u64,
    reuse_interval: u64,
) -> Rotation {
    if presented == current {
        Rotation::Advance
    } else if presented + 1 == current && now.saturating_sub(rotated_at) <= reuse_interval {
        Rotation::Retry
    } else {
        Rotation::Reused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SessionKeys {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).unwrap();
        SessionKeys::from_secret(&secret).unwrap()
    }

    fn token(counter: u64) -> RefreshToken {
        RefreshToken {
            user_id: UserId::generate(),
            session_id: SessionId::generate(),
            counter,
        }
    }

    #[test]
    fn a_token_round_trips_and_carries_256_bits_of_mac() {
        let key = keys();
        let original = token(7);
        let text = original.encode(&key).unwrap();
        assert_eq!(text.expose_secret().len(), TOKEN_CHARS);
        assert!(
            text.expose_secret()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let presented = Presented::parse(&text).unwrap();
        assert_eq!(presented.claimed(), &original);
        assert_eq!(presented.verify(&key), Some(original));
        assert_eq!(MAC_BYTES * 8, 256);
    }

    #[test]
    fn another_session_key_or_any_changed_character_fails_verification() {
        let key = keys();
        let original = token(3);
        let text = original.encode(&key).unwrap();
        let other = keys();
        assert_eq!(Presented::parse(&text).unwrap().verify(&other), None);
        for position in 0..TOKEN_CHARS {
            let mut tampered = text.expose_secret().to_owned().into_bytes();
            tampered[position] = if tampered[position] == b'A' {
                b'B'
            } else {
                b'A'
            };
            let tampered = SecretString::from(String::from_utf8(tampered).unwrap());
            let verified = Presented::parse(&tampered).and_then(|p| p.verify(&key));
            assert_eq!(verified, None, "a change at {position} went unnoticed");
        }
    }

    #[test]
    fn the_next_token_is_the_same_for_everyone_who_asks() {
        let key = keys();
        let current = token(4);
        let first = current.next().encode(&key).unwrap();
        let second = current.next().encode(&key).unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert_ne!(
            first.expose_secret(),
            current.encode(&key).unwrap().expose_secret()
        );
    }

    #[test]
    fn malformed_text_is_refused_before_any_key_is_needed() {
        for text in [
            "",
            "abc",
            &"A".repeat(TOKEN_CHARS - 1),
            &"*".repeat(TOKEN_CHARS),
        ] {
            assert!(Presented::parse(&SecretString::from(text.to_owned())).is_none());
        }
    }

    #[test]
    fn the_counter_decides_advance_retry_and_reuse() {
        assert_eq!(rotation(5, 5, 100, 200, 10), Rotation::Advance);
        assert_eq!(rotation(4, 5, 100, 110, 10), Rotation::Retry);
        assert_eq!(rotation(4, 5, 100, 111, 10), Rotation::Reused);
        assert_eq!(rotation(3, 5, 100, 101, 10), Rotation::Reused);
        assert_eq!(rotation(4, 5, 100, 100, 0), Rotation::Retry);
        assert_eq!(rotation(4, 5, 100, 101, 0), Rotation::Reused);
    }

    #[test]
    fn debug_output_shows_no_secret() {
        assert_eq!(format!("{:?}", keys()), "SessionKeys([redacted])");
    }

    #[test]
    fn a_secret_shorter_than_256_bits_is_refused() {
        assert!(SessionKeys::from_secret(&[1u8; 31]).is_none());
        assert!(SessionKeys::from_secret(&[1u8; 32]).is_some());
    }

    #[test]
    fn each_session_has_its_own_key_and_each_secret_its_own_keys() {
        let first = keys();
        let (user, one, other) = ([1u8; 16], [2u8; 16], [3u8; 16]);
        let key = first.for_session(&user, &one).0;
        assert_eq!(key, first.for_session(&user, &one).0);
        assert_ne!(key, first.for_session(&user, &other).0);
        assert_ne!(key, keys().for_session(&user, &one).0);
    }
}
