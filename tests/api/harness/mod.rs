//! The one test harness: the emulators and the function stack (each started
//! once per run), `TestApp` with a typed helper per route, the responses,
//! the mailbox and the direct view of a table.

pub mod app;
pub mod dynamodb_calls;
pub mod emulators;
pub mod forge;
pub mod http_client;
pub mod keys;
pub mod mailbox;
pub mod response;
pub mod route;
pub mod stack;
mod table;
pub mod template;

pub use app::{ISSUER, NEW_PASSWORD, PASSWORD, TestApp};
pub use mailbox::{emails_about, emails_to, reset_emails_to, reset_token_sent_to, token_mailed_to};
pub use response::TestResponse;
pub use route::Route;
