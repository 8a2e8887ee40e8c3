//! HL7 date/time values (the DTM form `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`,
//! which the older DT and TS types share) converted to UTC timestamps.
//!
//! A value with an offset names an exact instant. A value without one is a
//! wall-clock time. By default it is read in the site's time zone through
//! the host's `from-local`, which applies the site's daylight-saving rules.
//! Truncated values are allowed and mean the start of the period: `202603`
//! is 1 March 2026 at 00:00.

use chrono::NaiveDate;
use serde::Deserialize;
use switchboard_sdk::Timestamp;
use switchboard_sdk::host::{self, Date};

/// Reading of a time that carries no UTC offset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LocalTimes {
    /// In the site's time zone (the default): most senders write local time.
    #[default]
    Site,
    /// As UTC, for interface engines that send UTC without saying so.
    Utc,
}

/// A parsed DTM value, not yet placed on the time line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DateTime {
    date: NaiveDate,
    /// Milliseconds since midnight.
    millis_of_day: u32,
    /// Offset from UTC in minutes, when the value has one.
    offset_minutes: Option<i32>,
}

impl DateTime {
    /// The instant this value names.
    pub(crate) fn to_timestamp(self, local: LocalTimes) -> Timestamp {
        let midnight = self
            .date
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc()
            .timestamp_millis();
        let wall_clock = midnight + i64::from(self.millis_of_day);
        match (self.offset_minutes, local) {
            (Some(offset), _) => Timestamp(wall_clock - i64::from(offset) * 60_000),
            (None, LocalTimes::Utc) => Timestamp(wall_clock),
            (None, LocalTimes::Site) => {
                let minute = (self.millis_of_day / 60_000) as u16;
                let within_minute = i64::from(self.millis_of_day % 60_000);
                let date = Date {
                    year: chrono::Datelike::year(&self.date),
                    month: chrono::Datelike::month(&self.date) as u8,
                    day: chrono::Datelike::day(&self.date) as u8,
                };
                Timestamp(host::from_local(date, minute).0 + within_minute)
            }
        }
    }
}

