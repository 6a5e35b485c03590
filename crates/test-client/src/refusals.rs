//! Table-driven refusals: one request line and one status, many bodies (each a field a test
//! expects to be named).

use serde_json::Value;

use crate::Api;

impl Api {
    /// Sends `request` with `token` once per `(body, needle)` and asserts each is refused with
    /// `status` and a `detail` containing its needle (see [`Api::refused`]).
    pub async fn refused_bodies(
        &self,
        token: &str,
        request: &str,
        status: u16,
        cases: &[(Value, &str)],
    ) {
        for (body, needle) in cases {
            self.refused(token, request, Some(body), status, needle)
                .await;
        }
    }
}
