//! Per-client limits (API.md, "Changes to 1.1 behaviour"): API Gateway's
//! throttles are shared by every client, so one anonymous client could
//! starve login and refresh for everyone, and spray passwords across
//! addresses at the whole route's rate. Each client address gets a
//! fixed-window counter per kind of request, `CLIENT#<kind>#<address>` /
//! `<window start>`, bumped by one conditional-free `UpdateItem` before any
//! Argon2id work and removed by its TTL after the window.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{UserStore, key, n};
use crate::config::ClientLimits;
use crate::error::{ApiError, sdk_error};

/// What kind of request a client makes, each with its own count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRequest {
    Login,
    Register,
    /// A reset request, a reset and a verification request share one count.
    Mail,
    Refresh,
}

impl ClientRequest {
    fn name(self) -> &'static str {
        match self {
            ClientRequest::Login => "login",
            ClientRequest::Register => "register",
            ClientRequest::Mail => "mail",
            ClientRequest::Refresh => "refresh",
        }
    }

    pub fn window_seconds(self) -> u64 {
        match self {
            ClientRequest::Refresh => 60,
            _ => 600,
        }
    }

    pub fn limit(self, limits: &ClientLimits) -> u64 {
        match self {
            ClientRequest::Login => limits.login,
            ClientRequest::Register => limits.register,
            ClientRequest::Mail => limits.mail,
            ClientRequest::Refresh => limits.refresh,
        }
    }
}

/// The window that `now` falls in: its start and its end.
fn window(request: ClientRequest, now: u64) -> (u64, u64) {
    let length = request.window_seconds();
    let start = now - now % length;
    (start, start + length)
}

impl UserStore {
    /// Counts one request of `client` (its source address as API Gateway
    /// reports it); `TooManyRequests` with the time left in the window once
    /// the count passes the limit. Refused requests count too, so a client
    /// that keeps trying stays refused until the window ends.
    pub async fn admit_client(
        &self,
        request: ClientRequest,
        limits: &ClientLimits,
        client: &str,
        now: u64,
    ) -> Result<(), ApiError> {
        let (start, end) = window(request, now);
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                format!("CLIENT#{}#{client}", request.name()),
                &start.to_string(),
            )))
            .update_expression("ADD requests :one SET expires_at = :end")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":end", n(end))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(sdk_error)?;
        let count = match output.attributes().and_then(|new| new.get("requests")) {
            Some(AttributeValue::N(count)) => count.parse::<u64>().ok(),
            _ => None,
        }
        .ok_or_else(|| super::malformed("requests"))?;
        if count > request.limit(limits) {
            return Err(ApiError::TooManyRequests {
                retry_after_seconds: (end - now).max(1),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_fixed_ten_minutes_or_a_minute_for_refreshes() {
        assert_eq!(window(ClientRequest::Login, 1_200), (1_200, 1_800));
        assert_eq!(window(ClientRequest::Login, 1_799), (1_200, 1_800));
        assert_eq!(window(ClientRequest::Refresh, 1_259), (1_200, 1_260));
    }
}
