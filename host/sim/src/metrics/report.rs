//! A site's KPIs over one date range: totals, breakdowns, a daily series,
//! the open-chart age buckets and the routing mix that ROI reads.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use switchboard_sdk::{Category, Timestamp};

use super::compute::{Dimension, Filter, Prepared, applies, days_between};
use super::input::MetricsInput;
use super::kpi::{Kpi, Stat};
use crate::local::DateRange;

/// Report scope beyond the date range.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportOptions {
    /// Only this care team's charts, claims and items.
    #[serde(default)]
    pub pod: Option<String>,
    /// Treat anything after this instant as not yet known (normally now).
    #[serde(default)]
    pub as_of: Option<Timestamp>,
}

/// One KPI's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KpiValue {
    /// Which KPI.
    pub kpi: Kpi,
    /// Its value and observation count.
    pub stat: Stat,
}

/// One KPI for one value of a dimension.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BreakdownRow {
    /// Which KPI.
    pub kpi: Kpi,
    /// The dimension.
    pub dimension: Dimension,
    /// The dimension's value: a pod, clinician id, category or role.
    pub key: String,
    /// The KPI over the records with that value.
    pub stat: Stat,
}

/// Every KPI on one date.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DailyPoint {
    /// Site-local date.
    pub date: NaiveDate,
    /// True when the site has clinic hours that weekday; end-of-day
    /// counts are `n/a` on other days.
    pub clinic_day: bool,
    /// The KPIs over that single date, in [`Kpi::ALL`] order.
    pub values: Vec<KpiValue>,
}

impl DailyPoint {
    /// Returns the value of `kpi` on this date.
    pub fn value(&self, kpi: Kpi) -> Option<f64> {
        self.values
            .iter()
            .find(|v| v.kpi == kpi)
            .and_then(|v| v.stat.value)
    }
}

/// Age buckets of open charts, in whole days since the visit ended.
pub const AGE_BUCKETS: &[(&str, u32, Option<u32>)] = &[
    ("0-1", 0, Some(1)),
    ("2-3", 2, Some(3)),
    ("4-7", 4, Some(7)),
    ("8-14", 8, Some(14)),
    (">14", 15, None),
];

/// Open charts of one clinician by age.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenChartAges {
    /// Clinician roster id, or `all` for the site's total.
    pub clinician: String,
    /// Open charts.
    pub open: usize,
    /// Counts per [`AGE_BUCKETS`] entry, in that order.
    pub buckets: Vec<usize>,
}

/// Items routed to one role for one category.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingCount {
    /// Kind of work.
    pub category: Category,
    /// Role pool.
    pub role: String,
    /// True for a clinician role.
    pub clinician_role: bool,
    /// Items.
    pub items: usize,
}

/// A site's KPIs over one date range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KpiReport {
    /// Site id.
    pub site: String,
    /// The range, in site-local dates.
    pub range: DateRange,
    /// The pod the report is limited to, if any.
    #[serde(default)]
    pub pod: Option<String>,
    /// Clinic days in the range whose closing time is known.
    pub clinic_days: usize,
    /// Instant the "still open" figures are counted at; `None` when the
    /// range lies entirely after `as_of`.
    #[serde(default)]
    pub counted_at: Option<Timestamp>,
    /// Every KPI, in [`Kpi::ALL`] order.
    pub values: Vec<KpiValue>,
    /// Each KPI per value of the dimensions it applies to.
    pub breakdowns: Vec<BreakdownRow>,
    /// Every KPI on each date of the range.
    pub daily: Vec<DailyPoint>,
    /// Open charts at `counted_at` by age, per clinician then `all`.
    pub open_charts: Vec<OpenChartAges>,
    /// Items routed in the range per category and role.
    pub routing: Vec<RoutingCount>,
}

impl KpiReport {
    /// Returns the value of `kpi` over the whole range.
    pub fn stat(&self, kpi: Kpi) -> Stat {
        self.values
            .iter()
            .find(|v| v.kpi == kpi)
            .map_or(Stat::new(None, 0), |v| v.stat)
    }

    /// Returns the breakdown rows of `kpi` by `dimension`.
    pub fn breakdown(&self, kpi: Kpi, dimension: Dimension) -> Vec<&BreakdownRow> {
        self.breakdowns
            .iter()
            .filter(|r| r.kpi == kpi && r.dimension == dimension)
            .collect()
    }

    /// Returns the daily series of `kpi`.
    pub fn series(&self, kpi: Kpi) -> Vec<(NaiveDate, Option<f64>)> {
        self.daily.iter().map(|p| (p.date, p.value(kpi))).collect()
    }
}

