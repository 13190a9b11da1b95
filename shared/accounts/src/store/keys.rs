//! The published signing keys: one item, `KEYS` / `KEYS`, holding the key
//! set as JSON and a version that every change moves on, so that two
//! rotations at once cannot overwrite each other.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{UserStore, key, malformed, n, update_if};
use crate::error::ApiError;
use crate::keys::KeySet;

pub const KEYS_PK: &str = "KEYS";
const KEYS_SK: &str = "KEYS";

/// The key set as stored, with the version a change must name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredKeySet {
    pub keys: KeySet,
    /// 0 when no key set was ever written.
    pub version: u64,
}

impl UserStore {
    /// The published keys (an empty set before the first key is added).
    pub async fn key_set(&self) -> Result<StoredKeySet, ApiError> {
        let Some(item) = self.get_item(KEYS_PK.to_owned(), KEYS_SK).await? else {
            return Ok(StoredKeySet::default());
        };
        let keys = item
            .get("key_set")
            .and_then(|value| value.as_s().ok())
            .and_then(|json| serde_json::from_str(json).ok())
            .ok_or_else(|| malformed("key_set"))?;
        let version = item
            .get("version")
            .and_then(|value| value.as_n().ok())
            .and_then(|number| number.parse().ok())
            .ok_or_else(|| malformed("version"))?;
        Ok(StoredKeySet { keys, version })
    }

    /// Replaces the key set if it is still at `expected.version`; false when
    /// someone changed it meanwhile.
    pub async fn replace_key_set(
        &self,
        expected: &StoredKeySet,
        keys: &KeySet,
    ) -> Result<bool, ApiError> {
        let json = serde_json::to_string(keys).map_err(ApiError::unexpected)?;
        let condition = if expected.version == 0 {
            "attribute_not_exists(pk)"
        } else {
            "version = :expected"
        };
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(KEYS_PK.to_owned(), KEYS_SK)))
            .update_expression("SET key_set = :key_set, version = :version")
            .condition_expression(condition)
            .expression_attribute_values(":key_set", AttributeValue::S(json))
            .expression_attribute_values(":version", n(expected.version + 1));
        if expected.version != 0 {
            request = request.expression_attribute_values(":expected", n(expected.version));
        }
        Ok(update_if(request).await?.is_some())
    }
}
