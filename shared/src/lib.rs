//! The library every function links: configuration, the error type and its
//! single mapping to responses, domain types, password hashing, access tokens,
//! the DynamoDB user store and the HTTP request/response helpers.

pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod lambda;
#[cfg(feature = "mail")]
pub mod mail;
pub mod password;
pub mod reset_token;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod token;

pub use config::Config;
pub use error::ApiError;
pub use state::AppState;
