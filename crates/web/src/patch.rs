//! `PATCH` bodies, declared once: a patch type lists the fields a client may send, each
//! optional, and asks whether anything was sent at all. [`patch!`](crate::patch) writes the
//! struct and its `is_empty`; its `nullable` form also tells "absent" from "null" for every
//! field ([`present`]), for resources whose optional fields a patch may clear.

use serde::{Deserialize, Deserializer};

/// Distinguishes "absent" (outer `None`, via `#[serde(default)]`) from "null"
/// (`Some(None)`) in a `PATCH` body.
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Declares a `PATCH` body type and its `is_empty()` (no field sent, so nothing changes).
///
/// - `struct Name { pub field: Option<T>, .. }`: the struct as written (attributes and all);
/// - `struct Name: nullable { pub field: T, .. }`: every field becomes `Option<Option<T>>`
///   (absent: `None`; `null`: `Some(None)`; a value: `Some(Some(v))`) and is documented in
///   the OpenAPI schema as an optional `T`; `field: T as S` documents it as `S` instead
///   (e.g. `serde_json::Value as Object`).
///
/// ```
/// use serde::Deserialize;
/// temponest_web::patch! {
///     #[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
///     pub struct NotePatch: nullable {
///         pub title: String,
///         pub extra: serde_json::Value as Object,
///     }
/// }
/// let patch: NotePatch = serde_json::from_str(r#"{"extra": null}"#).unwrap();
/// assert_eq!((patch.title, patch.extra), (None, Some(None)));
/// assert!(NotePatch::default().is_empty());
/// ```
#[macro_export]
macro_rules! patch {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident: nullable { $($fields:tt)* }
    ) => {
        $crate::patch!(@nullable [$(#[$attr])* $vis struct $name] [] [] $($fields)*);
    };
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident {
            $($(#[$field_attr:meta])* $field_vis:vis $field:ident: $ty:ty),* $(,)?
        }
    ) => {
        $(#[$attr])*
        $vis struct $name {
            $($(#[$field_attr])* $field_vis $field: $ty,)*
        }
        $crate::patch!(@is_empty $name [$($field)*]);
    };
    // A nullable field documented as `S`.
    (
        @nullable $head:tt [$($done:tt)*] [$($names:ident)*]
        $(#[$field_attr:meta])* $field_vis:vis $field:ident: $ty:ty as $schema:ty
        $(, $($rest:tt)*)?
    ) => {
        $crate::patch!(
            @nullable $head
            [$($done)* $(#[$field_attr])* $field_vis $field: $ty => $schema,]
            [$($names)* $field]
            $($($rest)*)?
        );
    };
    // A nullable field documented as its own type: `T as T`.
    (
        @nullable $head:tt $done:tt $names:tt
        $(#[$field_attr:meta])* $field_vis:vis $field:ident: $ty:ty $(, $($rest:tt)*)?
    ) => {
        $crate::patch!(
            @nullable $head $done $names
            $(#[$field_attr])* $field_vis $field: $ty as $ty $(, $($rest)*)?
        );
    };
    (
        @nullable [$(#[$attr:meta])* $vis:vis struct $name:ident]
        [$($(#[$field_attr:meta])* $field_vis:vis $field:ident: $ty:ty => $schema:ty,)*]
        [$($names:ident)*]
    ) => {
        $(#[$attr])*
        $vis struct $name {
            $(
                $(#[$field_attr])*
                #[serde(default, deserialize_with = "temponest_web::patch::present")]
                #[schema(value_type = Option<$schema>)]
                $field_vis $field: Option<Option<$ty>>,
            )*
        }
        $crate::patch!(@is_empty $name [$($names)*]);
    };
    (@is_empty $name:ident [$($field:ident)*]) => {
        impl $name {
            /// Whether the patch changes anything.
            pub fn is_empty(&self) -> bool {
                true $(&& self.$field.is_none())*
            }
        }
    };
}
