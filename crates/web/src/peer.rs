//! The error answers of other TempoNest services, as the service that called one reports
//! them: the status and the `detail` of the body (SPEC §2), read the same way by every client
//! of a sibling service.

use http::StatusCode;

/// `"<service> answered 422 Unprocessable Entity: <detail>"` from an error answer's status and
/// body; the detail is empty when the body is not an error body.
pub fn describe_error_answer(service: &str, status: StatusCode, body: &[u8]) -> String {
    let detail = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|body| {
            body.get("detail")
                .and_then(|d| d.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    format!("{service} answered {status}: {detail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_is_reported_by_its_detail() {
        assert_eq!(
            describe_error_answer(
                "knowledge service",
                StatusCode::UNPROCESSABLE_ENTITY,
                br#"{"detail": "query must not be empty", "errors": []}"#
            ),
            "knowledge service answered 422 Unprocessable Entity: query must not be empty"
        );
    }

    #[test]
    fn a_body_without_a_detail_is_reported_by_its_status_alone() {
        for body in [&b"<html>bad gateway</html>"[..], b"", br#"{"detail": 3}"#] {
            assert_eq!(
                describe_error_answer("agents service", StatusCode::BAD_GATEWAY, body),
                "agents service answered 502 Bad Gateway: ",
                "body {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
