//! Small text helpers for the pages: site-local times, URL building and
//! the check that keeps redirects inside the console.

use chrono_tz::Tz;
use switchboard_sdk::Timestamp;

/// Formats `at` in the site's time zone, such as `Mon 2026-03-09 09:00 CDT`.
pub fn local_time(at: Timestamp, zone: Tz) -> String {
    at.to_utc()
        .with_timezone(&zone)
        .format("%a %Y-%m-%d %H:%M %Z")
        .to_string()
}

/// Percent-encodes `text` for a URL path segment or query value, keeping
/// only the unreserved characters of RFC 3986 as they are.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Builds `path?key=value&…` from the pairs whose value is not empty.
pub fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// Appends `pairs` to a URL that may already have a query string.
pub fn append_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let added = with_query("", pairs);
    let Some(added) = added.strip_prefix('?') else {
        return url.to_string();
    };
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{added}")
}

/// Returns `target` when it is a path inside the console, else `None`.
///
/// Redirects after sign-in and after a form take their target from the
/// request, so only paths under `/console` are followed: never another
/// host (`//host`, `/\host`), a scheme, or text with control characters.
pub fn console_path(target: &str) -> Option<&str> {
    let rest = target.strip_prefix("/console")?;
    let boundary = rest.is_empty() || rest.starts_with('/') || rest.starts_with('?');
    let clean = !target
        .chars()
        .any(|c| c.is_control() || c == '\\' || c == '#');
    (boundary && clean && !rest.starts_with("//")).then_some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_follows_daylight_saving() {
        // 15:00Z is 09:00 CST on Friday 6 March and 10:00 CDT on Monday 9 March 2026.
        let zone: Tz = "America/Chicago".parse().unwrap();
        let before = Timestamp::parse_rfc3339("2026-03-06T15:00:00Z").unwrap();
        let after = Timestamp::parse_rfc3339("2026-03-09T15:00:00Z").unwrap();

        assert_eq!(local_time(before, zone), "Fri 2026-03-06 09:00 CST");
        assert_eq!(local_time(after, zone), "Mon 2026-03-09 10:00 CDT");
    }

    #[test]
    fn encode_escapes_reserved_bytes() {
        assert_eq!(encode("a b/c?d&e=f"), "a%20b%2Fc%3Fd%26e%3Df");
        assert_eq!(encode("ma-ana_1.x~"), "ma-ana_1.x~");
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn query_skips_empty_values() {
        let url = with_query("/console/x", &[("category", "refill"), ("status", "")]);

        assert_eq!(url, "/console/x?category=refill");
        assert_eq!(with_query("/console/x", &[("a", "")]), "/console/x");
    }

    #[test]
    fn append_query_picks_separator() {
        assert_eq!(append_query("/console/a", &[("n", "1")]), "/console/a?n=1");
        assert_eq!(
            append_query("/console/a?x=2", &[("n", "1")]),
            "/console/a?x=2&n=1"
        );
        assert_eq!(append_query("/console/a", &[("n", "")]), "/console/a");
    }

    #[test]
    fn console_path_accepts_console_pages() {
        assert_eq!(console_path("/console"), Some("/console"));
        assert_eq!(
            console_path("/console/sites/north/worklist?after=x"),
            Some("/console/sites/north/worklist?after=x")
        );
    }

    #[test]
    fn console_path_rejects_other_targets() {
        for target in [
            "https://example.org/console",
            "//example.org/console",
            "/console//example.org",
            "/consolex",
            "/v1/sites",
            "/console/\\example.org",
            "/console/a\r\nSet-Cookie: x=1",
            "",
        ] {
            assert_eq!(console_path(target), None, "{target:?}");
        }
    }
}
