//! Closed sets of names: domain values that are stored in `text` columns (with check
//! constraints) and spoken in JSON by the same snake_case names — statuses and outcomes of
//! executions and deliveries, policies, schedule types, triggers. [`named!`](crate::named)
//! gives each enum its name table once; [`Named`] is what the API's validation needs of any of
//! them: an unknown name is refused at the edge (422 naming the allowed values), never
//! defaulted inside.

/// A name this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{name}`")]
pub struct UnknownName {
    /// What was named (`overlap_policy`, `status`, ...).
    pub kind: &'static str,
    pub name: String,
}

/// A closed set of names.
pub trait Named: Copy + Sized + 'static {
    /// What the names name, for messages.
    const KIND: &'static str;
    /// Every value, in documentation order.
    const ALL: &'static [Self];

    /// The stored and API name.
    fn name(self) -> &'static str;

    /// The value named `name`.
    fn parse_name(name: &str) -> Result<Self, UnknownName> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.name() == name)
            .ok_or_else(|| UnknownName {
                kind: Self::KIND,
                name: name.to_owned(),
            })
    }

    /// The accepted names, comma-separated.
    fn names() -> String {
        Self::ALL
            .iter()
            .map(|v| v.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Implements [`Named`], `as_str`, `parse` and `Display` for an enum from its name table:
/// `named!(Type, "kind", Variant => "name", ...)`.
#[macro_export]
macro_rules! named {
    ($ty:ident, $kind:literal, $($variant:ident => $name:literal),+ $(,)?) => {
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
            pub fn parse(name: &str) -> Result<Self, $crate::names::UnknownName> {
                <Self as $crate::names::Named>::parse_name(name)
            }
        }

        impl $crate::names::Named for $ty {
            const KIND: &'static str = $kind;
            const ALL: &'static [Self] = $ty::ALL;

            fn name(self) -> &'static str {
                self.as_str()
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
