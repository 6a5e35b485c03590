//! Classification of Postgres constraint violations. Every constraint is named in the
//! migrations, so the web layer maps the name to a status and message in one table.

/// What kind of rule the statement broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    Unique,
    ForeignKey,
    Check,
    NotNull,
}

/// A constraint violation reported by Postgres.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConstraintViolation {
    pub kind: ConstraintKind,
    pub constraint: String,
}

/// Returns the violated constraint, if the error is a constraint violation.
pub fn constraint_violation(err: &sqlx::Error) -> Option<ConstraintViolation> {
    let sqlx::Error::Database(db) = err else {
        return None;
    };
    let kind = match db.code().as_deref() {
        Some("23505") => ConstraintKind::Unique,
        Some("23503") => ConstraintKind::ForeignKey,
        Some("23514") => ConstraintKind::Check,
        Some("23502") => ConstraintKind::NotNull,
        _ => return None,
    };
    Some(ConstraintViolation {
        kind,
        constraint: db.constraint().unwrap_or_default().to_owned(),
    })
}
