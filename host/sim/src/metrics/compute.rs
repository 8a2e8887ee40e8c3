//! The KPI calculations over a date range and a slice of the records.
//!
//! Records are indexed once by the local date that places them in a range
//! (visit date, signature date, claim visit date, routing date), so a range
//! or a daily series reads only the records of its dates. The end-of-day
//! counts scan every chart or item once per clinic day.

use std::collections::BTreeMap;
use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use switchboard_sdk::Timestamp;

use super::input::{ChartRecord, ClaimRecord, MetricsInput, RoutedItemRecord, SiteFacts};
use super::kpi::{Kpi, Stat, mean, median};
use crate::local::{DateRange, MILLIS_PER_DAY, local_date};

/// A dimension a KPI can be broken down by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dimension {
    /// Care team.
    Pod,
    /// Rendering or signing clinician (roster id).
    Clinician,
    /// Item category.
    Category,
    /// Role the item was routed to.
    Role,
}

impl Dimension {
    /// Every dimension in report order.
    pub const ALL: &'static [Dimension] = &[
        Dimension::Pod,
        Dimension::Clinician,
        Dimension::Category,
        Dimension::Role,
    ];

    /// Returns the kebab-case id used in CSV and JSON.
    pub fn id(self) -> &'static str {
        match self {
            Dimension::Pod => "pod",
            Dimension::Clinician => "clinician",
            Dimension::Category => "category",
            Dimension::Role => "role",
        }
    }
}

/// True when `kpi` has a meaning per value of `dimension`.
///
/// Chart and claim KPIs break down by pod and clinician. Item KPIs break
/// down by pod, category and role, except the physician-inbox share, which
/// is itself a statement about roles and so has no role breakdown.
pub fn applies(kpi: Kpi, dimension: Dimension) -> bool {
    match kpi {
        Kpi::OpenChartsEndOfDay
        | Kpi::ChartsStillOpen
        | Kpi::DaysToCloseMedian
        | Kpi::DaysToCloseMean
        | Kpi::SameDayClosure
        | Kpi::DaysToClaimMedian
        | Kpi::DaysToClaimMean
        | Kpi::AfterHoursSigning => matches!(dimension, Dimension::Pod | Dimension::Clinician),
        Kpi::PhysicianInboxShare => matches!(dimension, Dimension::Pod | Dimension::Category),
        Kpi::OverdueItemsEndOfDay | Kpi::ItemsRouted => {
            matches!(
                dimension,
                Dimension::Pod | Dimension::Category | Dimension::Role
            )
        }
    }
}

/// The records a calculation reads: optionally one pod, and optionally
/// one value of a breakdown dimension.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Filter<'f> {
    /// Only records of this care team.
    pub pod: Option<&'f str>,
    /// Only records whose `Dimension` equals the value.
    pub part: Option<(Dimension, &'f str)>,
}

impl Filter<'_> {
    fn keeps_chart(&self, chart: &ChartRecord) -> bool {
        self.keeps(
            chart.pod.as_deref(),
            Some(chart.clinician.as_str()),
            None,
            None,
        )
    }

    fn keeps_claim(&self, claim: &ClaimView<'_>) -> bool {
        self.keeps(claim.pod, claim.clinician, None, None)
    }

    fn keeps_item(&self, item: &RoutedItemRecord) -> bool {
        self.keeps(
            item.pod.as_deref(),
            None,
            Some(item.category.as_str()),
            Some(item.role.as_str()),
        )
    }

    fn keeps(
        &self,
        pod: Option<&str>,
        clinician: Option<&str>,
        category: Option<&str>,
        role: Option<&str>,
    ) -> bool {
        if let Some(wanted) = self.pod
            && pod != Some(wanted)
        {
            return false;
        }
        let Some((dimension, wanted)) = self.part else {
            return true;
        };
        let actual = match dimension {
            Dimension::Pod => pod,
            Dimension::Clinician => clinician,
            Dimension::Category => category,
            Dimension::Role => role,
        };
        actual == Some(wanted)
    }
}

/// A chart with its local dates worked out.
#[derive(Debug)]
pub(crate) struct ChartView<'a> {
    pub record: &'a ChartRecord,
    signed_date: Option<NaiveDate>,
    visit_date: NaiveDate,
    signed_after_hours: bool,
}

/// A claim joined to its chart's clinician and pod.
#[derive(Debug)]
pub(crate) struct ClaimView<'a> {
    record: &'a ClaimRecord,
    clinician: Option<&'a str>,
    pod: Option<&'a str>,
}

