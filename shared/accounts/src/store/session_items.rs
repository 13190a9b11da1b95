//! Session items: one per login, `SESSIONS#<user id>` / `SESSION#<sid>`,
//! in a partition of their own, not the user's: IAM can limit a grant by
//! partition key but not by sort key, so the functions that only handle
//! sessions (refresh, end-session) get no write on any user item.
//! Authentication still reads the user and the session in one
//! `TransactGetItems`.
//!
//! A session is live while its `epoch` equals the user's `token_version`
//! and it has not reached `SessionPolicy::ends_at`. A password reset, a
//! password change and `logout?scope=global` bump the user's version in the
//! one write they make anyway: every session ends at once, however many
//! there are (a transaction could name at most 100 items), and the ended
//! items go with their TTL.

use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{DeleteRequest, Select, TransactWriteItem, Update, WriteRequest};

use super::items::USER_SK;
use super::{
    Item, Transaction, UserStore, key, malformed, n, number_attr, s, string_attr, update_if,
    user_id_attr, user_pk,
};
use crate::config::SessionPolicy;
use crate::domain::UserId;
use crate::error::{ApiError, sdk_error};
use crate::refresh_token::{RefreshToken, SessionId};

/// User agents are kept to this many characters (API.md: at most 256).
pub const USER_AGENT_CHARS: usize = 256;

/// A login that would make more live sessions ends the least recently used
/// (API.md: abuse limits).
pub const MAX_LIVE_SESSIONS: usize = 100;

#[derive(Debug)]
pub struct SessionRecord {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: u64,
    /// The login or the last refresh.
    pub last_used_at: u64,
    pub user_agent: Option<String>,
    /// The user's `token_version` when the session began (or was kept by
    /// `logout?scope=others`).
    pub epoch: u64,
    /// The counter of the current refresh token.
    pub counter: u64,
    /// When the current refresh token was handed out.
    pub rotated_at: u64,
}

impl SessionRecord {
    /// A new session's record, its first refresh token at counter 0.
    pub fn begin(
        user_id: &UserId,
        epoch: u64,
        user_agent: Option<&str>,
        now: u64,
    ) -> Result<Self, ApiError> {
        Ok(Self {
            id: SessionId::generate(),
            user_id: user_id.clone(),
            created_at: now,
            last_used_at: now,
            user_agent: user_agent
                .map(keep_user_agent)
                .filter(|agent| !agent.is_empty()),
            epoch,
            counter: 0,
            rotated_at: now,
        })
    }

    pub fn current_token(&self) -> RefreshToken {
        RefreshToken {
            user_id: self.user_id.clone(),
            session_id: self.id.clone(),
            counter: self.counter,
        }
    }

    /// Whether the session still counts: the user's version unchanged and
    /// neither its maximum age nor its idle time reached.
    pub fn is_live(&self, user_token_version: u64, policy: &SessionPolicy, now: u64) -> bool {
        self.epoch == user_token_version && now < policy.ends_at(self.created_at, self.last_used_at)
    }
}

/// The first `USER_AGENT_CHARS` characters, control characters dropped (it
/// is shown back to the user in the session list).
fn keep_user_agent(agent: &str) -> String {
    agent
        .chars()
        .filter(|c| !c.is_control())
        .take(USER_AGENT_CHARS)
        .collect::<String>()
        .trim()
        .to_owned()
}

pub fn session_sk(id: &SessionId) -> String {
    format!("SESSION#{id}")
}

/// The partition of a user's sessions.
pub fn sessions_pk(user_id: &UserId) -> String {
    format!("SESSIONS#{user_id}")
}

/// The key of one session's item.
pub fn session_key(user_id: &UserId, id: &SessionId) -> Item {
    key(sessions_pk(user_id), &session_sk(id))
}

pub const SESSION_SK_PREFIX: &str = "SESSION#";

pub fn session_item(record: &SessionRecord, policy: &SessionPolicy) -> Item {
    let mut item = session_key(&record.user_id, &record.id);
    item.extend([
        ("session_id".to_owned(), s(record.id.as_str())),
        ("user_id".to_owned(), s(record.user_id.as_str())),
        ("created_at".to_owned(), n(record.created_at)),
        ("last_used_at".to_owned(), n(record.last_used_at)),
        ("epoch".to_owned(), n(record.epoch)),
        ("counter".to_owned(), n(record.counter)),
        ("rotated_at".to_owned(), n(record.rotated_at)),
        (
            "expires_at".to_owned(),
            n(policy.ends_at(record.created_at, record.last_used_at)),
        ),
    ]);
    if let Some(agent) = &record.user_agent {
        item.insert("user_agent".to_owned(), s(agent));
    }
    item
}

