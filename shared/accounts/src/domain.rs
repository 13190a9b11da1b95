//! Domain types that can only hold valid values: the field rules of API.md are
//! checked once, at parsing, and everything past the request boundary trusts them.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

const MAX_EMAIL_CHARS: usize = 254;
const MAX_NAME_CHARS: usize = 100;
const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_CHARS: usize = 256;

/// The common passwords of 8 or more characters, lower-cased, one a line (see data/README.md).
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// Characters an address may not hold (API.md, "Field rules").
const EMAIL_SPECIALS: &str = "<>()[],;:\"\\";

/// The bidirectional marks, embeddings, overrides and isolates (Unicode
/// general category Cf), which change the order in which text is shown.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Format characters that show as nothing (Unicode general category Cf):
/// zero-width spaces and joiners, the bidi controls, the word joiner and
/// invisible operators, the byte-order mark, the soft hyphen.
fn is_invisible_format(c: char) -> bool {
    is_bidi_control(c)
        || matches!(
            c,
            '\u{00AD}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200D}'
                | '\u{2060}'..='\u{2064}'
                | '\u{206A}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// A trimmed, lower-cased email address: accounts are unique per this form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err("must not be empty");
        }
        // Counted on what the client sent, as openapi.yaml's maxLength is, so
        // a value the schema calls invalid is never accepted; and on the
        // normalised form, which lower-casing can lengthen.
        if raw.chars().count() > MAX_EMAIL_CHARS || email.chars().count() > MAX_EMAIL_CHARS {
            return Err("must be at most 254 characters");
        }
        if email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || is_invisible_format(c))
        {
            return Err("must not contain spaces, control or invisible characters");
        }
        // Characters that make an address mean something else to a mail
        // system (display names, comments, routes, quoting): with them two
        // strings could reach one mailbox and pass as two accounts.
        if email.chars().any(|c| EMAIL_SPECIALS.contains(c)) {
            return Err("must not contain any of <>()[],;:\\\"");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err("must be an email address like name@example.com");
        };
        let domain_ok = domain.contains('.')
            && !domain.contains('@')
            && domain.split('.').all(|label| !label.is_empty());
        if local.is_empty() || !domain_ok {
            return Err("must be an email address like name@example.com");
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn local_part(&self) -> &str {
        self.0
            .split_once('@')
            .map_or(self.0.as_str(), |(local, _)| local)
    }
}

/// A display name: trimmed, 1 to 100 characters, no control characters and
/// no bidi controls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct UserName(String);

