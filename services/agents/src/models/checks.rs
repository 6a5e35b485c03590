//! The checks request bodies and list filters share: texts within a length, JSON objects
//! within a size (a request's `context` among them), and id filters; each records a field
//! error (or answers a 422) naming the field.

use temponest_web::filters::filter_param;
use temponest_web::{ApiError, FieldError};
use uuid::Uuid;

/// A filter's id parameter (blank is not given); one that is not a UUID is a 422 on `field`.
pub(super) fn id_param(field: &str, raw: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    filter_param(raw)
        .map(|raw| {
            Uuid::parse_str(raw).map_err(|_| ApiError::invalid_field(field, "must be a UUID"))
        })
        .transpose()
}

/// The longest message to a model a request may carry (characters).
const MAX_MESSAGE: usize = 200_000;

/// Records a field error when `value` is blank (and `required`) or longer than `max`
/// characters.
pub(super) fn check_text(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<&str>,
    required: bool,
    max: usize,
) {
    match value {
        Some(text) if required && text.trim().is_empty() => {
            errors.push(FieldError::new(field, "must not be empty"));
        }
        Some(text) if text.chars().count() > max => {
            errors.push(FieldError::new(
                field,
                format!("must be at most {max} characters"),
            ));
        }
        _ => {}
    }
}

/// Records a field error unless `message` (to a model) is neither blank nor too long.
pub(super) fn check_message(errors: &mut Vec<FieldError>, field: &str, message: &str) {
    check_text(errors, field, Some(message), true, MAX_MESSAGE);
}

/// The most bytes of JSON a request's `context` may have.
const MAX_CONTEXT_BYTES: usize = 64 * 1024;

/// A request's `context` (shown to the model as JSON): absent or null is `{}`; anything but a
/// JSON object of at most [`MAX_CONTEXT_BYTES`] is a field error.
pub(super) fn context_object(
    context: Option<serde_json::Value>,
    errors: &mut Vec<FieldError>,
) -> serde_json::Value {
    let context = match context {
        None | Some(serde_json::Value::Null) => serde_json::json!({}),
        Some(context) => context,
    };
    check_json_object(errors, "context", &context, MAX_CONTEXT_BYTES);
    context
}

/// Records a field error unless `value` is a JSON object of at most `max_bytes` bytes of JSON.
pub(super) fn check_json_object(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: &serde_json::Value,
    max_bytes: usize,
) {
    if !value.is_object() {
        errors.push(FieldError::new(field, "must be a JSON object"));
    } else if value.to_string().len() > max_bytes {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max_bytes} bytes of JSON"),
        ));
    }
}
