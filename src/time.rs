//! Times in TRM's own code: the one formatter ([`iso`] and its variants)
//! and the one parser ([`parse`]). Every stage, from the Tableau client to
//! the reports, writes and reads times through here so they agree on the
//! form (UTC, `2026-01-01T12:00:00Z`). The simulated site keeps its own, so
//! a bug here cannot hide one there.

/// What [`format`] writes.
#[derive(Clone, Copy)]
enum Form {
    /// `2026-01-01T12:00:00Z`, with `.25`-style fractions only when there are any.
    Instant,
    /// `2026-01-01`.
    Date,
    /// `20260101T120000Z`: ISO 8601's basic format, for names that sort by time.
    Basic,
}

fn format(micros: i64, form: Form) -> String {
    let Some(t) = chrono::DateTime::from_timestamp_micros(micros) else {
        return format!("{micros} µs since 1970");
    };
    let pattern = match form {
        Form::Instant => "%Y-%m-%dT%H:%M:%S%.fZ",
        Form::Date => "%Y-%m-%d",
        Form::Basic => "%Y%m%dT%H%M%SZ",
    };
    t.format(pattern).to_string()
}

/// Unix seconds as `2026-01-01T12:00:00Z`.
pub fn iso(seconds: i64) -> String {
    format(seconds.saturating_mul(1_000_000), Form::Instant)
}

/// Microseconds since the epoch as `2026-01-01T12:00:00Z`, with the
/// fraction (`.250`, `.123456`) only when there is one.
pub fn iso_micros(micros: i64) -> String {
    format(micros, Form::Instant)
}

/// The UTC date of Unix seconds, `2026-01-01`.
pub fn date(seconds: i64) -> String {
    format(seconds.saturating_mul(1_000_000), Form::Date)
}

/// Unix seconds as `20260101T120000Z` (whole seconds), for run ids.
pub fn basic(seconds: i64) -> String {
    format(seconds.saturating_mul(1_000_000), Form::Basic)
}

/// Unix seconds, UTC, from the forms TRM meets: ISO 8601 / RFC 3339 from
/// Tableau's APIs (`2026-01-01T12:00:00Z`, `2026-01-01T12:00:00.123+02:00`;
/// without an offset, `2026-01-01T12:00:00` or `2026-01-01 12:00:00`, it is
/// taken as UTC) and HTTP dates from headers (`Date`, `Retry-After`: `Thu,
/// 01 Jan 2026 12:00:00 GMT`). Fractions of a second are dropped. Anything
/// else is `None`.
pub fn parse(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    if let Some(t) = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
    {
        return Some(t.and_utc().timestamp());
    }
    chrono::DateTime::parse_from_rfc2822(s).ok().map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_instants_and_dates_in_utc() {
        assert_eq!(iso(1_767_268_800), "2026-01-01T12:00:00Z");
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_micros(1_767_268_800_250_000), "2026-01-01T12:00:00.250Z");
        assert_eq!(iso_micros(1_767_268_800_000_001), "2026-01-01T12:00:00.000001Z");
        assert_eq!(date(1_767_225_599), "2025-12-31");
        assert_eq!(date(1_767_225_600), "2026-01-01");
        assert_eq!(basic(1_767_268_800), "20260101T120000Z");
        assert_eq!(iso_micros(i64::MAX), format!("{} µs since 1970", i64::MAX));
    }

    #[test]
    fn parses_iso_times_and_http_dates() {
        assert_eq!(parse("2026-01-01T12:00:00Z"), Some(1_767_268_800));
        assert_eq!(parse("2026-01-01T12:00:00.750Z"), Some(1_767_268_800));
        assert_eq!(parse("2026-01-01T14:00:00+02:00"), Some(1_767_268_800));
        assert_eq!(parse("2026-01-01T12:00:00"), Some(1_767_268_800));
        assert_eq!(parse("2026-01-01 12:00:00"), Some(1_767_268_800));
        assert_eq!(parse(" Thu, 01 Jan 2026 12:00:00 GMT "), Some(1_767_268_800));
        assert_eq!(parse("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse(""), None);
        assert_eq!(parse("yesterday"), None);
        assert_eq!(parse("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse("120"), None, "a number of seconds is not a time");
    }

    #[test]
    fn what_is_formatted_parses_back() {
        for t in [0, 784_111_777, 1_767_268_800, 4_102_444_800] {
            assert_eq!(parse(&iso(t)), Some(t));
        }
    }
}
