//! A record of every DynamoDB request the handlers send, taken by an SDK
//! interceptor on their client as each request leaves for DynamoDB Local:
//! which operation, and which action on which partition key each of its
//! items needs (a transaction's items one by one, as IAM checks them).

use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use serde_json::Value;

/// One item a request touches: `dynamodb:<Action>` and the item's `pk`
/// (the index name for a Query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub action: String,
    pub pk: String,
}

impl Access {
    /// The action and the kind of key (`USER`, `EMAIL`, ...), without the
    /// part that names one user or address.
    pub fn kind(&self) -> String {
        let kind = self.pk.split('#').next().unwrap_or_default();
        format!("{} {kind}", self.action)
    }
}

/// One request: its operation and the items it touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub operation: String,
    pub accesses: Vec<Access>,
}

#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<Call>>>);

impl CallLog {
    /// The calls recorded since the last `take`.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// What `take` returns, as "Operation: Action KIND, ..." lines: equal
    /// kinds mean the same requests in the same order, whichever user.
    pub fn take_kinds(&self) -> Vec<String> {
        self.take()
            .iter()
            .map(|call| {
                let kinds: Vec<String> = call.accesses.iter().map(Access::kind).collect();
                format!("{}: {}", call.operation, kinds.join(", "))
            })
            .collect()
    }
}

fn pk(key: &Value) -> String {
    key["pk"]["S"].as_str().unwrap_or_default().to_owned()
}

fn access(action: &str, pk: String) -> Access {
    Access {
        action: format!("dynamodb:{action}"),
        pk,
    }
}

/// The items of a request body, as IAM sees them.
fn accesses(operation: &str, body: &Value) -> Vec<Access> {
    match operation {
        "GetItem" | "UpdateItem" | "DeleteItem" => vec![access(operation, pk(&body["Key"]))],
        "PutItem" => vec![access(operation, pk(&body["Item"]))],
        // The store's table Queries name their partition `:pk`.
        "Query" => vec![access(
            operation,
            body["IndexName"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| {
                    body["ExpressionAttributeValues"][":pk"]["S"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                }),
        )],
        "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flat_map(|tables| tables.values())
            .filter_map(Value::as_array)
            .flatten()
            .map(|request| match request.get("DeleteRequest") {
                Some(delete) => access(operation, pk(&delete["Key"])),
                None => access(operation, pk(&request["PutRequest"]["Item"])),
            })
            .collect(),
        "TransactGetItems" | "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|item| {
                [
                    ("Get", "GetItem", "Key"),
                    ("Put", "PutItem", "Item"),
                    ("Update", "UpdateItem", "Key"),
                    ("Delete", "DeleteItem", "Key"),
                    ("ConditionCheck", "ConditionCheckItem", "Key"),
                ]
                .into_iter()
                .filter(|(member, _, _)| item.get(*member).is_some())
                .map(|(member, action, key)| access(action, pk(&item[member][key])))
                .collect::<Vec<_>>()
            })
            .collect(),
        _ => vec![access(operation, String::new())],
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let request = context.request();
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|target| target.rsplit('.').next())
            .unwrap_or("unknown")
            .to_owned();
        let body: Value = request
            .body()
            .bytes()
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
            .unwrap_or(Value::Null);
        let call = Call {
            accesses: accesses(&operation, &body),
            operation,
        };
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(call);
        Ok(())
    }
}
