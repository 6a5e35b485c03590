//! Case-insensitive substring search over text columns (`name ilike $n`), written once: the
//! user's text is matched literally, so its LIKE wildcards are escaped.

/// `%text%` for `ilike`, with the LIKE wildcards (`%`, `_`) and the escape character in the
/// user's text escaped so they match literally.
pub fn contains_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn like_wildcards_in_search_text_match_literally() {
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