/// Parses a DTM value.
///
/// # Errors
///
/// A sentence saying what is wrong with the value and the expected form,
/// for a reject message. It never quotes the value, because a mistyped
/// field may hold patient data. It gives at most the value's length.
pub(crate) fn parse_dtm(value: &str) -> Result<DateTime, String> {
    let value = value.trim();
    let (main, offset) = split_offset(value)?;
    let (digits, fraction) = match main.split_once('.') {
        Some((digits, fraction)) => (digits, Some(fraction)),
        None => (main, None),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || ![4, 6, 8, 10, 12, 14].contains(&digits.len())
    {
        return Err(format!(
            "not an HL7 date/time: expected YYYY[MM[DD[HH[MM[SS[.SSSS]]]]]][+/-ZZZZ], found {} characters",
            value.chars().count()
        ));
    }

    let number = |range: std::ops::Range<usize>, default: u32| {
        digits
            .get(range)
            .map_or(Ok(default), |d| d.parse::<u32>().map_err(|e| e.to_string()))
    };
    let year = number(0..4, 0)? as i32;
    let month = number(4..6, 1)?;
    let day = number(6..8, 1)?;
    let hour = number(8..10, 0)?;
    let minute = number(10..12, 0)?;
    let second = number(12..14, 0)?;
    let millis = match fraction {
        None => 0,
        Some(f)
            if digits.len() == 14
                && (1..=4).contains(&f.len())
                && f.bytes().all(|b| b.is_ascii_digit()) =>
        {
            // Pad or cut to three digits: "5" is 500 ms, "1234" is 123 ms.
            let padded = format!("{f:0<3}");
            padded[..3].parse::<u32>().map_err(|e| e.to_string())?
        }
        Some(_) => {
            return Err(
                "invalid fraction of a second: expected 1 to 4 digits after a full time (YYYYMMDDHHMMSS)"
                    .to_string(),
            );
        }
    };

    let date = NaiveDate::from_ymd_opt(year, month, day)
        .ok_or_else(|| "not a calendar date: the month or the day is out of range".to_string())?;
    if hour > 23 || minute > 59 || second > 59 {
        return Err(
            "not a valid time of day: hours run from 00 to 23, minutes and seconds from 00 to 59"
                .to_string(),
        );
    }
    Ok(DateTime {
        date,
        millis_of_day: ((hour * 60 + minute) * 60 + second) * 1000 + millis,
        offset_minutes: offset,
    })
}

const INVALID_OFFSET: &str = "invalid UTC offset: expected +HHMM or -HHMM";

/// Splits `+HHMM` or `-HHMM` (also accepted as `+HH:MM`) off the end.
fn split_offset(value: &str) -> Result<(&str, Option<i32>), String> {
    let Some(at) = value.rfind(['+', '-']) else {
        return Ok((value, None));
    };
    let (main, zone) = value.split_at(at);
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let digits: String = zone[1..].chars().filter(|&c| c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(INVALID_OFFSET.to_string());
    }
    let hours: i32 = digits[..2]
        .parse()
        .map_err(|_| INVALID_OFFSET.to_string())?;
    let minutes: i32 = digits[2..]
        .parse()
        .map_err(|_| INVALID_OFFSET.to_string())?;
    if hours > 14 || minutes > 59 {
        return Err("UTC offset out of range: offsets run from -1400 to +1400".to_string());
    }
    Ok((main, Some(sign * (hours * 60 + minutes))))
}

#[cfg(test)]
mod tests {
    use switchboard_sdk::testing::MockHost;

    use super::*;

    fn utc(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn offset_values_are_exact() {
        let at = parse_dtm("20260105083000-0600")
            .unwrap()
            .to_timestamp(LocalTimes::Site);

        assert_eq!(at, utc("2026-01-05T14:30:00Z"));
    }

    #[test]
    fn odd_offsets_are_exact() {
        // +0215 is unusual but valid: 16:00 local is 13:45 UTC.
        let at = parse_dtm("200801311600+0215")
            .unwrap()
            .to_timestamp(LocalTimes::Site);

        assert_eq!(at, utc("2008-01-31T13:45:00Z"));
    }

    #[test]
    fn local_values_use_site_zone() {
        let _host = MockHost::new().time_zone("America/Chicago").install();

        // January is CST, UTC-6.
        let at = parse_dtm("202601050830")
            .unwrap()
            .to_timestamp(LocalTimes::Site);

        assert_eq!(at, utc("2026-01-05T14:30:00Z"));
    }

    #[test]
    fn local_values_follow_daylight_saving() {
        let _host = MockHost::new().time_zone("America/Chicago").install();

        // July is CDT, UTC-5; seconds and milliseconds are kept.
        let at = parse_dtm("20260701083015.25")
            .unwrap()
            .to_timestamp(LocalTimes::Site);

        assert_eq!(at, utc("2026-07-01T13:30:15.250Z"));
    }

    #[test]
    fn utc_rule_ignores_site_zone() {
        let at = parse_dtm("202601050830")
            .unwrap()
            .to_timestamp(LocalTimes::Utc);

        assert_eq!(at, utc("2026-01-05T08:30:00Z"));
    }

    #[test]
    fn truncated_values_start_the_period() {
        assert_eq!(
            parse_dtm("2026").unwrap().to_timestamp(LocalTimes::Utc),
            utc("2026-01-01T00:00:00Z")
        );
        assert_eq!(
            parse_dtm("202603").unwrap().to_timestamp(LocalTimes::Utc),
            utc("2026-03-01T00:00:00Z")
        );
        assert_eq!(
            parse_dtm("20260315").unwrap().to_timestamp(LocalTimes::Utc),
            utc("2026-03-15T00:00:00Z")
        );
    }

    #[test]
    fn invalid_values_are_errors() {
        for value in [
            "2026011",
            "20261301",
            "20260230",
            "202601012460",
            "2026-01-01",
            "20260101+25",
            "20260101120000.12345",
            "",
        ] {
            assert!(parse_dtm(value).is_err(), "{value:?} should be rejected");
        }
    }
}
