//! Narrowing and dating a site's metrics input: one clinician's records,
//! the dates the data covers, and the default baseline and pilot ranges.
//! The input itself comes from [`crate::app::metrics::metrics_input`], the
//! bridge the backlog API and the `report` command use, so the console
//! shows the same numbers.

use std::collections::HashSet;

use chrono::{Days, NaiveDate};
use switchboard_sim::local::{DateRange, local_date};
use switchboard_sim::metrics::{ChartRecord, MetricsInput};

/// Days in each default range: two working weeks.
pub const DEFAULT_RANGE_DAYS: u64 = 14;

/// Keeps only `clinician`'s charts, the claims of those charts and the
/// items routed to that person.
pub fn only_clinician(input: &MetricsInput, clinician: &str) -> MetricsInput {
    let charts: Vec<ChartRecord> = input
        .charts
        .iter()
        .filter(|chart| chart.clinician == clinician)
        .cloned()
        .collect();
    let encounters: HashSet<&str> = charts.iter().map(|c| c.encounter.as_str()).collect();
    let claims = input
        .claims
        .iter()
        .filter(|claim| {
            claim
                .encounter
                .as_deref()
                .is_some_and(|e| encounters.contains(e))
        })
        .cloned()
        .collect();
    let items = input
        .items
        .iter()
        .filter(|item| item.person.as_deref() == Some(clinician))
        .cloned()
        .collect();

    MetricsInput {
        facts: input.facts.clone(),
        charts,
        claims,
        items,
    }
}

/// Returns the first and last site-local dates with any chart, claim or
/// routed item, or `None` when there is none.
pub fn data_span(input: &MetricsInput) -> Option<(NaiveDate, NaiveDate)> {
    let zone = input.facts.zone;
    let instants = input
        .charts
        .iter()
        .flat_map(|c| [Some(c.visit_ended), c.signed])
        .chain(
            input
                .claims
                .iter()
                .flat_map(|c| [Some(c.visit_date), Some(c.submitted)]),
        )
        .chain(
            input
                .items
                .iter()
                .flat_map(|i| [Some(i.created), Some(i.routed)]),
        )
        .flatten();
    let dates = instants.map(|at| local_date(zone, at));
    dates.fold(None, |span, date| match span {
        None => Some((date, date)),
        Some((first, last)) => Some((first.min(date), last.max(date))),
    })
}

/// Returns the default baseline and pilot ranges over `first..=last`: the
/// first and the last [`DEFAULT_RANGE_DAYS`] days, or the two halves when
/// the data covers fewer than twice that many.
pub fn default_ranges(first: NaiveDate, last: NaiveDate) -> (DateRange, DateRange) {
    let days = (last - first).num_days().max(0) as u64 + 1;
    if days >= 2 * DEFAULT_RANGE_DAYS {
        let baseline_end = first + Days::new(DEFAULT_RANGE_DAYS - 1);
        let pilot_start = last - Days::new(DEFAULT_RANGE_DAYS - 1);
        return (
            DateRange {
                start: first,
                end: baseline_end,
            },
            DateRange {
                start: pilot_start,
                end: last,
            },
        );
    }
    if days == 1 {
        return (DateRange::day(first), DateRange::day(first));
    }
    let half = days / 2;
    (
        DateRange {
            start: first,
            end: first + Days::new(half - 1),
        },
        DateRange {
            start: first + Days::new(half),
            end: last,
        },
    )
}

#[cfg(test)]
mod tests {
    use switchboard_sdk::{Category, Timestamp};
    use switchboard_sim::metrics::{ClaimRecord, RoutedItemRecord, SiteFacts};

    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn chart(encounter: &str, clinician: &str, signed: Option<&str>) -> ChartRecord {
        ChartRecord {
            encounter: encounter.into(),
            clinician: clinician.into(),
            pod: None,
            visit_ended: at("2026-03-02T15:00:00Z"),
            signed: signed.map(at),
        }
    }

    fn claim(id: &str, encounter: &str) -> ClaimRecord {
        ClaimRecord {
            claim: id.into(),
            encounter: Some(encounter.into()),
            visit_date: at("2026-03-02T15:00:00Z"),
            submitted: at("2026-03-04T15:00:00Z"),
        }
    }

    fn item(id: &str, person: &str) -> RoutedItemRecord {
        RoutedItemRecord {
            item: id.into(),
            category: Category::Result,
            role: "physician".into(),
            clinician_role: true,
            person: Some(person.into()),
            pod: None,
            created: at("2026-03-05T15:00:00Z"),
            routed: at("2026-03-05T15:01:00Z"),
            completed: None,
            due: None,
        }
    }

    fn input(
        charts: Vec<ChartRecord>,
        claims: Vec<ClaimRecord>,
        items: Vec<RoutedItemRecord>,
    ) -> MetricsInput {
        MetricsInput {
            facts: SiteFacts::new("north", "America/Chicago", 18 * 60, Vec::new()).unwrap(),
            charts,
            claims,
            items,
        }
    }

    #[test]
    fn clinician_scope_keeps_own_records() {
        let all = input(
            vec![
                chart("Encounter/1", "dr-lee", None),
                chart("Encounter/2", "dr-ortiz", None),
            ],
            vec![
                claim("Claim/1", "Encounter/1"),
                claim("Claim/2", "Encounter/2"),
            ],
            vec![item("Task/1", "dr-lee"), item("Task/2", "ma-ana")],
        );

        let own = only_clinician(&all, "dr-lee");

        assert_eq!(own.charts.len(), 1);
        assert_eq!(own.charts[0].encounter, "Encounter/1");
        assert_eq!(own.claims.len(), 1);
        assert_eq!(own.claims[0].claim, "Claim/1");
        assert_eq!(own.items.len(), 1);
        assert_eq!(own.items[0].item, "Task/1");
    }

    #[test]
    fn span_uses_local_dates() {
        // The visit ends 2 March; 2026-03-10T03:00Z is still 9 March in
        // Chicago (22:00 CDT); the item is created 5 March.
        let all = input(
            vec![chart("Encounter/1", "dr-lee", Some("2026-03-10T03:00:00Z"))],
            Vec::new(),
            vec![item("Task/1", "dr-lee")],
        );

        assert_eq!(
            data_span(&all),
            Some((date("2026-03-02"), date("2026-03-09")))
        );
    }

    #[test]
    fn empty_input_has_no_span() {
        assert_eq!(data_span(&input(Vec::new(), Vec::new(), Vec::new())), None);
    }

    #[test]
    fn long_data_takes_first_and_last_two_weeks() {
        let (baseline, pilot) = default_ranges(date("2026-01-01"), date("2026-03-01"));

        assert_eq!(baseline.start, date("2026-01-01"));
        assert_eq!(baseline.end, date("2026-01-14"));
        assert_eq!(pilot.start, date("2026-02-16"));
        assert_eq!(pilot.end, date("2026-03-01"));
    }

    #[test]
    fn short_data_splits_in_halves() {
        // 2026-03-01..=2026-03-10 is ten days: five and five.
        let (baseline, pilot) = default_ranges(date("2026-03-01"), date("2026-03-10"));

        assert_eq!(baseline.end, date("2026-03-05"));
        assert_eq!(pilot.start, date("2026-03-06"));
        assert_eq!(pilot.end, date("2026-03-10"));
    }

    #[test]
    fn single_day_is_both_ranges() {
        let day = date("2026-03-04");

        let (baseline, pilot) = default_ranges(day, day);

        assert_eq!(baseline, DateRange::day(day));
        assert_eq!(pilot, DateRange::day(day));
    }
}
