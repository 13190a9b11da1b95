//! The table definition: the one the tests create, `users-admin create-table`
//! creates for `make dev`, and `template.yaml` declares for deployments.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};

use crate::error::BoxError;

pub const PARTITION_KEY: &str = "pk";
pub const SORT_KEY: &str = "sk";
pub const USERS_BY_CREATION_INDEX: &str = "users_by_creation";
pub const INDEX_PARTITION_KEY: &str = "list_pk";
pub const INDEX_SORT_KEY: &str = "list_sk";
/// Items that expire (revoked tokens, reset tokens) carry this; expiry is
/// always checked in code, TTL only cleans up.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// The index carries the public user fields only: password hashes stay in
/// the base table.
pub const INDEX_PROJECTED_ATTRIBUTES: [&str; 7] = [
    "id",
    "email",
    "name",
    "admin",
    "email_verified",
    "created_at",
    "updated_at",
];

/// Creates the table unless it exists; returns whether it was created.
pub async fn ensure_table(client: &Client, table: &str) -> Result<bool, BoxError> {
    match client.describe_table().table_name(table).send().await {
        Ok(_) => return Ok(false),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) => {}
        Err(error) => return Err(error.into()),
    }
    create_table(client, table).await?;
    Ok(true)
}

pub async fn create_table(client: &Client, table: &str) -> Result<(), BoxError> {
    let key = |name: &str, key_type| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
    };
    let string_attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let index = GlobalSecondaryIndex::builder()
        .index_name(USERS_BY_CREATION_INDEX)
        .key_schema(key(INDEX_PARTITION_KEY, KeyType::Hash)?)
        .key_schema(key(INDEX_SORT_KEY, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .set_non_key_attributes(Some(
                    INDEX_PROJECTED_ATTRIBUTES
                        .iter()
                        .map(|name| (*name).to_owned())
                        .collect(),
                ))
                .build(),
        )
        .build()?;

    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PARTITION_KEY, KeyType::Hash)?)
        .key_schema(key(SORT_KEY, KeyType::Range)?)
        .attribute_definitions(string_attribute(PARTITION_KEY)?)
        .attribute_definitions(string_attribute(SORT_KEY)?)
        .attribute_definitions(string_attribute(INDEX_PARTITION_KEY)?)
        .attribute_definitions(string_attribute(INDEX_SORT_KEY)?)
        .global_secondary_indexes(index)
        .send()
        .await?;
    wait_until_active(client, table).await?;

    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}

/// DynamoDB Local creates tables at once; the real service takes seconds and
/// refuses TTL changes until the table is active.
async fn wait_until_active(client: &Client, table: &str) -> Result<(), BoxError> {
    for _ in 0..120 {
        let description = client.describe_table().table_name(table).send().await?;
        if description.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Err(format!("table {table} did not become active within a minute").into())
}
