//! Direct reads and edits of a test's table, beside the API: what was
//! written, and data the API would never write (corruption, time passing).

use std::collections::HashMap;

use accounts::store::keys::KEYS_PK;
use accounts::store::permissions::DECOY_PK;
use aws_sdk_dynamodb::types::AttributeValue;

use super::TestApp;

impl TestApp {
    /// Every item of the test table but the published key set (`KEYS`,
    /// which the harness writes before the test starts) and the decoy
    /// (`DECOY`, which login puts at a table's first unknown address and no
    /// account owns), read straight from DynamoDB. Tests of the keys read the
    /// key set through the store; `decoy` reads the decoy.
    pub async fn items(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scanning the test table");
            items.extend(page.items.unwrap_or_default().into_iter().filter(|item| {
                let pk = item.get("pk").and_then(|pk| pk.as_s().ok());
                !pk.is_some_and(|pk| pk == KEYS_PK || pk == DECOY_PK)
            }));
            start = page.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }

    /// The decoy item, if login has put it.
    pub async fn decoy(&self) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(DECOY_PK.to_owned()))
            .key("sk", AttributeValue::S("USER".to_owned()))
            .send()
            .await
            .expect("reading the decoy")
            .item
    }

    /// Every item, printed and sorted: equal snapshots mean nothing was
    /// written. The per-client counts are left out: they record who asked,
    /// not the state of any account (`client_limits.rs` tests them).
    pub async fn snapshot(&self) -> Vec<String> {
        let mut items: Vec<String> = self
            .items()
            .await
            .iter()
            .filter(|item| {
                !item
                    .get("pk")
                    .and_then(|pk| pk.as_s().ok())
                    .is_some_and(|pk| pk.starts_with("CLIENT#"))
            })
            .map(|item| {
                let mut attributes: Vec<String> =
                    item.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                attributes.sort();
                attributes.join(" ")
            })
            .collect();
        items.sort();
        items
    }

    /// `snapshot` without the login lockout items: what a refused password
    /// may change is the count alone.
    pub async fn snapshot_without_lockouts(&self) -> Vec<String> {
        let mut items = self.snapshot().await;
        items.retain(|item| !item.contains("LOGIN#"));
        items
    }

    /// How many items of each kind (`sk`, or its prefix before `#`) the table holds.
    pub async fn count_items(&self, kind: &str) -> usize {
        self.items()
            .await
            .iter()
            .filter_map(|item| item.get("sk").and_then(|sk| sk.as_s().ok()))
            .filter(|sk| sk.split('#').next() == Some(kind))
            .count()
    }

    /// Removes an attribute of an item directly, to stand in for corrupt data.
    pub async fn remove_attribute(&self, pk: &str, sk: &str, attribute: &str) {
        self.edit_attribute(pk, sk, attribute, None).await;
    }

    /// Sets an attribute of an item directly, to stand in for time passing.
    pub async fn set_number(&self, pk: &str, sk: &str, attribute: &str, value: u64) {
        let value = AttributeValue::N(value.to_string());
        self.edit_attribute(pk, sk, attribute, Some(value)).await;
    }

    /// Sets a list of numbers (the send times of mailed tokens), to stand
    /// in for mails sent at those times.
    pub async fn set_numbers(&self, pk: &str, sk: &str, attribute: &str, values: &[u64]) {
        let value = AttributeValue::L(
            values
                .iter()
                .map(|value| AttributeValue::N(value.to_string()))
                .collect(),
        );
        self.edit_attribute(pk, sk, attribute, Some(value)).await;
    }

    /// Sets `attribute` to `value`, or removes it for `None`.
    async fn edit_attribute(
        &self,
        pk: &str,
        sk: &str,
        attribute: &str,
        value: Option<AttributeValue>,
    ) {
        let expression = if value.is_some() {
            "SET #a = :v"
        } else {
            "REMOVE #a"
        };
        self.dynamodb
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .update_expression(expression)
            .expression_attribute_names("#a", attribute)
            .set_expression_attribute_values(
                value.map(|value| HashMap::from([(":v".to_owned(), value)])),
            )
            .send()
            .await
            .expect("editing an item directly");
    }
}
