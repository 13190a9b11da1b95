//! Integration tests against DynamoDB Local and the SES emulator, all
//! through one harness (`harness`): the real handlers called in-process,
//! one module a route (plus the admin tool and the rules every body
//! follows); the real binaries behind `cargo lambda watch` (`e2e`,
//! `events`); and the agreement of every artifact that describes the API
//! (`contract`).

mod harness;

mod admin_tool;
mod change_password;
mod client_limits;
mod contract;
mod delete_user;
mod e2e;
mod email_change;
mod email_verification;
mod events;
mod forged_tokens;
mod get_user;
mod hostile_bodies;
mod layout;
mod list_users;
mod lockout;
mod login;
mod logout;
mod loopback;
mod outages;
mod password_reset;
mod permissions;
mod register;
mod request_rules;
mod session_store;
mod sessions;
mod signing_keys;
mod table_copy;
mod update_user;