/// Items written before 1.2 also hold a `refresh_key`, which nothing reads
/// any more: their refresh tokens no longer verify (each session ends once,
/// at the upgrade), and the items go with their TTL.
pub fn session_from_item(item: &Item) -> Result<SessionRecord, ApiError> {
    Ok(SessionRecord {
        id: SessionId::parse(&string_attr(item, "session_id")?)
            .ok_or_else(|| malformed("session_id"))?,
        user_id: user_id_attr(item, "user_id")?,
        created_at: number_attr(item, "created_at")?,
        last_used_at: number_attr(item, "last_used_at")?,
        user_agent: match item.get("user_agent") {
            None => None,
            Some(_) => Some(string_attr(item, "user_agent")?),
        },
        epoch: number_attr(item, "epoch")?,
        counter: number_attr(item, "counter")?,
        rotated_at: number_attr(item, "rotated_at")?,
    })
}

impl UserStore {
    /// Stores a new session.
    pub async fn create_session(
        &self,
        record: &SessionRecord,
        policy: &SessionPolicy,
    ) -> Result<(), ApiError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(session_item(record, policy)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// Every session item of the user, ended ones included (the caller
    /// filters with `SessionRecord::is_live`).
    pub async fn session_records(&self, user_id: &UserId) -> Result<Vec<SessionRecord>, ApiError> {
        let mut records = Vec::new();
        let query = self.sessions_query(user_id).consistent_read(true);
        for_each_page(query, |page| {
            for item in page.items() {
                records.push(session_from_item(item)?);
            }
            Ok(())
        })
        .await?;
        Ok(records)
    }

    /// How many session items the user has, ended ones included, without
    /// reading them: a login reads them all only when this reaches the cap.
    pub async fn session_item_count(&self, user_id: &UserId) -> Result<usize, ApiError> {
        let mut count = 0;
        let query = self.sessions_query(user_id).select(Select::Count);
        for_each_page(query, |page| {
            count += usize::try_from(page.count).unwrap_or_default();
            Ok(())
        })
        .await?;
        Ok(count)
    }

    fn sessions_query(&self, user_id: &UserId) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(&sessions_pk(user_id)))
            .expression_attribute_values(":prefix", s(SESSION_SK_PREFIX))
    }

    /// Moves the session to the refresh token after `from` (counter + 1), on
    /// condition that `from` is still current; `false` when another refresh
    /// got there first (or the session is gone).
    pub async fn advance_session(
        &self,
        from: &RefreshToken,
        policy: &SessionPolicy,
        created_at: u64,
        now: u64,
    ) -> Result<bool, ApiError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(session_key(&from.user_id, &from.session_id)))
            .condition_expression("#counter = :from")
            .update_expression(
                "SET #counter = :next, rotated_at = :now, last_used_at = :now, expires_at = :ends",
            )
            .expression_attribute_names("#counter", "counter")
            .expression_attribute_values(":from", n(from.counter))
            .expression_attribute_values(":next", n(from.counter + 1))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":ends", n(policy.ends_at(created_at, now)));
        Ok(update_if(request).await?.is_some())
    }

    /// Ends one session by removing its item; `false` if there was none.
    pub async fn end_session(&self, user_id: &UserId, id: &SessionId) -> Result<bool, ApiError> {
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(session_key(user_id, id)))
            .condition_expression("attribute_exists(pk)");
        delete_if(request).await
    }

    /// Ends one of the user's sessions if it is live (`DELETE
    /// /sessions/{id}`): `false` for an unknown id, an ended session whose
    /// item waits for its TTL, and another user's session alike (the key
    /// holds the user id, so no other user's item is ever reached).
    pub async fn end_live_session(
        &self,
        user_id: &UserId,
        id: &SessionId,
        user_token_version: u64,
        now: u64,
    ) -> Result<bool, ApiError> {
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(session_key(user_id, id)))
            .condition_expression("attribute_exists(pk) AND epoch = :epoch AND expires_at > :now")
            .expression_attribute_values(":epoch", n(user_token_version))
            .expression_attribute_values(":now", n(now));
        delete_if(request).await
    }

    /// Ends every session of the user at once (`logout?scope=global`,
    /// `users-admin sign-out`): the user's version moves on, which no
    /// session's epoch then matches, nor a pending reset or email change
    /// (`mail_tokens`). `false` if the user is gone.
    pub async fn end_all_sessions(&self, user_id: &UserId) -> Result<bool, ApiError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user_id), USER_SK)))
            .condition_expression("attribute_exists(pk)")
            .update_expression("ADD token_version :one")
            .expression_attribute_values(":one", n(1));
        Ok(update_if(request).await?.is_some())
    }

    /// Ends every session of the user but `keep` (`logout?scope=others`):
    /// one transaction moves the user's version on from `user_token_version`
    /// and stamps `keep` with the new one. `false` if either changed
    /// meanwhile (then `keep` has ended too, or the user is gone).
    pub async fn end_other_sessions(
        &self,
        user_id: &UserId,
        keep: &SessionId,
        user_token_version: u64,
    ) -> Result<bool, ApiError> {
        let next = user_token_version + 1;
        let update = |item_key: Item, attribute: &str| -> Result<TransactWriteItem, ApiError> {
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(item_key))
                .condition_expression("#version = :current")
                .update_expression("SET #version = :next")
                .expression_attribute_names("#version", attribute)
                .expression_attribute_values(":current", n(user_token_version))
                .expression_attribute_values(":next", n(next))
                .build()
                .map_err(ApiError::unexpected)?;
            Ok(TransactWriteItem::builder().update(update).build())
        };
        let items = vec![
            update(key(user_pk(user_id), USER_SK), "token_version")?,
            update(session_key(user_id, keep), "epoch")?,
        ];
        Ok(matches!(
            self.transact(items).await?,
            Transaction::Committed
        ))
    }

    /// Removes these session items (a deleted user's: they already count
    /// for nothing, since authentication and refresh need the user item).
    pub async fn remove_sessions(&self, records: &[SessionRecord]) -> Result<(), ApiError> {
        for chunk in records.chunks(BATCH_WRITE_LIMIT) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|record| {
                    let delete = DeleteRequest::builder()
                        .set_key(Some(session_key(&record.user_id, &record.id)))
                        .build()
                        .map_err(ApiError::unexpected)?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<Result<_, ApiError>>()?;
            for _ in 0..BATCH_WRITE_TRIES {
                if pending.is_empty() {
                    break;
                }
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                pending = output
                    .unprocessed_items
                    .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(ApiError::Unavailable(
                    "DynamoDB left session deletes unprocessed".into(),
                ));
            }
        }
        Ok(())
    }
}

