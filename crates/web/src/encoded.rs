//! [`Encoded`]: a response value kept together with its JSON, so that a cached value is
//! served without cloning it or serialising it again.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value and its JSON encoding (exactly what [`crate::Json`] would answer), both shared:
/// a clone is two reference-count increments, and as a response it is the stored bytes.
///
/// Cached in `temponest_cache` (whose L1 hands out clones), a hit costs neither a deep copy
/// of the value nor its serialisation. In Redis it is stored as the value's JSON, like the
/// value itself would be.
pub struct Encoded<T> {
    value: Arc<T>,
    json: Bytes,
}

/// A value that does not serialise to JSON (a map with non-string keys, a failing `Serialize`
/// impl): a bug of ours, answered as a 500.
#[derive(Debug, thiserror::Error)]
#[error("value does not serialise to JSON: {0}")]
pub struct EncodeError(#[from] serde_json::Error);

impl From<EncodeError> for crate::ApiError {
    fn from(error: EncodeError) -> Self {
        crate::ApiError::internal(error.to_string())
    }
}

impl<T: Serialize> Encoded<T> {
    /// Serialises `value` once.
    pub fn new(value: T) -> Result<Self, EncodeError> {
        let json = Bytes::from(serde_json::to_vec(&value)?);
        Ok(Self {
            value: Arc::new(value),
            json,
        })
    }
}

impl<T> Encoded<T> {
    /// The value's JSON.
    pub fn json(&self) -> &Bytes {
        &self.json
    }
}

impl<T> Deref for Encoded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> Clone for Encoded<T> {
    fn clone(&self) -> Self {
        Self {
            value: Arc::clone(&self.value),
            json: self.json.clone(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Encoded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: PartialEq> PartialEq for Encoded<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Serialize> Serialize for Encoded<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<'de, T: Serialize + Deserialize<'de>> Deserialize<'de> for Encoded<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::new(T::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

impl<T> IntoResponse for Encoded<T> {
    fn into_response(self) -> Response {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.json,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;
    use http_body_util::BodyExt;
    use serde::{Deserialize, Serialize};

    use super::Encoded;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Item {
        name: String,
        tags: Vec<String>,
        note: Option<String>,
    }

    fn item() -> Item {
        Item {
            name: "a \"quoted\" name".to_owned(),
            tags: vec!["x".to_owned()],
            note: None,
        }
    }

    #[tokio::test]
    async fn answers_the_bytes_json_would_answer() {
        let expected = crate::Json(item()).into_response();
        let encoded = Encoded::new(item()).expect("serialisable").into_response();
        assert_eq!(
            encoded.headers().get("content-type"),
            expected.headers().get("content-type")
        );
        assert_eq!(encoded.status(), expected.status());
        let body = |r: axum::response::Response| async {
            r.into_body().collect().await.expect("in memory").to_bytes()
        };
        assert_eq!(body(encoded).await, body(expected).await);
    }

    #[test]
    fn round_trips_through_its_json_like_the_value() {
        let encoded = Encoded::new(item()).expect("serialisable");
        let stored = serde_json::to_vec(&encoded).expect("serialisable");
        assert_eq!(stored, serde_json::to_vec(&item()).expect("serialisable"));
        let back: Encoded<Item> = serde_json::from_slice(&stored).expect("its own JSON");
        assert_eq!(*back, item());
        assert_eq!(back.json(), encoded.json());
        assert!(serde_json::from_slice::<Encoded<Item>>(br#"{"name": 1}"#).is_err());
    }
}
