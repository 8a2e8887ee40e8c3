//! Baseline versus pilot: each KPI's two values, the percent change and
//! whether the change is an improvement.

use serde::{Deserialize, Serialize};

use super::compute::Dimension;
use super::kpi::{Direction, Kpi, Stat};
use super::report::KpiReport;
use crate::local::DateRange;

/// The judgement of a KPI's move from baseline to pilot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Moved in the KPI's better direction.
    Better,
    /// Moved in the KPI's worse direction.
    Worse,
    /// Did not move.
    Same,
    /// Context KPI: no direction is better.
    Neutral,
    /// One of the two values is `n/a`.
    NotAvailable,
}

impl Verdict {
    /// Returns the word printed in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::Same => "same",
            Verdict::Neutral => "-",
            Verdict::NotAvailable => "n/a",
        }
    }
}

/// One KPI, or one breakdown value of a KPI, in both ranges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComparisonRow {
    /// Which KPI.
    pub kpi: Kpi,
    /// For breakdown rows, the dimension and its value.
    #[serde(default)]
    pub part: Option<(Dimension, String)>,
    /// The baseline value.
    pub baseline: Stat,
    /// The pilot value.
    pub pilot: Stat,
    /// `pilot − baseline`, in the KPI's unit (a share as a fraction).
    #[serde(default)]
    pub difference: Option<f64>,
    /// `(pilot − baseline) / baseline × 100`; `n/a` for a zero baseline.
    #[serde(default)]
    pub change_percent: Option<f64>,
    /// The direction of the move, judged by [`Kpi::direction`].
    pub verdict: Verdict,
}

/// Two reports of the same site side by side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Site id.
    pub site: String,
    /// The baseline range.
    pub baseline_range: DateRange,
    /// The pilot range.
    pub pilot_range: DateRange,
    /// One row per KPI, in [`Kpi::ALL`] order.
    pub rows: Vec<ComparisonRow>,
    /// One row per breakdown value present in either report.
    pub breakdowns: Vec<ComparisonRow>,
    /// The baseline report.
    pub baseline: KpiReport,
    /// The pilot report.
    pub pilot: KpiReport,
}

impl Comparison {
    /// Returns the row of `kpi`.
    pub fn row(&self, kpi: Kpi) -> Option<&ComparisonRow> {
        self.rows.iter().find(|r| r.kpi == kpi)
    }
}

/// Compares two reports, normally of two ranges or two runs of one site.
pub fn compare(baseline: KpiReport, pilot: KpiReport) -> Comparison {
    let rows = Kpi::ALL
        .iter()
        .map(|&kpi| compare_stats(kpi, None, baseline.stat(kpi), pilot.stat(kpi)))
        .collect();
    let breakdowns = compare_breakdowns(&baseline, &pilot);

    Comparison {
        site: pilot.site.clone(),
        baseline_range: baseline.range,
        pilot_range: pilot.range,
        rows,
        breakdowns,
        baseline,
        pilot,
    }
}

fn compare_breakdowns(baseline: &KpiReport, pilot: &KpiReport) -> Vec<ComparisonRow> {
    let mut keys: Vec<(Kpi, Dimension, String)> = baseline
        .breakdowns
        .iter()
        .chain(&pilot.breakdowns)
        .map(|r| (r.kpi, r.dimension, r.key.clone()))
        .collect();
    keys.sort();
    keys.dedup();

    let find = |report: &KpiReport, kpi: Kpi, dimension: Dimension, key: &str| {
        report
            .breakdowns
            .iter()
            .find(|r| r.kpi == kpi && r.dimension == dimension && r.key == key)
            .map_or(Stat::new(None, 0), |r| r.stat)
    };

    keys.into_iter()
        .map(|(kpi, dimension, key)| {
            let before = find(baseline, kpi, dimension, &key);
            let after = find(pilot, kpi, dimension, &key);
            compare_stats(kpi, Some((dimension, key)), before, after)
        })
        .collect()
}

/// Compares one pair of values of `kpi`.
pub fn compare_stats(
    kpi: Kpi,
    part: Option<(Dimension, String)>,
    baseline: Stat,
    pilot: Stat,
) -> ComparisonRow {
    let (difference, change_percent, verdict) = match (baseline.value, pilot.value) {
        (Some(before), Some(after)) => {
            let difference = after - before;
            let change = (before != 0.0).then(|| difference / before * 100.0);
            (
                Some(difference),
                change,
                verdict_of(kpi.direction(), difference),
            )
        }
        _ => (None, None, Verdict::NotAvailable),
    };
    ComparisonRow {
        kpi,
        part,
        baseline,
        pilot,
        difference,
        change_percent,
        verdict,
    }
}

/// Differences smaller than this are rounding noise, not a change.
const SAME_EPSILON: f64 = 1e-9;

fn verdict_of(direction: Direction, difference: f64) -> Verdict {
    if direction == Direction::Neutral {
        return Verdict::Neutral;
    }
    if difference.abs() < SAME_EPSILON {
        return Verdict::Same;
    }
    let fell = difference < 0.0;
    match (direction, fell) {
        (Direction::LowerIsBetter, true) | (Direction::HigherIsBetter, false) => Verdict::Better,
        _ => Verdict::Worse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fall_in_lower_is_better_kpi_is_better() {
        // (1.5 − 2.0) / 2.0 × 100 = −25 %.
        let row = compare_stats(
            Kpi::DaysToCloseMedian,
            None,
            Stat::new(Some(2.0), 10),
            Stat::new(Some(1.5), 12),
        );

        assert_eq!(row.change_percent, Some(-25.0));
        assert_eq!(row.difference, Some(-0.5));
        assert_eq!(row.verdict, Verdict::Better);
    }

    #[test]
    fn fall_in_same_day_closure_is_worse() {
        let row = compare_stats(
            Kpi::SameDayClosure,
            None,
            Stat::new(Some(0.8), 10),
            Stat::new(Some(0.6), 10),
        );

        assert_eq!(row.verdict, Verdict::Worse);
    }

    #[test]
    fn zero_baseline_has_no_percent_change() {
        let row = compare_stats(Kpi::ChartsStillOpen, None, Stat::count(0), Stat::count(3));

        assert_eq!(row.change_percent, None);
        assert_eq!(row.difference, Some(3.0));
        assert_eq!(row.verdict, Verdict::Worse);
    }

    #[test]
    fn missing_value_is_not_available() {
        let row = compare_stats(
            Kpi::DaysToClaimMean,
            None,
            Stat::new(None, 0),
            Stat::new(Some(2.0), 4),
        );

        assert_eq!(row.verdict, Verdict::NotAvailable);
        assert_eq!(row.change_percent, None);
    }

    #[test]
    fn items_routed_is_neutral() {
        let row = compare_stats(Kpi::ItemsRouted, None, Stat::count(10), Stat::count(20));

        assert_eq!(row.verdict, Verdict::Neutral);
        assert_eq!(row.change_percent, Some(100.0));
    }
}