/// The records of one site, indexed by the local dates the KPIs use.
#[derive(Debug)]
pub(crate) struct Prepared<'a> {
    pub facts: &'a SiteFacts,
    pub charts: Vec<ChartView<'a>>,
    claims: Vec<ClaimView<'a>>,
    pub items: &'a [RoutedItemRecord],
    charts_by_visit: BTreeMap<NaiveDate, Vec<usize>>,
    charts_by_signature: BTreeMap<NaiveDate, Vec<usize>>,
    claims_by_visit: BTreeMap<NaiveDate, Vec<usize>>,
    items_by_routing: BTreeMap<NaiveDate, Vec<usize>>,
    /// Data after this instant is treated as not yet known.
    as_of: Option<Timestamp>,
}

impl<'a> Prepared<'a> {
    /// Indexes `input`; records after `as_of` are treated as unknown.
    pub fn new(input: &'a MetricsInput, as_of: Option<Timestamp>) -> Self {
        let facts = &input.facts;
        let zone = facts.zone;
        let known = |at: Timestamp| as_of.is_none_or(|limit| at <= limit);

        let charts: Vec<ChartView<'a>> = input
            .charts
            .iter()
            .map(|record| {
                let signed = record.signed.filter(|s| known(*s));
                ChartView {
                    record,
                    signed_date: signed.map(|s| local_date(zone, s)),
                    visit_date: local_date(zone, record.visit_ended),
                    signed_after_hours: signed
                        .is_some_and(|s| facts.is_after_hours(&record.clinician, s)),
                }
            })
            .collect();

        let by_encounter: HashMap<&str, &ChartRecord> = input
            .charts
            .iter()
            .map(|c| (c.encounter.as_str(), c))
            .collect();
        let claims: Vec<ClaimView<'a>> = input
            .claims
            .iter()
            .map(|record| {
                let chart = record
                    .encounter
                    .as_deref()
                    .and_then(|e| by_encounter.get(e));
                ClaimView {
                    record,
                    clinician: chart.map(|c| c.clinician.as_str()),
                    pod: chart.and_then(|c| c.pod.as_deref()),
                }
            })
            .collect();

        let mut charts_by_visit: BTreeMap<NaiveDate, Vec<usize>> = BTreeMap::new();
        let mut charts_by_signature: BTreeMap<NaiveDate, Vec<usize>> = BTreeMap::new();
        for (index, chart) in charts.iter().enumerate() {
            if known(chart.record.visit_ended) {
                charts_by_visit
                    .entry(chart.visit_date)
                    .or_default()
                    .push(index);
            }
            if let Some(date) = chart.signed_date {
                charts_by_signature.entry(date).or_default().push(index);
            }
        }

        let mut claims_by_visit: BTreeMap<NaiveDate, Vec<usize>> = BTreeMap::new();
        for (index, claim) in claims.iter().enumerate() {
            if known(claim.record.submitted) {
                let date = local_date(zone, claim.record.visit_date);
                claims_by_visit.entry(date).or_default().push(index);
            }
        }

        let mut items_by_routing: BTreeMap<NaiveDate, Vec<usize>> = BTreeMap::new();
        for (index, item) in input.items.iter().enumerate() {
            if known(item.routed) {
                let date = local_date(zone, item.routed);
                items_by_routing.entry(date).or_default().push(index);
            }
        }

        Prepared {
            facts,
            charts,
            claims,
            items: &input.items,
            charts_by_visit,
            charts_by_signature,
            claims_by_visit,
            items_by_routing,
            as_of,
        }
    }

    /// Computes `kpi` over `range` for the records `filter` keeps.
    pub fn stat(&self, kpi: Kpi, range: DateRange, filter: &Filter<'_>) -> Stat {
        match kpi {
            Kpi::OpenChartsEndOfDay => {
                self.mean_over_clinic_days(range, |close| self.open_charts_at(close, filter).len())
            }
            Kpi::ChartsStillOpen => match self.range_close(range) {
                Some(close) => Stat::count(self.open_charts_at(close, filter).len()),
                None => Stat::new(None, 0),
            },
            Kpi::DaysToCloseMedian => {
                let days = self.days_to_close(range, filter);
                Stat::new(median(&days), days.len())
            }
            Kpi::DaysToCloseMean => {
                let days = self.days_to_close(range, filter);
                Stat::new(mean(&days), days.len())
            }
            Kpi::SameDayClosure => self.same_day_closure(range, filter),
            Kpi::DaysToClaimMedian => {
                let days = self.days_to_claim(range, filter);
                Stat::new(median(&days), days.len())
            }
            Kpi::DaysToClaimMean => {
                let days = self.days_to_claim(range, filter);
                Stat::new(mean(&days), days.len())
            }
            Kpi::PhysicianInboxShare => {
                let items: Vec<&RoutedItemRecord> = self.routed_items(range, filter).collect();
                let clinician = items.iter().filter(|i| i.clinician_role).count();
                Stat::share(clinician, items.len())
            }
            Kpi::AfterHoursSigning => self.after_hours_signing(range, filter),
            Kpi::OverdueItemsEndOfDay => {
                self.mean_over_clinic_days(range, |close| self.overdue_items_at(close, filter))
            }
            Kpi::ItemsRouted => Stat::count(self.routed_items(range, filter).count()),
        }
    }

