//! What each function may do to the table, by action and by the partition
//! keys (`dynamodb:LeadingKeys`) it touches: the least each one's store
//! calls need, kept here beside those calls. `template.yaml` grants exactly
//! this (tests/api/permissions.rs compares the two), and every DynamoDB
//! call the handlers make in the tests must fall inside it (the same test
//! records them), so a new store call without its permission fails
//! `make test` instead of a deployment.

/// Every function reads the key set (public keys only) at cold start: those
/// that sign or verify tokens need it, and for the others the read opens
/// the DynamoDB connection before the first request (`UserStore::warm_up`).
pub use super::keys::KEYS_PK;
/// The decoy that an unknown address's lookup reads (`UserStore::find_by_email`).
pub use super::users::DECOY_PK;

/// Where a grant applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resource {
    /// The table, limited to items whose partition key matches one of
    /// these `StringLike` patterns.
    Table(&'static [&'static str]),
    /// The creation-order index (a Query reads only public user fields).
    UsersByCreationIndex,
}

/// One IAM statement: these actions on this resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub actions: &'static [&'static str],
    pub resource: Resource,
}

const fn table(actions: &'static [&'static str], keys: &'static [&'static str]) -> Grant {
    Grant {
        actions,
        resource: Resource::Table(keys),
    }
}

