//! The HTTP layer every function links, on top of `accounts`: request
//! parsing, authentication of a request, the one mapping of results and
//! errors to responses, JSON logging and the Lambda runtime entry point.

pub mod http;
pub mod keys;
pub mod lambda;
pub mod state;
pub mod telemetry;

pub use state::AppState;
