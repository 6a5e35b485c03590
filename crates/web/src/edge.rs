//! What the shared stack answers before any handler runs: unknown routes (404) and wrong
//! methods (405, with `Allow`) get the SPEC §2 error body instead of axum's empty one, and a
//! NUL character in a query parameter is a 422 naming the parameter, for every route whether
//! its handler reads the query through [`crate::extract::ApiQuery`], `Pagination` or not at
//! all (checked by [`crate::stack::RouteEdge`]). Installed once by
//! [`crate::server::with_route_layers`].

use axum::Router;
use axum::http::StatusCode;

use crate::ApiError;

/// Adds the 404 and 405 fallbacks; call after every route is merged (a method router added
/// later keeps axum's empty 405).
pub fn with_fallbacks(router: Router) -> Router {
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn not_found() -> ApiError {
    ApiError::not_found("route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route (see the Allow header)",
    )
}

/// The (decoded) name of the first parameter whose name or value holds a NUL.
pub fn nul_parameter(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(name);
        (name.contains(&0) || percent_decode(value).contains(&0)).then(|| {
            String::from_utf8_lossy(&name)
                .replace('\0', "\\u0000")
                .to_owned()
        })
    })
}

/// `application/x-www-form-urlencoded` decoding (`+` is a space, `%XY` a byte).
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
        match bytes[i] {
            b'%' => match (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parameter_holding_a_nul_is_named() {
        assert_eq!(nul_parameter("search=%00").as_deref(), Some("search"));
        assert_eq!(
            nul_parameter("skip=0&search=a%00b&limit=1").as_deref(),
            Some("search")
        );
        assert_eq!(nul_parameter("a%5Bb%5D=%00").as_deref(), Some("a[b]"));
        assert_eq!(nul_parameter("k%00=v").as_deref(), Some("k\\u0000"));
        assert_eq!(nul_parameter("flag%00").as_deref(), Some("flag\\u0000"));
    }

    #[test]
    fn escaped_percent_signs_and_other_bytes_are_not_nul() {
        assert_eq!(nul_parameter("search=%2500"), None);
        assert_eq!(nul_parameter("search=100%"), None);
        assert_eq!(nul_parameter("search=%0"), None);
        assert_eq!(nul_parameter("a=%01&b=%C3%A9+x"), None);
    }
}