/// The grants of each function, by its binary name.
pub const FUNCTION_GRANTS: [(&str, &[Grant]); 18] = [
    (
        "register",
        &[
            table(&["dynamodb:GetItem"], &[KEYS_PK]),
            table(&["dynamodb:PutItem"], &["USER#*", "EMAIL#*", "VERIFY#*"]),
            // Withdrawing the verification token whose mail failed.
            table(&["dynamodb:UpdateItem"], &["USER#*"]),
            table(&["dynamodb:DeleteItem"], &["VERIFY#*"]),
            // The per-client count (client_limits).
            table(&["dynamodb:UpdateItem"], &["CLIENT#*"]),
        ],
    ),
    (
        "login",
        &[
            table(
                &["dynamodb:GetItem"],
                &[KEYS_PK, "EMAIL#*", "USER#*", DECOY_PK],
            ),
            // The decoy, where an unknown address finds it missing.
            table(&["dynamodb:PutItem"], &[DECOY_PK]),
            table(
                &["dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                &["LOGIN#*"],
            ),
            // The new session, and the least recently used one when the
            // cap is reached: in the sessions' partition, no user item.
            table(
                &["dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"],
                &["SESSIONS#*"],
            ),
            // The per-client count (client_limits).
            table(&["dynamodb:UpdateItem"], &["CLIENT#*"]),
        ],
    ),
    (
        "logout",
        &[
            table(&["dynamodb:GetItem"], &[KEYS_PK, "USER#*", "SESSIONS#*"]),
            // The session's item (local); the user's version (global); both
            // in one transaction (others).
            table(&["dynamodb:DeleteItem"], &["SESSIONS#*"]),
            table(&["dynamodb:UpdateItem"], &["USER#*", "SESSIONS#*"]),
        ],
    ),
    (
        "refresh-token",
        &[
            table(&["dynamodb:GetItem"], &[KEYS_PK, "USER#*", "SESSIONS#*"]),
            // Advancing the session's counter; ending a reused session. No
            // write on any user item.
            table(
                &["dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                &["SESSIONS#*"],
            ),
            // The per-client count (client_limits).
            table(&["dynamodb:UpdateItem"], &["CLIENT#*"]),
        ],
    ),
    (
        "list-sessions",
        &[
            table(&["dynamodb:GetItem"], &[KEYS_PK, "USER#*", "SESSIONS#*"]),
            table(&["dynamodb:Query"], &["SESSIONS#*"]),
        ],
    ),
    (
        "end-session",
        &[
            table(&["dynamodb:GetItem"], &[KEYS_PK, "USER#*", "SESSIONS#*"]),
            table(&["dynamodb:DeleteItem"], &["SESSIONS#*"]),
        ],
    ),
    (
        "request-password-reset",
        &[
            table(
                &["dynamodb:GetItem"],
                &[KEYS_PK, "EMAIL#*", "USER#*", DECOY_PK],
            ),
            table(&["dynamodb:UpdateItem"], &["USER#*"]),
            table(&["dynamodb:PutItem", "dynamodb:DeleteItem"], &["RESET#*"]),
            // The per-client count (client_limits).
            table(&["dynamodb:UpdateItem"], &["CLIENT#*"]),
        ],
    ),
    (
        "reset-password",
        &[
            table(&["dynamodb:GetItem"], &[KEYS_PK, "RESET#*"]),
            table(&["dynamodb:UpdateItem"], &["USER#*"]),
            table(&["dynamodb:DeleteItem"], &["RESET#*", "LOGIN#*"]),
            // The per-client count (client_limits).
            table(&["dynamodb:UpdateItem"], &["CLIENT#*"]),
        ],
    ),
    (
        "request-verification-email",
        &[
            table(
                &["dynamodb:GetItem"],
                &[KEYS_PK, "EMAIL#*", "USER#*", DECOY_PK],
            ),
            table(&["dynamodb:UpdateItem"], &["USER#*"]),
            table(&["dynamodb:PutItem", "dynamodb:DeleteItem"], &["VERIFY#*"]),
            // The per-client count (client_limits).
            table(&["dynamodb:UpdateItem"], &["CLIENT#*"]),
        ],
    ),
    (
        "verify-email",
        &[
            table(&["dynamodb:GetItem"], &[KEYS_PK, "VERIFY#*"]),
            // One conditional update consumes the token (its item goes by TTL).
            table(&["dynamodb:UpdateItem"], &["USER#*"]),
        ],
    ),
    (
        "confirm-email-change",
        &[
            // It also serves the cancel link (CANCEL_EMAIL_CHANGE#).
            table(
                &["dynamodb:GetItem"],
                &[KEYS_PK, "EMAIL_CHANGE#*", "CANCEL_EMAIL_CHANGE#*", "USER#*"],
            ),
            table(&["dynamodb:UpdateItem"], &["USER#*"]),
            // The claim moves; the tokens mailed to the old address go.
            table(&["dynamodb:PutItem"], &["EMAIL#*"]),
            table(
                &["dynamodb:DeleteItem"],
                &[
                    "EMAIL#*",
                    "EMAIL_CHANGE#*",
                    "CANCEL_EMAIL_CHANGE#*",
                    "RESET#*",
                    "VERIFY#*",
                ],
            ),
        ],
    ),
    (
        "change-password",
        &[
            table(&["dynamodb:GetItem"], &[KEYS_PK, "USER#*", "SESSIONS#*"]),
            // The new hash and version, and the caller's new session.
            table(&["dynamodb:UpdateItem"], &["USER#*"]),
            table(&["dynamodb:PutItem"], &["SESSIONS#*"]),
            // The current password is checked under the login lockout.
            table(
                &["dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                &["LOGIN#*"],
            ),
        ],
    ),
    (
        "get-user",
        &[table(
            &["dynamodb:GetItem"],
            &[KEYS_PK, "USER#*", "SESSIONS#*"],
        )],
    ),
    (
        "update-user",
        &[
            // EMAIL#: whether the new address is taken.
            table(
                &["dynamodb:GetItem"],
                &[KEYS_PK, "USER#*", "SESSIONS#*", "EMAIL#*"],
            ),
            table(&["dynamodb:UpdateItem"], &["USER#*"]),
            // The current password is checked under the login lockout.
            table(
                &["dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                &["LOGIN#*"],
            ),
            // The change's token, and the cancel link to the old address.
            table(
                &["dynamodb:PutItem", "dynamodb:DeleteItem"],
                &["EMAIL_CHANGE#*", "CANCEL_EMAIL_CHANGE#*"],
            ),
        ],
    ),
    (
        "delete-user",
        &[
            table(&["dynamodb:GetItem"], &[KEYS_PK, "USER#*", "SESSIONS#*"]),
            table(
                &["dynamodb:DeleteItem"],
                &[
                    "USER#*",
                    "EMAIL#*",
                    "RESET#*",
                    "VERIFY#*",
                    "EMAIL_CHANGE#*",
                    "CANCEL_EMAIL_CHANGE#*",
                ],
            ),
            // The sessions, after the user.
            table(
                &["dynamodb:Query", "dynamodb:BatchWriteItem"],
                &["SESSIONS#*"],
            ),
        ],
    ),
    (
        "list-users",
        &[
            table(&["dynamodb:GetItem"], &[KEYS_PK, "USER#*", "SESSIONS#*"]),
            Grant {
                actions: &["dynamodb:Query"],
                resource: Resource::UsersByCreationIndex,
            },
        ],
    ),
    ("well-known", &[table(&["dynamodb:GetItem"], &[KEYS_PK])]),
    // Static pages: no store, so no cold-start read either.
    ("pages", &[]),
];

/// Whether `grants` allow `action` on the item whose partition key is `pk`.
pub fn allows(grants: &[Grant], action: &str, pk: &str) -> bool {
    grants.iter().any(|grant| {
        grant.actions.contains(&action)
            && match grant.resource {
                Resource::Table(patterns) => patterns.iter().any(|pattern| {
                    pattern
                        .strip_suffix('*')
                        .map_or(*pattern == pk, |prefix| pk.starts_with(prefix))
                }),
                Resource::UsersByCreationIndex => false,
            }
    })
}
