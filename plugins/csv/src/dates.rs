//! Date and time values in the configured formats.
//!
//! Each format is tried in order. A format that reads an offset (`%z`) or
//! `rfc3339` gives an exact instant. One with a date and time but no offset
//! gives a wall-clock time, read in the site's time zone through the host's
//! `from-local` (or as UTC when `local_times = "utc"`). One with only a date
//! gives local midnight.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Timelike};
use switchboard_sdk::Timestamp;
use switchboard_sdk::host::{self, Date};

use crate::config::LocalTimes;

/// Parses `text` with the first of `formats` that reads all of it.
///
/// # Errors
///
/// A sentence naming the formats tried, for a reject message. It gives the
/// value's length but not the value, which may be patient data.
pub(crate) fn parse(
    text: &str,
    formats: &[String],
    local: LocalTimes,
) -> Result<Timestamp, String> {
    let text = text.trim();
    for format in formats {
        if let Some(at) = parse_one(text, format, local) {
            return Ok(at);
        }
    }
    Err(format!(
        "not a date in any of the date formats {formats:?} (found {} characters); add the export's format to date_formats",
        text.chars().count()
    ))
}

fn parse_one(text: &str, format: &str, local: LocalTimes) -> Option<Timestamp> {
    if format == "rfc3339" {
        return DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| Timestamp(t.timestamp_millis()));
    }
    if let Ok(exact) = DateTime::parse_from_str(text, format) {
        return Some(Timestamp(exact.timestamp_millis()));
    }
    if let Ok(wall_clock) = NaiveDateTime::parse_from_str(text, format) {
        return Some(wall_clock_to_timestamp(wall_clock, local));
    }
    NaiveDate::parse_from_str(text, format)
        .ok()
        .map(|date| wall_clock_to_timestamp(date.and_hms_opt(0, 0, 0).unwrap_or_default(), local))
}

fn wall_clock_to_timestamp(wall_clock: NaiveDateTime, local: LocalTimes) -> Timestamp {
    match local {
        LocalTimes::Utc => Timestamp(wall_clock.and_utc().timestamp_millis()),
        LocalTimes::Site => {
            let date = wall_clock.date();
            let date = Date {
                year: chrono::Datelike::year(&date),
                month: chrono::Datelike::month(&date) as u8,
                day: chrono::Datelike::day(&date) as u8,
            };
            let minute = (wall_clock.hour() * 60 + wall_clock.minute()) as u16;
            let rest = i64::from(wall_clock.second()) * 1000
                + i64::from(wall_clock.nanosecond() / 1_000_000);
            Timestamp(host::from_local(date, minute).0 + rest)
        }
    }
}

#[cfg(test)]
mod tests {
    use switchboard_sdk::testing::MockHost;

    use super::*;

    fn formats(list: &[&str]) -> Vec<String> {
        list.iter().map(|f| f.to_string()).collect()
    }

    fn utc(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn us_format_is_read_in_site_zone() {
        let _host = MockHost::new().time_zone("America/Chicago").install();

        let at = parse(
            "01/05/2026 08:30",
            &formats(&["%m/%d/%Y %H:%M"]),
            LocalTimes::Site,
        )
        .unwrap();

        assert_eq!(at, utc("2026-01-05T14:30:00Z"));
    }

    #[test]
    fn date_only_is_local_midnight() {
        let _host = MockHost::new().time_zone("America/Chicago").install();

        let at = parse(
            "2026-07-04",
            &formats(&["%m/%d/%Y %H:%M", "%Y-%m-%d"]),
            LocalTimes::Site,
        )
        .unwrap();

        assert_eq!(at, utc("2026-07-04T05:00:00Z"));
    }

    #[test]
    fn offsets_are_exact() {
        let at = parse(
            "2026-01-05T08:30:00-06:00",
            &formats(&["rfc3339"]),
            LocalTimes::Site,
        )
        .unwrap();
        let with_z = parse(
            "2026-01-05 08:30 -0600",
            &formats(&["%Y-%m-%d %H:%M %z"]),
            LocalTimes::Site,
        )
        .unwrap();

        assert_eq!(at, utc("2026-01-05T14:30:00Z"));
        assert_eq!(with_z, utc("2026-01-05T14:30:00Z"));
    }

    #[test]
    fn utc_setting_ignores_zone() {
        let at = parse(
            "2026-01-05 08:30",
            &formats(&["%Y-%m-%d %H:%M"]),
            LocalTimes::Utc,
        )
        .unwrap();

        assert_eq!(at, utc("2026-01-05T08:30:00Z"));
    }

    #[test]
    fn unmatched_value_names_formats() {
        let error = parse("5th of May", &formats(&["%Y-%m-%d"]), LocalTimes::Utc).unwrap_err();

        assert!(error.contains("%Y-%m-%d"), "{error}");
    }
}
