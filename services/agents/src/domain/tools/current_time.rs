//! `current_time`: the current UTC time (models do not know what day it is).

use futures::future::BoxFuture;
use serde_json::{Value, json};
use temponest_llm::ToolSpec;

use super::{Tool, ToolError};

pub const NAME: &str = "current_time";

/// Returns the current time in UTC as RFC 3339 and Unix seconds.
pub struct CurrentTime;

impl Tool for CurrentTime {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: NAME.to_owned(),
            description: "Returns the current date and time in UTC.".to_owned(),
            parameters: json!({"type": "object", "properties": {}, "additionalProperties": false}),
        }
    }

    fn call<'a>(&'a self, _arguments: &'a Value) -> BoxFuture<'a, Result<Value, ToolError>> {
        Box::pin(async move {
            let now = chrono::Utc::now();
            Ok(json!({
                "utc": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "unix": now.timestamp(),
            }))
        })
    }
}
