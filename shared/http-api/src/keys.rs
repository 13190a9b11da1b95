//! The published key set as a function sees it: read at cold start, read
//! again when it is five minutes old, and sooner (at most every 30 s) when a
//! token names a key id it does not hold, so warm functions learn of a new
//! key without a redeploy while tokens with made-up key ids cost at most one
//! read per interval.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use accounts::error::{ApiError, cause_chain};
use accounts::keys::KeySet;
use accounts::store::UserStore;

const FRESH_FOR: Duration = Duration::from_secs(300);
const UNKNOWN_KID_REREAD_AFTER: Duration = Duration::from_secs(30);

pub struct PublishedKeys {
    current: RwLock<Snapshot>,
}

#[derive(Clone)]
struct Snapshot {
    keys: Arc<KeySet>,
    /// `None` until a read succeeded: the next request reads again.
    read_at: Option<Instant>,
}

impl PublishedKeys {
    /// Reads the key set now; this is also the cold start's first DynamoDB
    /// request, which opens the connection the handler then reuses. A
    /// failure is only logged: the first request reads again (and answers
    /// 503 if DynamoDB is still out of reach).
    pub async fn load(store: &UserStore) -> Self {
        match store.key_set().await {
            Ok(stored) => Self::new(stored.keys),
            Err(error) => {
                tracing::warn!(cause = %cause_chain(&error), "the key set could not be read at start-up");
                Self {
                    current: RwLock::new(Snapshot {
                        keys: Arc::default(),
                        read_at: None,
                    }),
                }
            }
        }
    }

    pub fn new(keys: KeySet) -> Self {
        Self::read_ago(keys, Duration::ZERO)
    }

    /// Keys as if read `age` ago (tests use it to stand in for time passing).
    pub fn read_ago(keys: KeySet, age: Duration) -> Self {
        Self {
            current: RwLock::new(Snapshot {
                keys: Arc::new(keys),
                read_at: Some(Instant::now().checked_sub(age).unwrap_or_else(Instant::now)),
            }),
        }
    }

    /// The key set, read again first if it is older than `FRESH_FOR`.
    pub async fn current(&self, store: &UserStore) -> Result<Arc<KeySet>, ApiError> {
        self.read_if_older_than(FRESH_FOR, store).await
    }

    /// After a token named an unknown key id: the key set read again if the
    /// last read is older than `UNKNOWN_KID_REREAD_AFTER`.
    pub async fn after_unknown_kid(&self, store: &UserStore) -> Result<Arc<KeySet>, ApiError> {
        self.read_if_older_than(UNKNOWN_KID_REREAD_AFTER, store)
            .await
    }

    /// A failed read keeps the keys of the last good one; with none yet, the
    /// failure is the answer (503 when DynamoDB is out of reach).
    async fn read_if_older_than(
        &self,
        age: Duration,
        store: &UserStore,
    ) -> Result<Arc<KeySet>, ApiError> {
        let snapshot = self.snapshot();
        if snapshot
            .read_at
            .is_some_and(|read_at| read_at.elapsed() < age)
        {
            return Ok(snapshot.keys);
        }
        match store.key_set().await {
            Ok(stored) => {
                let fresh = Snapshot {
                    keys: Arc::new(stored.keys),
                    read_at: Some(Instant::now()),
                };
                *self
                    .current
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh.clone();
                Ok(fresh.keys)
            }
            Err(error) if snapshot.read_at.is_some() => {
                tracing::warn!(cause = %cause_chain(&error), "the key set could not be read again");
                Ok(snapshot.keys)
            }
            Err(error) => Err(error),
        }
    }

    fn snapshot(&self) -> Snapshot {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}
