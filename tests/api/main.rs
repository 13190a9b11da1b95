//! Integration tests: the real handlers against DynamoDB Local and the SES
//! emulator, one module a route (plus the admin tool and the rules every
//! body follows).

mod emulators;
mod helpers;

mod admin_tool;
mod delete_user;
mod get_user;
mod list_users;
mod lockout;
mod login;
mod logout;
mod password_reset;
mod register;
mod request_rules;
mod update_user;