/// Computes every KPI of `input` over `range`.
pub fn report(input: &MetricsInput, range: DateRange, options: &ReportOptions) -> KpiReport {
    let prepared = Prepared::new(input, options.as_of);
    let base = Filter {
        pod: options.pod.as_deref(),
        part: None,
    };

    let values = values_over(&prepared, range, &base);
    let breakdowns = breakdowns(&prepared, range, &base);
    let daily = range
        .dates()
        .map(|date| DailyPoint {
            date,
            clinic_day: input.facts.is_clinic_day(date),
            values: values_over(&prepared, DateRange::day(date), &base),
        })
        .collect();
    let counted_at = prepared.range_close(range);
    let open_charts = counted_at.map_or_else(Vec::new, |at| open_chart_ages(&prepared, at, &base));
    let clinic_days = prepared.stat(Kpi::OpenChartsEndOfDay, range, &base).n;

    KpiReport {
        site: input.facts.site.clone(),
        range,
        pod: options.pod.clone(),
        clinic_days,
        counted_at,
        values,
        breakdowns,
        daily,
        open_charts,
        routing: routing_mix(&prepared, range, &base),
    }
}

fn values_over(prepared: &Prepared<'_>, range: DateRange, filter: &Filter<'_>) -> Vec<KpiValue> {
    Kpi::ALL
        .iter()
        .map(|&kpi| KpiValue {
            kpi,
            stat: prepared.stat(kpi, range, filter),
        })
        .collect()
}

fn breakdowns(prepared: &Prepared<'_>, range: DateRange, base: &Filter<'_>) -> Vec<BreakdownRow> {
    let mut rows = Vec::new();
    for &dimension in Dimension::ALL {
        let keys = dimension_keys(prepared, dimension);
        for &kpi in Kpi::ALL.iter().filter(|k| applies(**k, dimension)) {
            for key in &keys {
                let filter = Filter {
                    pod: base.pod,
                    part: Some((dimension, key.as_str())),
                };
                rows.push(BreakdownRow {
                    kpi,
                    dimension,
                    key: key.clone(),
                    stat: prepared.stat(kpi, range, &filter),
                });
            }
        }
    }
    rows
}

/// Lists the values of `dimension` present in the records, sorted.
fn dimension_keys(prepared: &Prepared<'_>, dimension: Dimension) -> Vec<String> {
    let mut keys: BTreeSet<String> = BTreeSet::new();
    match dimension {
        Dimension::Pod => {
            let chart_pods = prepared.charts.iter().filter_map(|c| c.record.pod.clone());
            let item_pods = prepared.items.iter().filter_map(|i| i.pod.clone());
            keys.extend(chart_pods.chain(item_pods));
        }
        Dimension::Clinician => {
            keys.extend(prepared.charts.iter().map(|c| c.record.clinician.clone()));
        }
        Dimension::Category => {
            keys.extend(
                prepared
                    .items
                    .iter()
                    .map(|i| i.category.as_str().to_string()),
            );
        }
        Dimension::Role => keys.extend(prepared.items.iter().map(|i| i.role.clone())),
    }
    keys.into_iter().collect()
}

/// Open charts at `at` per clinician, by age, then the total as `all`.
fn open_chart_ages(
    prepared: &Prepared<'_>,
    at: Timestamp,
    filter: &Filter<'_>,
) -> Vec<OpenChartAges> {
    let mut per_clinician: BTreeMap<String, OpenChartAges> = BTreeMap::new();
    let mut total = OpenChartAges {
        clinician: "all".to_string(),
        open: 0,
        buckets: vec![0; AGE_BUCKETS.len()],
    };

    for chart in prepared.open_charts_at(at, filter) {
        let bucket = age_bucket(days_between(chart.record.visit_ended, at));
        let entry = per_clinician
            .entry(chart.record.clinician.clone())
            .or_insert_with(|| OpenChartAges {
                clinician: chart.record.clinician.clone(),
                open: 0,
                buckets: vec![0; AGE_BUCKETS.len()],
            });
        entry.open += 1;
        entry.buckets[bucket] += 1;
        total.open += 1;
        total.buckets[bucket] += 1;
    }

    let mut rows: Vec<OpenChartAges> = per_clinician.into_values().collect();
    rows.push(total);
    rows
}

/// Returns the index in [`AGE_BUCKETS`] of an age in fractional days: whole days
/// elapsed decide, so 1.9 days is in `0-1` and 2.0 in `2-3`.
pub fn age_bucket(age_days: f64) -> usize {
    let whole = age_days.max(0.0).floor() as u32;
    AGE_BUCKETS
        .iter()
        .position(|(_, low, high)| whole >= *low && high.is_none_or(|h| whole <= h))
        .unwrap_or(AGE_BUCKETS.len() - 1)
}

fn routing_mix(
    prepared: &Prepared<'_>,
    range: DateRange,
    filter: &Filter<'_>,
) -> Vec<RoutingCount> {
    let mut counts: BTreeMap<(Category, String, bool), usize> = BTreeMap::new();
    for item in prepared.routed_items(range, filter) {
        *counts
            .entry((item.category, item.role.clone(), item.clinician_role))
            .or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((category, role, clinician_role), items)| RoutingCount {
            category,
            role,
            clinician_role,
            items,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_buckets_use_whole_days() {
        assert_eq!(age_bucket(0.2), 0);
        assert_eq!(age_bucket(1.99), 0);
        assert_eq!(age_bucket(2.0), 1);
        assert_eq!(age_bucket(7.5), 2);
        assert_eq!(age_bucket(14.9), 3);
        assert_eq!(age_bucket(15.0), 4);
        assert_eq!(age_bucket(400.0), 4);
    }
}