impl UserName {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("must not be empty");
        }
        // Counted on what the client sent, as openapi.yaml's maxLength is.
        if raw.chars().count() > MAX_NAME_CHARS {
            return Err("must be at most 100 characters");
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        // They reorder the text around them: a name could show as another.
        if name.chars().any(is_bidi_control) {
            return Err("must not contain bidirectional override characters");
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password that passed the NIST SP 800-63B rules. Kept secret: it has
/// no `Display`, its `Debug` is redacted, and it is never trimmed.
pub struct Password(SecretString);

impl Password {
    /// `email`, when known, is the account's address: a password equal to it
    /// or to its local part is refused.
    pub fn parse(raw: SecretString, email: Option<&Email>) -> Result<Self, &'static str> {
        let password = raw.expose_secret();
        let length = password.chars().count();
        if length < MIN_PASSWORD_CHARS {
            return Err("must be at least 8 characters");
        }
        if length > MAX_PASSWORD_CHARS {
            return Err("must be at most 256 characters");
        }
        let folded = password.to_lowercase();
        if COMMON_PASSWORDS.lines().any(|common| common == folded) {
            return Err("is one of the most common passwords; choose another");
        }
        if let Some(email) = email
            && (folded == email.as_str() || folded == email.local_part())
        {
            return Err("must not be the email address or its local part");
        }
        Ok(Self(raw))
    }

    pub fn into_secret(self) -> SecretString {
        self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// A user as the API shows it: exactly the fields of API.md's user object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub name: UserName,
    pub admin: bool,
    /// Whether the owner of `email` proved it (a verification, reset or
    /// email-change link mailed there was used).
    pub email_verified: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// An opaque user id. New ids are UUIDv7, whose text sorts in creation order,
/// which the admin listing relies on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// The all-zero id, which no user has (`generate` makes UUIDv7s): the
    /// decoy's (`store::users::DECOY_PK`).
    pub fn nil() -> Self {
        Self(uuid::Uuid::nil().hyphenated().to_string())
    }

    /// Accepts only the canonical hyphenated UUID form this API issues.
    pub fn parse(raw: &str) -> Option<Self> {
        canonical_uuid(raw).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `raw` if it is a UUID in the canonical hyphenated form this API issues
/// (user and session ids), so that one id has one spelling.
pub fn canonical_uuid(raw: &str) -> Option<String> {
    let canonical = uuid::Uuid::try_parse(raw).ok()?.hyphenated().to_string();
    (canonical == raw).then_some(canonical)
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(raw: &str, email: Option<&Email>) -> Result<Password, &'static str> {
        Password::parse(SecretString::from(raw), email)
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Ada@Example.IO ").unwrap().as_str(),
            "ada@example.io"
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for raw in [
            "",
            "   ",
            "plain",
            "@example.com",
            "a@b",
            "a@@b.io",
            "a@b@c.io",
            "a b@c.io",
            "a@b .io",
            "a@.io",
            "a@b.",
            "a@b..io",
            "a\u{7}@b.io",
            "bob<alice@x.io>",
            "(c)alice@x.io",
            "g:alice@x.io;",
            "a,b@x.io",
            "\"a\"@x.io",
            "a\\b@x.io",
            "a[1]@x.io",
            "alice\u{200B}@x.io",
            "\u{FEFF}alice@x.io",
            "ali\u{202E}ce@x.io",
            "a\u{00AD}lice@x.io",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} should be refused");
        }
    }

    #[test]
    fn emails_longer_than_254_characters_are_refused() {
        let at_limit = format!("{}@example.com", "a".repeat(254 - 12));
        assert!(Email::parse(&at_limit).is_ok());
        let over = format!("{}@example.com", "a".repeat(255 - 12));
        assert!(Email::parse(&over).is_err());
    }

    #[test]
    fn length_limits_count_what_the_client_sent() {
        let name = format!(" {} ", "n".repeat(99));
        assert!(UserName::parse(&name).is_err(), "101 characters sent");
        assert!(UserName::parse(&"n".repeat(99)).is_ok());
        let email = format!("{}@example.com  ", "a".repeat(254 - 12 - 1));
        assert_eq!(email.chars().count(), 255);
        assert!(Email::parse(&email).is_err(), "255 characters sent");
        assert!(Email::parse(email.trim_end()).is_ok());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            UserName::parse("  Ada Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
        assert!(UserName::parse("").is_err());
        assert!(UserName::parse(" \t ").is_err());
        assert!(UserName::parse(&"é".repeat(100)).is_ok());
        assert!(UserName::parse(&"é".repeat(101)).is_err());
        assert!(UserName::parse("Ada\nLovelace").is_err());
        assert!(UserName::parse("Ada\u{0}").is_err());
    }

    #[test]
    fn names_with_bidi_controls_are_refused() {
        for raw in ["Ada\u{202E}ecalevol", "\u{2066}Ada\u{2069}", "Ada\u{200F}"] {
            assert!(UserName::parse(raw).is_err(), "{raw:?} should be refused");
        }
        assert!(
            UserName::parse("עדה לאבלייס").is_ok(),
            "right-to-left letters are fine"
        );
    }

    #[test]
    fn password_length_counts_code_points() {
        assert!(password("seven77", None).is_err());
        assert!(password("ééééééé1", None).is_ok());
        assert!(password(&"ü".repeat(256), None).is_ok());
        assert!(password(&"ü".repeat(257), None).is_err());
    }

    #[test]
    fn common_passwords_are_refused_in_any_letter_case() {
        assert!(password("password", None).is_err());
        assert!(password("PassWord", None).is_err());
        assert!(password("iloveyou", None).is_err());
        assert!(password("correct horse battery staple", None).is_ok());
    }

    #[test]
    fn a_password_equal_to_the_email_or_its_local_part_is_refused() {
        let email = Email::parse("ada.lovelace@example.com").unwrap();
        assert!(password("ada.lovelace@example.com", Some(&email)).is_err());
        assert!(password("Ada.Lovelace", Some(&email)).is_err());
        assert!(password("ada.lovelace!", Some(&email)).is_ok());
    }

    #[test]
    fn passwords_are_not_trimmed() {
        let parsed = password("  spaced out  ", None).unwrap();
        assert_eq!(parsed.into_secret().expose_secret(), "  spaced out  ");
    }

    #[test]
    fn the_common_password_list_is_sorted_and_long_enough() {
        let lines: Vec<&str> = COMMON_PASSWORDS.lines().collect();
        assert!(lines.len() > 3000);
        assert!(lines.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(
            lines
                .iter()
                .all(|line| line.chars().count() >= MIN_PASSWORD_CHARS)
        );
    }

    #[test]
    fn user_ids_sort_in_creation_order_and_parse_back() {
        let first = UserId::generate();
        let second = UserId::generate();
        assert!(first.as_str() < second.as_str());
        assert_eq!(UserId::parse(first.as_str()), Some(first));
        assert_eq!(UserId::parse("not-a-uuid"), None);
        assert_eq!(UserId::parse("6BA7B810-9DAD-11D1-80B4-00C04FD430C8"), None);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use secrecy::SecretString;

    use super::*;

    proptest! {
        #[test]
        fn email_parsing_never_panics_and_keeps_its_promises(raw in any::<String>()) {
            if let Ok(email) = Email::parse(&raw) {
                let text = email.as_str();
                prop_assert_eq!(text.trim(), text);
                prop_assert_eq!(text.to_lowercase(), text);
                prop_assert!(text.chars().count() <= MAX_EMAIL_CHARS);
                prop_assert_eq!(text.matches('@').count(), 1);
                prop_assert!(!text.chars().any(|c| EMAIL_SPECIALS.contains(c)));
                prop_assert!(!text.chars().any(|c| c.is_control() || is_invisible_format(c)));
            }
        }

        #[test]
        fn an_email_with_a_special_or_invisible_character_is_refused(
            local in "[a-z]{1,10}",
            special in prop::sample::select(
                "<>()[],;:\"\\\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}\u{202E}\u{2066}\u{00AD}"
                    .chars()
                    .collect::<Vec<_>>(),
            ),
            position in 0usize..=10,
        ) {
            let mut local: Vec<char> = local.chars().collect();
            local.insert(position.min(local.len()), special);
            let raw = format!("{}@example.com", local.into_iter().collect::<String>());
            prop_assert!(Email::parse(&raw).is_err(), "{:?} was accepted", raw);
        }

        #[test]
        fn a_name_with_a_bidi_control_is_refused(
            name in "[A-Za-z ]{0,20}",
            control in prop::sample::select(
                "\u{061C}\u{200E}\u{200F}\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}\u{2066}\u{2067}\u{2068}\u{2069}"
                    .chars()
                    .collect::<Vec<_>>(),
            ),
            position in 0usize..=20,
        ) {
            let mut chars: Vec<char> = format!("A{name}").chars().collect();
            chars.insert(position.min(chars.len()), control);
            let raw: String = chars.into_iter().collect();
            prop_assert!(UserName::parse(&raw).is_err(), "{:?} was accepted", raw);
        }

        #[test]
        fn values_over_the_schema_limits_are_never_accepted(raw in any::<String>()) {
            let count = raw.chars().count();
            prop_assert!(count <= MAX_EMAIL_CHARS || Email::parse(&raw).is_err());
            prop_assert!(count <= MAX_NAME_CHARS || UserName::parse(&raw).is_err());
        }

        #[test]
        fn name_parsing_never_panics_and_keeps_its_promises(raw in any::<String>()) {
            if let Ok(name) = UserName::parse(&raw) {
                let count = name.as_str().chars().count();
                prop_assert!((1..=MAX_NAME_CHARS).contains(&count));
                prop_assert!(!name.as_str().chars().any(char::is_control));
                prop_assert!(!name.as_str().chars().any(is_bidi_control));
            }
        }

        #[test]
        fn password_parsing_never_panics(raw in any::<String>(), email in any::<String>()) {
            let email = Email::parse(&email).ok();
            if Password::parse(SecretString::from(raw.clone()), email.as_ref()).is_ok() {
                let count = raw.chars().count();
                prop_assert!((MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&count));
            }
        }
    }
}
