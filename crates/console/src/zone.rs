//! The viewer's time zone: the browser's own (`Intl`), which the console's script keeps in
//! the `tn_tz` cookie; UTC until it has, or when the name is not an IANA zone.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::session::cookie_value;

/// The cookie the script sets.
pub const TZ_COOKIE: &str = "tn_tz";

/// The zone pages show instants in.
#[derive(Clone, Copy)]
pub struct ViewerZone(pub Tz);

impl ViewerZone {
    /// `at` on the viewer's wall clock, with the zone's abbreviation.
    pub fn show(&self, at: &DateTime<Utc>) -> String {
        at.with_timezone(&self.0)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string()
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ViewerZone {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let zone = cookie_value(&parts.headers, TZ_COOKIE)
            .map(|v| v.replace("%2F", "/"))
            .and_then(|name| name.parse::<Tz>().ok())
            .unwrap_or(Tz::UTC);
        Ok(Self(zone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_shown_on_the_viewers_wall_clock() {
        let at: DateTime<Utc> = "2026-07-01T12:00:00Z".parse().unwrap();
        assert_eq!(
            ViewerZone(Tz::Europe__Berlin).show(&at),
            "2026-07-01 14:00:00 CEST"
        );
        assert_eq!(ViewerZone(Tz::UTC).show(&at), "2026-07-01 12:00:00 UTC");
    }
}
