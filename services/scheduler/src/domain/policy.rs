//! A schedule's overlap and misfire policies as types (the rules themselves are in
//! [`super::plan`]). They are stored as their names (`text` columns with check constraints);
//! an unknown name is a 422 where it enters the API and an error — never a silent default —
//! where a stored one is read.

use serde::{Deserialize, Serialize};

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

/// A stored policy name this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{name}`")]
pub struct UnknownPolicy {
    pub kind: &'static str,
    pub name: String,
}

/// What the API's validation needs of a policy type.
pub trait Policy: Copy + Sized {
    fn parse_name(name: &str) -> Result<Self, UnknownPolicy>;
    /// The accepted names, comma-separated.
    fn names() -> String;
}

macro_rules! named {
    ($ty:ident, $kind:literal, $($variant:ident => $name:literal),+) => {
        impl $ty {
            /// Every value, in documentation order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The stored and API name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }

            /// The value named `name`.
            pub fn parse(name: &str) -> Result<Self, UnknownPolicy> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == name)
                    .ok_or_else(|| UnknownPolicy {
                        kind: $kind,
                        name: name.to_owned(),
                    })
            }

        }

        impl Policy for $ty {
            fn parse_name(name: &str) -> Result<Self, UnknownPolicy> {
                Self::parse(name)
            }

            fn names() -> String {
                Self::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named!(OverlapPolicy, "overlap_policy", Skip => "skip", Allow => "allow", BufferOne => "buffer_one");
named!(MisfirePolicy, "misfire_policy", Skip => "skip", FireOnce => "fire_once", FireAll => "fire_all");

#[cfg(test)]
mod tests {
    use super::*;

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
            <MisfirePolicy as Policy>::names(),
            "skip, fire_once, fire_all"
        );
    }
}