    /// Returns the instant at which "still open" is counted for `range`: the
    /// closing time of its last date, or `as_of` when that is earlier.
    /// `None` when `as_of` comes before the range starts.
    pub fn range_close(&self, range: DateRange) -> Option<Timestamp> {
        let close = self.facts.closing_instant(range.end);
        match self.as_of {
            Some(limit) if limit < self.facts.closing_instant(range.start) => None,
            Some(limit) => Some(close.min(limit)),
            None => Some(close),
        }
    }

    /// Charts whose visit ended before `close` and that were not signed by
    /// then.
    pub fn open_charts_at(&self, close: Timestamp, filter: &Filter<'_>) -> Vec<&ChartView<'a>> {
        self.charts
            .iter()
            .filter(|c| filter.keeps_chart(c.record))
            .filter(|c| c.record.visit_ended < close)
            .filter(|c| c.record.signed.is_none_or(|s| s > close))
            .collect()
    }

    /// Open items whose due time passed before `close`.
    fn overdue_items_at(&self, close: Timestamp, filter: &Filter<'_>) -> usize {
        self.items
            .iter()
            .filter(|i| filter.keeps_item(i))
            .filter(|i| i.created <= close)
            .filter(|i| i.due.is_some_and(|due| due < close))
            .filter(|i| i.completed.is_none_or(|done| done > close))
            .count()
    }

    /// Computes the mean of `count_at(closing instant)` over the clinic days of
    /// `range` whose closing time is known (not after `as_of`).
    fn mean_over_clinic_days(
        &self,
        range: DateRange,
        count_at: impl Fn(Timestamp) -> usize,
    ) -> Stat {
        let counts: Vec<f64> = range
            .dates()
            .filter(|d| self.facts.is_clinic_day(*d))
            .map(|d| self.facts.closing_instant(d))
            .filter(|close| self.as_of.is_none_or(|limit| *close <= limit))
            .map(|close| count_at(close) as f64)
            .collect();
        Stat::new(mean(&counts), counts.len())
    }

    fn days_to_close(&self, range: DateRange, filter: &Filter<'_>) -> Vec<f64> {
        indexed(&self.charts_by_visit, range)
            .map(|i| &self.charts[i])
            .filter(|c| filter.keeps_chart(c.record))
            .filter(|c| c.signed_date.is_some())
            .filter_map(|c| {
                c.record
                    .signed
                    .map(|s| days_between(c.record.visit_ended, s))
            })
            .collect()
    }

    fn same_day_closure(&self, range: DateRange, filter: &Filter<'_>) -> Stat {
        let charts: Vec<&ChartView<'_>> = indexed(&self.charts_by_visit, range)
            .map(|i| &self.charts[i])
            .filter(|c| filter.keeps_chart(c.record))
            .collect();
        let same_day = charts
            .iter()
            .filter(|c| c.signed_date == Some(c.visit_date))
            .count();
        Stat::share(same_day, charts.len())
    }

    fn days_to_claim(&self, range: DateRange, filter: &Filter<'_>) -> Vec<f64> {
        indexed(&self.claims_by_visit, range)
            .map(|i| &self.claims[i])
            .filter(|c| filter.keeps_claim(c))
            .map(|c| days_between(c.record.visit_date, c.record.submitted))
            .collect()
    }

    fn after_hours_signing(&self, range: DateRange, filter: &Filter<'_>) -> Stat {
        let signed: Vec<&ChartView<'_>> = indexed(&self.charts_by_signature, range)
            .map(|i| &self.charts[i])
            .filter(|c| filter.keeps_chart(c.record))
            .collect();
        let after_hours = signed.iter().filter(|c| c.signed_after_hours).count();
        Stat::share(after_hours, signed.len())
    }

    /// Items routed on a date of `range` that `filter` keeps.
    pub fn routed_items<'s>(
        &'s self,
        range: DateRange,
        filter: &'s Filter<'_>,
    ) -> impl Iterator<Item = &'a RoutedItemRecord> + 's {
        let items = self.items;
        indexed(&self.items_by_routing, range)
            .map(move |i| &items[i])
            .filter(move |i| filter.keeps_item(i))
    }
}

/// Lists the record indexes filed under the dates of `range`.
fn indexed(
    index: &BTreeMap<NaiveDate, Vec<usize>>,
    range: DateRange,
) -> impl Iterator<Item = usize> + '_ {
    index
        .range(range.start..=range.end)
        .flat_map(|(_, indexes)| indexes.iter().copied())
}

/// `later − earlier` in days of 24 hours, fractional.
pub fn days_between(earlier: Timestamp, later: Timestamp) -> f64 {
    (later.0 - earlier.0) as f64 / MILLIS_PER_DAY
}
