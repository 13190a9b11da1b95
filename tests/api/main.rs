//! Integration tests: the real handlers against DynamoDB Local and the SES
//! emulator, one module a route.

mod emulators;
mod helpers;

mod get_user;
mod login;
mod register;
mod request_rules;
