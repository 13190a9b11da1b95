//! Refresh tokens: opaque to clients, never stored. A token names its user,
//! its session and a counter, and carries an HMAC-SHA256 of those under the
//! session's own 256-bit key (kept in the session item), as Supabase Auth's
//! v2 tokens do. So no item per token exists: the session's counter alone
//! says which token is current, and one conditional update on it decides
//! every race. The token after counter `c` is always the same (the MAC of
//! `c + 1`), so simultaneous refreshes with one token all get one answer.
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

/// A session's MAC key. Its `Debug` shows nothing.
pub struct SessionKey([u8; SESSION_KEY_BYTES]);

impl SessionKey {
    pub fn generate() -> Result<Self, ApiError> {
        let mut bytes = [0u8; SESSION_KEY_BYTES];
        getrandom::fill(&mut bytes).map_err(|error| ApiError::unexpected(error.to_string()))?;
        Ok(Self(bytes))
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn mac(&self, payload: &[u8]) -> hmac::Tag {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &self.0), payload)
    }
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey([redacted])")
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
    pub fn encode(&self, key: &SessionKey) -> Result<SecretString, ApiError> {
        let payload = payload(&self.user_id, &self.session_id, self.counter)?;
        let mut bytes = Vec::with_capacity(TOKEN_BYTES);
        bytes.extend_from_slice(&payload);
        bytes.extend_from_slice(key.mac(&payload).as_ref());
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
    pub fn verify(self, key: &SessionKey) -> Option<RefreshToken> {
        hmac::verify(
            &hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()),
            &self.payload,
            &self.mac,
        )
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

    fn token(counter: u64) -> RefreshToken {
        RefreshToken {
            user_id: UserId::generate(),
            session_id: SessionId::generate(),
            counter,
        }
    }

    #[test]
    fn a_token_round_trips_and_carries_256_bits_of_mac() {
        let key = SessionKey::generate().unwrap();
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
        let key = SessionKey::generate().unwrap();
        let original = token(3);
        let text = original.encode(&key).unwrap();
        let other = SessionKey::generate().unwrap();
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
        let key = SessionKey::generate().unwrap();
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
    fn debug_output_shows_no_key() {
        let key = SessionKey::from_bytes(&[7u8; 32]).unwrap();
        assert_eq!(format!("{key:?}"), "SessionKey([redacted])");
    }
}
