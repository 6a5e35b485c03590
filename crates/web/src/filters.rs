//! List filters' query parameters, read the same way by every list route: trimmed, an empty
//! one as not given, and a named value (a status, a pattern) checked against its closed set.

use temponest_db::names::Named;

use crate::ApiError;

/// A list filter's parameter, trimmed; an empty one is not given.
pub fn filter_param(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}

/// A list filter's named value; an unknown name is a 422 on `field` naming the known ones.
pub fn named_param<T: Named>(field: &str, raw: Option<&str>) -> Result<Option<T>, ApiError> {
    match filter_param(raw) {
        None => Ok(None),
        Some(name) => T::parse_name(name)
            .map(Some)
            .map_err(|_| ApiError::invalid_field(field, format!("must be one of {}", T::names()))),
    }
}
