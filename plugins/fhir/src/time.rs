//! FHIR dates and times, and the version numbers derived from them.
//!
//! FHIR `dateTime` may be a year, a year and month, a date, or a date and time
//! with an offset. A value without a time of day is read as local midnight in
//! the site's time zone, through the host's `from-local` import, because that
//! is the day a person at the site means.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use switchboard_sdk::Timestamp;
use switchboard_sdk::host::{self, Date};

use crate::fhir::types::Meta;

/// Parses a FHIR `date`, `dateTime` or `instant`.
///
/// Returns `None` for other text. A date and time without an offset, which
/// FHIR forbids but some servers send, is read as site-local.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    match text.len() {
        4 => local_midnight(text.parse().ok()?, 1, 1),
        7 => {
            let (year, month) = text.split_once('-')?;
            local_midnight(year.parse().ok()?, month.parse().ok()?, 1)
        }
        10 => {
            let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
            local_midnight(
                chrono::Datelike::year(&date),
                chrono::Datelike::month(&date),
                chrono::Datelike::day(&date),
            )
        }
        _ => parse_date_time(text),
    }
}

fn parse_date_time(text: &str) -> Option<Timestamp> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(Timestamp(at.timestamp_millis()));
    }
    // Minutes without seconds ("2026-01-05T09:30Z") are outside FHIR but seen.
    for format in ["%Y-%m-%dT%H:%M%#z", "%Y-%m-%dT%H:%M%:z"] {
        if let Ok(at) = DateTime::parse_from_str(text, format) {
            return Some(Timestamp(at.timestamp_millis()));
        }
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .ok()?;
    let date = naive.date();
    let minute = chrono::Timelike::hour(&naive) * 60 + chrono::Timelike::minute(&naive);
    let start = local_midnight_date(date, u16::try_from(minute).ok()?)?;
    let seconds = i64::from(chrono::Timelike::second(&naive));
    Some(Timestamp(start.0 + seconds * 1000))
}

fn local_midnight(year: i32, month: u32, day: u32) -> Option<Timestamp> {
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    local_midnight_date(date, 0)
}

fn local_midnight_date(date: NaiveDate, minute: u16) -> Option<Timestamp> {
    let date = Date {
        year: chrono::Datelike::year(&date),
        month: u8::try_from(chrono::Datelike::month(&date)).ok()?,
        day: u8::try_from(chrono::Datelike::day(&date)).ok()?,
    };
    Some(host::from_local(date, minute))
}

/// Returns the first of `texts` that parses as a time.
pub fn first_time<'a>(texts: impl IntoIterator<Item = Option<&'a str>>) -> Option<Timestamp> {
    texts.into_iter().flatten().find_map(parse_time)
}

/// Bits below the time in a version number, holding the status rank.
const RANK_BITS: u32 = 3;

/// The largest status rank [`version_of`] accepts.
pub const MAX_RANK: u8 = (1 << RANK_BITS) - 1;

/// Orders the versions of one resource for the host's dedupe.
///
/// A numeric `meta.versionId` is used as it is: servers increase it with every
/// change. Otherwise the version is the time of `meta.lastUpdated`, else of
/// `fallback` (a date of the resource such as `issued`), in milliseconds,
/// times eight plus `rank`. The rank (0 to 7) orders two states that share a
/// timestamp, such as a preliminary and a final report issued in the same
/// millisecond. Returns `None` when none of these is present.
///
/// NOTE: versions do not compare when a server sends numeric version ids for
/// some versions of a resource and none for others. This connector assumes a
/// server does one or the other for all versions.
pub fn version_of(meta: &Meta, fallback: Option<Timestamp>, rank: u8) -> Option<u64> {
    if let Some(id) = meta.version_id.as_deref().map(str::trim)
        && !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && let Ok(number) = id.parse::<u64>()
    {
        return Some(number);
    }
    let time = meta
        .last_updated
        .as_deref()
        .and_then(parse_time)
        .or(fallback)?;
    let millis = u64::try_from(time.0).unwrap_or(0);
    Some((millis << RANK_BITS) | u64::from(rank.min(MAX_RANK)))
}

#[cfg(test)]
mod tests {
    use switchboard_sdk::testing::MockHost;

    use super::*;

    #[test]
    fn full_date_time_keeps_offset() {
        let _host = MockHost::new().install();

        let at = parse_time("2013-04-02T09:30:10+01:00").unwrap();

        assert_eq!(
            at,
            Timestamp::parse_rfc3339("2013-04-02T08:30:10Z").unwrap()
        );
    }

    #[test]
    fn date_is_site_local_midnight() {
        let _host = MockHost::new().time_zone("America/Chicago").install();

        let at = parse_time("2026-01-15").unwrap();

        // Chicago is six hours behind UTC in January.
        assert_eq!(
            at,
            Timestamp::parse_rfc3339("2026-01-15T06:00:00Z").unwrap()
        );
    }

    #[test]
    fn partial_dates_start_the_period() {
        let _host = MockHost::new().install();

        assert_eq!(
            parse_time("2024"),
            Timestamp::parse_rfc3339("2024-01-01T00:00:00Z").ok()
        );
        assert_eq!(
            parse_time("2024-07"),
            Timestamp::parse_rfc3339("2024-07-01T00:00:00Z").ok()
        );
    }

    #[test]
    fn time_without_offset_is_site_local() {
        let _host = MockHost::new().time_zone("America/Chicago").install();

        let at = parse_time("2026-07-01T10:15:30").unwrap();

        // Chicago is five hours behind UTC in July.
        assert_eq!(
            at,
            Timestamp::parse_rfc3339("2026-07-01T15:15:30Z").unwrap()
        );
    }

    #[test]
    fn garbage_is_not_a_time() {
        let _host = MockHost::new().install();

        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("2026-13-01"), None);
        assert_eq!(parse_time(""), None);
    }

    #[test]
    fn numeric_version_id_wins() {
        let meta = Meta {
            version_id: Some("17".into()),
            last_updated: Some("2026-01-05T10:00:00Z".into()),
        };

        assert_eq!(version_of(&meta, None, 3), Some(17));
    }

    #[test]
    fn last_updated_carries_rank() {
        let _host = MockHost::new().install();
        let meta = Meta {
            version_id: Some("W/abc".into()),
            last_updated: Some("1970-01-01T00:00:01Z".into()),
        };

        // 1000 ms shifted by three bits, plus rank 5.
        assert_eq!(version_of(&meta, None, 5), Some(8005));
    }

    #[test]
    fn fallback_used_without_meta() {
        let version = version_of(&Meta::default(), Some(Timestamp(2)), 1);

        assert_eq!(version, Some(17));
        assert_eq!(version_of(&Meta::default(), None, 1), None);
    }
}
