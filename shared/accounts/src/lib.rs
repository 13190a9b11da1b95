//! The core of the user API, with no Lambda or HTTP in it: configuration,
//! the error type, domain types, password hashing, access tokens and the
//! DynamoDB store (the SES mailer is the `mailer` crate). The functions
//! reach it through `http-api`; `users-admin` and the benchmark tools link
//! it alone.

pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod keys;
pub mod mail_token;
pub mod password;
pub mod refresh_token;
pub mod sdk;
pub mod store;
pub mod token;

pub use config::Config;
pub use error::ApiError;
