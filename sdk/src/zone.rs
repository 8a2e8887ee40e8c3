//! Time-zone conversions with the contract of the WIT `to-local` and
//! `from-local` imports. The host implements those imports with these
//! functions and the native test harness uses them too, so both apply the
//! same daylight-saving rules.

use chrono::{Datelike, LocalResult, NaiveDate, Offset, TimeZone, Timelike};
use chrono_tz::Tz;

use crate::host::{Date, LocalTime};
use crate::types::{Timestamp, Weekday};

/// Converts `at` to local time in `zone`.
pub fn local_time_in(zone: Tz, at: Timestamp) -> LocalTime {
    let local = zone.from_utc_datetime(&at.to_utc().naive_utc());
    LocalTime {
        date: Date {
            year: local.year(),
            month: local.month() as u8,
            day: local.day() as u8,
        },
        weekday: Weekday::ALL[local.weekday().num_days_from_monday() as usize],
        minute: (local.hour() * 60 + local.minute()) as u16,
        offset_minutes: local.offset().fix().local_minus_utc() / 60,
    }
}

/// Converts a local date and minute in `zone` to UTC with the contract of
/// [`crate::host::from_local`]: a skipped time moves forward to the first
/// valid minute, a repeated time takes its first occurrence.
pub fn from_local_in(zone: Tz, date: Date, minute: u16) -> Timestamp {
    let Some(day) = NaiveDate::from_ymd_opt(date.year, u32::from(date.month), u32::from(date.day))
    else {
        return Timestamp(0);
    };
    let mut candidate =
        day.and_hms_opt(0, 0, 0).unwrap_or_default() + chrono::Duration::minutes(i64::from(minute));
    // A daylight-saving gap is at most a few hours; step forward minute by minute.
    for _ in 0..(24 * 60) {
        match zone.from_local_datetime(&candidate) {
            LocalResult::Single(t) => return Timestamp(t.timestamp_millis()),
            LocalResult::Ambiguous(first, _) => return Timestamp(first.timestamp_millis()),
            LocalResult::None => candidate += chrono::Duration::minutes(1),
        }
    }
    Timestamp(0)
}
