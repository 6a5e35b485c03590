//! A schedule's overlap and misfire policies as types (the rules themselves are in
//! [`super::plan`]). They are stored as their names (`text` columns with check constraints);
//! an unknown name is a 422 where it enters the API and an error — never a silent default —
//! where a stored one is read.

use serde::{Deserialize, Serialize};

use temponest_db::named;

/// What a fire time does when the schedule still has unfinished executions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OverlapPolicy {
    /// Runs only when nothing is unfinished (the default).
    Skip,
    /// Always runs.
    Allow,
    /// Queues one execution behind a running one; skips while one waits.
    BufferOne,
}

/// What happens to fire times missed while no scheduler ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MisfirePolicy {
    /// None of them runs.
    Skip,
    /// The latest one runs, the others are recorded as missed (the default).
    FireOnce,
    /// Every one within the catch-up window runs.
    FireAll,
}

named!(OverlapPolicy, "overlap_policy", Skip => "skip", Allow => "allow", BufferOne => "buffer_one");
named!(MisfirePolicy, "misfire_policy", Skip => "skip", FireOnce => "fire_once", FireAll => "fire_all");

#[cfg(test)]
mod tests {
    use super::*;
    use temponest_db::names::Named;

    #[test]
    fn names_round_trip_and_unknown_names_are_errors() {
        for p in OverlapPolicy::ALL {
            assert_eq!(OverlapPolicy::parse(p.as_str()), Ok(*p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        for p in MisfirePolicy::ALL {
            assert_eq!(MisfirePolicy::parse(p.as_str()), Ok(*p));
        }
        let err = OverlapPolicy::parse("sometimes").unwrap_err();
        assert_eq!(err.to_string(), "unknown overlap_policy `sometimes`");
        assert_eq!(
            <MisfirePolicy as Named>::names(),
            "skip, fire_once, fire_all"
        );
    }
}
