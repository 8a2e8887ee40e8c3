//! Site-local calendar arithmetic shared by the metrics and the simulator.
//!
//! Every "day" a person works with is a date in the site's IANA time zone. The
//! conversions go through [`switchboard_sdk::zone`], the same functions the
//! host uses for the plugins' `to-local` and `from-local` imports, so a day
//! boundary here matches the one a policy computes.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use switchboard_sdk::host::Date;
use switchboard_sdk::zone::{from_local_in, local_time_in};
use switchboard_sdk::{Shift, Timestamp, Weekday};

/// Minutes in a civil day without a daylight-saving change.
pub const MINUTES_PER_DAY: u16 = 1440;

/// Milliseconds in 24 hours, the unit of every "days" figure.
pub const MILLIS_PER_DAY: f64 = 86_400_000.0;

/// A time zone name that the IANA database does not contain.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone {name:?}; use an IANA name such as \"America/Chicago\"")]
pub struct UnknownTimeZone {
    /// The rejected name.
    pub name: String,
}

/// Parses an IANA time zone name.
///
/// # Errors
///
/// [`UnknownTimeZone`] naming the value when the database lacks it.
pub fn parse_zone(name: &str) -> Result<Tz, UnknownTimeZone> {
    name.parse::<Tz>().map_err(|_| UnknownTimeZone {
        name: name.to_string(),
    })
}

/// A moment seen in a site's zone: local date, weekday and minute of day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalMoment {
    /// Local calendar date.
    pub date: NaiveDate,
    /// Local weekday.
    pub weekday: Weekday,
    /// Minutes after local midnight, 0 to 1439.
    pub minute: u16,
}

/// Converts `at` to the local date, weekday and minute in `zone`.
pub fn local_moment(zone: Tz, at: Timestamp) -> LocalMoment {
    let local = local_time_in(zone, at);
    LocalMoment {
        date: to_naive(local.date),
        weekday: local.weekday,
        minute: local.minute,
    }
}

/// Returns the local date of `at` in `zone`.
pub fn local_date(zone: Tz, at: Timestamp) -> NaiveDate {
    local_moment(zone, at).date
}

/// Converts local `minute` on `date` in `zone` to an instant.
///
/// `minute` may be 1440 (the next midnight). As with the WIT `from-local`,
/// a time skipped by a daylight-saving change moves forward to the first
/// valid minute, and a repeated time takes its first occurrence.
pub fn local_instant(zone: Tz, date: NaiveDate, minute: u16) -> Timestamp {
    from_local_in(zone, to_sdk_date(date), minute)
}

/// Returns the SDK weekday of a civil date.
pub fn weekday_of(date: NaiveDate) -> Weekday {
    Weekday::ALL[date.weekday().num_days_from_monday() as usize]
}

/// True when local `minute` of `day` falls inside one of `shifts`.
pub fn within_shifts(shifts: &[Shift], day: Weekday, minute: u16) -> bool {
    shifts.iter().any(|s| s.contains(day, minute))
}

/// Selects the shifts of `shifts` that fall on `day`, earliest first.
pub fn shifts_on(shifts: &[Shift], day: Weekday) -> Vec<Shift> {
    let mut found: Vec<Shift> = shifts.iter().filter(|s| s.day == day).copied().collect();
    found.sort_by_key(|s| s.start_minute);
    found
}

/// Converts an SDK date to a chrono date; an impossible date becomes the
/// Unix epoch date, which the SDK's own conversions never produce.
pub fn to_naive(date: Date) -> NaiveDate {
    NaiveDate::from_ymd_opt(date.year, u32::from(date.month), u32::from(date.day))
        .unwrap_or_default()
}

/// Converts a chrono date to an SDK date.
pub fn to_sdk_date(date: NaiveDate) -> Date {
    Date {
        year: date.year(),
        month: date.month() as u8,
        day: date.day() as u8,
    }
}

/// Formats local minutes after midnight as `HH:MM`.
pub fn clock_text(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// An inclusive range of site-local dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DateRange {
    /// First date in the range.
    pub start: NaiveDate,
    /// Last date in the range (inclusive).
    pub end: NaiveDate,
}

/// A date range whose end comes before its start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("date range {start}..{end} ends before it starts; give the earlier date first")]
pub struct InvalidRange {
    /// Requested first date.
    pub start: NaiveDate,
    /// Requested last date.
    pub end: NaiveDate,
}

impl DateRange {
    /// Builds the range `start..=end`.
    ///
    /// # Errors
    ///
    /// [`InvalidRange`] when `end` is before `start`.
    pub fn new(start: NaiveDate, end: NaiveDate) -> Result<Self, InvalidRange> {
        if end < start {
            return Err(InvalidRange { start, end });
        }
        Ok(DateRange { start, end })
    }

    /// Builds the range of one date.
    pub fn day(date: NaiveDate) -> Self {
        DateRange {
            start: date,
            end: date,
        }
    }

    /// True when `date` lies in the range.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start <= date && date <= self.end
    }

    /// Lists every date of the range in order.
    pub fn dates(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let end = self.end;
        self.start.iter_days().take_while(move |d| *d <= end)
    }

    /// Returns the number of dates in the range.
    pub fn len_days(&self) -> usize {
        (self.end - self.start).num_days() as usize + 1
    }
}

impl fmt::Display for DateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn closing_instant_follows_daylight_saving() {
        let chicago = parse_zone("America/Chicago").unwrap();

        let spring = local_instant(chicago, date(2026, 3, 8), 18 * 60);
        let autumn = local_instant(chicago, date(2026, 11, 1), 18 * 60);

        // 18:00 CDT (UTC-5) on 2026-03-08 is 23:00Z.
        assert_eq!(
            spring,
            Timestamp::parse_rfc3339("2026-03-08T23:00:00Z").unwrap()
        );
        // 18:00 CST (UTC-6) on 2026-11-01 is 00:00Z the next day.
        assert_eq!(
            autumn,
            Timestamp::parse_rfc3339("2026-11-02T00:00:00Z").unwrap()
        );
    }

    #[test]
    fn local_moment_reads_date_and_minute() {
        let chicago = parse_zone("America/Chicago").unwrap();
        let at = Timestamp::parse_rfc3339("2026-03-10T05:30:00Z").unwrap();

        let moment = local_moment(chicago, at);

        // 05:30Z is 00:30 CDT on 2026-03-10, a Tuesday.
        assert_eq!(moment.date, date(2026, 3, 10));
        assert_eq!(moment.weekday, Weekday::Tuesday);
        assert_eq!(moment.minute, 30);
    }

    #[test]
    fn unknown_zone_is_named() {
        let error = parse_zone("Mars/Olympus").unwrap_err();

        assert_eq!(error.name, "Mars/Olympus");
    }

    #[test]
    fn range_rejects_reversed_dates() {
        let error = DateRange::new(date(2026, 3, 2), date(2026, 3, 1)).unwrap_err();

        assert_eq!(error.start, date(2026, 3, 2));
    }

    #[test]
    fn range_lists_every_date() {
        let range = DateRange::new(date(2026, 2, 27), date(2026, 3, 2)).unwrap();

        let dates: Vec<NaiveDate> = range.dates().collect();

        assert_eq!(dates.len(), 4);
        assert_eq!(range.len_days(), 4);
        assert_eq!(dates[2], date(2026, 3, 1));
    }
}
