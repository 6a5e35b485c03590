//! Header rendering from hand-built decisions.

use std::time::Duration;

use http::HeaderMap;
use temponest_ratelimit::{Decision, Policy, PolicyState};

fn state(policy: Policy, remaining: u32, reset_ms: u64) -> PolicyState {
    PolicyState {
        policy,
        remaining,
        reset_after: Duration::from_millis(reset_ms),
    }
}

fn rendered(decision: &Decision) -> HeaderMap {
    let mut headers = HeaderMap::new();
    decision.apply_headers(&mut headers);
    headers
}

#[test]
fn headers_describe_the_policy_with_the_least_remaining() {
    let decision = Decision {
        allowed: true,
        policies: vec![
            state(Policy::per_minute(60), 40, 20_000),
            state(Policy::per_hour(1000), 3, 3_500_500),
        ],
        retry_after: None,
    };
    let headers = rendered(&decision);
    assert_eq!(headers["x-ratelimit-limit"], "1000");
    assert_eq!(headers["x-ratelimit-remaining"], "3");
    assert_eq!(headers["x-ratelimit-reset"], "3501", "rounded up");
    assert_eq!(
        headers["ratelimit-policy"],
        r#""minute";q=60;w=60, "hour";q=1000;w=3600"#
    );
    assert_eq!(headers["ratelimit"], r#""hour";r=3;t=3501"#);
    assert!(!headers.contains_key("retry-after"));
}

#[test]
fn retry_after_is_whole_seconds_and_never_zero() {
    let denied = |retry_ms| Decision {
        allowed: false,
        policies: vec![state(
            Policy::new("burst", 2, Duration::from_millis(200)),
            0,
            150,
        )],
        retry_after: Some(Duration::from_millis(retry_ms)),
    };
    assert_eq!(rendered(&denied(40))["retry-after"], "1");
    assert_eq!(rendered(&denied(1_001))["retry-after"], "2");
    assert_eq!(
        rendered(&denied(40))["ratelimit-policy"],
        r#""burst";q=2;w=1"#
    );
    assert_eq!(denied(2_500).retry_after_secs(), Some(3));
}

#[test]
fn a_decision_without_policies_sets_no_headers() {
    let decision = Decision {
        allowed: true,
        policies: Vec::new(),
        retry_after: None,
    };
    assert!(rendered(&decision).is_empty());
}