/// BatchWriteItem takes at most 25 requests.
const BATCH_WRITE_LIMIT: usize = 25;
const BATCH_WRITE_TRIES: usize = 3;

/// Sends a conditional delete; `false` when its condition failed.
/// Sends `query` page by page, handing each page to `each`. The SDK's own
/// paginator would do the same for about 60 KB more in every function that
/// links it (login: 3.05 MB zipped with it, over the 3 MB target; make bench).
async fn for_each_page(
    query: QueryFluentBuilder,
    mut each: impl FnMut(QueryOutput) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let mut start = None;
    loop {
        let mut page = query
            .clone()
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        start = page.last_evaluated_key.take();
        each(page)?;
        if start.is_none() {
            return Ok(());
        }
    }
}

async fn delete_if(request: DeleteItemFluentBuilder) -> Result<bool, ApiError> {
    match request.send().await {
        Ok(_) => Ok(true),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(error) => Err(sdk_error(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> SessionPolicy {
        SessionPolicy {
            max_age_seconds: 1000,
            idle_timeout_seconds: 100,
            reuse_interval_seconds: 10,
        }
    }

    #[test]
    fn a_session_survives_the_trip_through_an_item() {
        let user_id = UserId::generate();
        let record = SessionRecord::begin(&user_id, 3, Some("curl/8.0"), 5000).unwrap();
        let item = session_item(&record, &policy());
        assert_eq!(item["expires_at"], n(5100));
        let back = session_from_item(&item).unwrap();
        assert_eq!(back.id, record.id);
        assert_eq!(back.user_id, user_id);
        assert_eq!(back.epoch, 3);
        assert_eq!(back.user_agent.as_deref(), Some("curl/8.0"));
        assert!(
            !item.contains_key("refresh_key"),
            "no key material in the table"
        );
        assert_eq!(back.counter, 0);
    }

    #[test]
    fn user_agents_are_cut_to_256_characters_without_control_characters() {
        let long = format!("agent\u{7}\n{}", "é".repeat(400));
        let record = SessionRecord::begin(&UserId::generate(), 0, Some(&long), 0).unwrap();
        let kept = record.user_agent.unwrap();
        assert_eq!(kept.chars().count(), USER_AGENT_CHARS);
        assert!(kept.starts_with("agenté"));
        let blank = SessionRecord::begin(&UserId::generate(), 0, Some(" \n"), 0).unwrap();
        assert_eq!(blank.user_agent, None);
    }

    #[test]
    fn a_session_ends_with_a_new_user_version_its_age_or_its_idle_time() {
        let record = SessionRecord::begin(&UserId::generate(), 2, None, 0).unwrap();
        assert!(record.is_live(2, &policy(), 99));
        assert!(!record.is_live(3, &policy(), 1), "version bumped");
        assert!(!record.is_live(2, &policy(), 100), "idle");
        let used = SessionRecord {
            last_used_at: 950,
            ..record
        };
        assert!(used.is_live(2, &policy(), 999));
        assert!(!used.is_live(2, &policy(), 1000), "maximum age");
    }

    #[test]
    fn an_item_without_its_counter_is_corrupt() {
        let record = SessionRecord::begin(&UserId::generate(), 0, None, 0).unwrap();
        let mut item = session_item(&record, &policy());
        item.remove("counter");
        assert!(matches!(
            session_from_item(&item),
            Err(ApiError::Unexpected(_))
        ));
    }
}
