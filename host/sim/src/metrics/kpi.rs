//! The KPIs, their units and which direction counts as an improvement.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A backlog KPI. The crate documentation defines each one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kpi {
    /// Mean over clinic days of the charts open at the site's closing time.
    OpenChartsEndOfDay,
    /// Charts open at the closing time of the range's last day.
    ChartsStillOpen,
    /// Median of signed − visit ended, in days.
    DaysToCloseMedian,
    /// Mean of signed − visit ended, in days.
    DaysToCloseMean,
    /// Share of the range's charts signed on the visit's local date.
    SameDayClosure,
    /// Median of claim submitted − visit date, in days.
    DaysToClaimMedian,
    /// Mean of claim submitted − visit date, in days.
    DaysToClaimMean,
    /// Share of routed items whose role is a clinician role.
    PhysicianInboxShare,
    /// Share of signatures outside the signer's working hours.
    AfterHoursSigning,
    /// Mean over clinic days of the open items past due at closing time.
    OverdueItemsEndOfDay,
    /// Items routed in the range.
    ItemsRouted,
}

impl Kpi {
    /// Every KPI in report order.
    pub const ALL: &'static [Kpi] = &[
        Kpi::OpenChartsEndOfDay,
        Kpi::ChartsStillOpen,
        Kpi::DaysToCloseMedian,
        Kpi::DaysToCloseMean,
        Kpi::SameDayClosure,
        Kpi::DaysToClaimMedian,
        Kpi::DaysToClaimMean,
        Kpi::PhysicianInboxShare,
        Kpi::AfterHoursSigning,
        Kpi::OverdueItemsEndOfDay,
        Kpi::ItemsRouted,
    ];

    /// Returns the kebab-case id used in CSV and JSON.
    pub fn id(self) -> &'static str {
        match self {
            Kpi::OpenChartsEndOfDay => "open-charts-end-of-day",
            Kpi::ChartsStillOpen => "charts-still-open",
            Kpi::DaysToCloseMedian => "days-to-close-median",
            Kpi::DaysToCloseMean => "days-to-close-mean",
            Kpi::SameDayClosure => "same-day-closure",
            Kpi::DaysToClaimMedian => "days-to-claim-median",
            Kpi::DaysToClaimMean => "days-to-claim-mean",
            Kpi::PhysicianInboxShare => "physician-inbox-share",
            Kpi::AfterHoursSigning => "after-hours-signing",
            Kpi::OverdueItemsEndOfDay => "overdue-items-end-of-day",
            Kpi::ItemsRouted => "items-routed",
        }
    }

    /// Returns the label for tables and charts.
    pub fn label(self) -> &'static str {
        match self {
            Kpi::OpenChartsEndOfDay => "Open charts at end of day",
            Kpi::ChartsStillOpen => "Charts still open",
            Kpi::DaysToCloseMedian => "Days to close (median)",
            Kpi::DaysToCloseMean => "Days to close (mean)",
            Kpi::SameDayClosure => "Charts closed same day",
            Kpi::DaysToClaimMedian => "Days to claim (median)",
            Kpi::DaysToClaimMean => "Days to claim (mean)",
            Kpi::PhysicianInboxShare => "Physician-inbox share",
            Kpi::AfterHoursSigning => "After-hours signing",
            Kpi::OverdueItemsEndOfDay => "Overdue items at end of day",
            Kpi::ItemsRouted => "Items routed",
        }
    }

    /// Returns the unit of the KPI's value.
    pub fn unit(self) -> Unit {
        match self {
            Kpi::OpenChartsEndOfDay | Kpi::OverdueItemsEndOfDay => Unit::MeanCount,
            Kpi::ChartsStillOpen | Kpi::ItemsRouted => Unit::Count,
            Kpi::DaysToCloseMedian
            | Kpi::DaysToCloseMean
            | Kpi::DaysToClaimMedian
            | Kpi::DaysToClaimMean => Unit::Days,
            Kpi::SameDayClosure | Kpi::PhysicianInboxShare | Kpi::AfterHoursSigning => Unit::Share,
        }
    }

    /// Returns the direction of change that is an improvement.
    pub fn direction(self) -> Direction {
        match self {
            Kpi::SameDayClosure => Direction::HigherIsBetter,
            Kpi::ItemsRouted => Direction::Neutral,
            _ => Direction::LowerIsBetter,
        }
    }

    /// Returns what the observation count `n` of the KPI counts.
    pub fn counts(self) -> &'static str {
        match self {
            Kpi::OpenChartsEndOfDay | Kpi::OverdueItemsEndOfDay => "clinic days",
            Kpi::ChartsStillOpen => "open charts",
            Kpi::DaysToCloseMedian | Kpi::DaysToCloseMean => "signed charts",
            Kpi::SameDayClosure => "charts",
            Kpi::DaysToClaimMedian | Kpi::DaysToClaimMean => "claims",
            Kpi::PhysicianInboxShare | Kpi::ItemsRouted => "items",
            Kpi::AfterHoursSigning => "signatures",
        }
    }
}

impl fmt::Display for Kpi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The unit a KPI is measured in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    /// A whole count.
    Count,
    /// A mean of daily counts.
    MeanCount,
    /// Days (fractional).
    Days,
    /// A fraction between 0 and 1, shown as a percentage.
    Share,
}

impl Unit {
    /// Returns the axis or column label of the unit.
    pub fn label(self) -> &'static str {
        match self {
            Unit::Count => "count",
            Unit::MeanCount => "count per clinic day",
            Unit::Days => "days",
            Unit::Share => "percent",
        }
    }

    /// Formats `value` for people; `None` becomes `n/a`.
    pub fn format(self, value: Option<f64>) -> String {
        let Some(value) = value else {
            return NOT_AVAILABLE.to_string();
        };
        match self {
            Unit::Count => format!("{value:.0}"),
            Unit::MeanCount => format!("{value:.1}"),
            Unit::Days => format!("{value:.2}"),
            Unit::Share => format!("{:.1} %", value * 100.0),
        }
    }
}

/// The text shown for a value that cannot be computed (no observations).
pub const NOT_AVAILABLE: &str = "n/a";

/// The direction of change that counts as an improvement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// A fall is an improvement.
    LowerIsBetter,
    /// A rise is an improvement.
    HigherIsBetter,
    /// Context only; neither direction is better.
    Neutral,
}

/// A KPI value and the number of observations behind it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// The value; `None` when there was nothing to compute it from.
    pub value: Option<f64>,
    /// Observations behind the value (charts, claims, items, signatures or
    /// clinic days; see [`Kpi::counts`]).
    pub n: usize,
}

impl Stat {
    /// Builds a value with `n` observations.
    pub fn new(value: Option<f64>, n: usize) -> Self {
        Stat { value, n }
    }

    /// Builds a count that is its own observation count.
    pub fn count(n: usize) -> Self {
        Stat {
            value: Some(n as f64),
            n,
        }
    }

    /// Computes the share `part / whole`, `n/a` when `whole` is zero.
    pub fn share(part: usize, whole: usize) -> Self {
        let value = (whole > 0).then(|| part as f64 / whole as f64);
        Stat { value, n: whole }
    }
}

/// Computes the median of `values`, `None` when empty. An even count takes
/// the mean of the two middle values.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        Some((sorted[middle - 1] + sorted[middle]) / 2.0)
    } else {
        Some(sorted[middle])
    }
}

/// Computes the arithmetic mean of `values`, `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(values.iter().sum::<f64>() / values.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_even_count_averages_middle() {
        // Sorted: 0.5, 1.0, 3.0, 10.0; the middle pair averages to 2.0.
        let values = [10.0, 0.5, 3.0, 1.0];

        assert_eq!(median(&values), Some(2.0));
    }

    #[test]
    fn median_of_odd_count_takes_middle() {
        assert_eq!(median(&[4.0, 1.0, 2.0]), Some(2.0));
    }

    #[test]
    fn empty_values_have_no_median_or_mean() {
        assert_eq!(median(&[]), None);
        assert_eq!(mean(&[]), None);
    }

    #[test]
    fn share_of_nothing_is_not_available() {
        let stat = Stat::share(0, 0);

        assert_eq!(stat.value, None);
        assert_eq!(Unit::Share.format(stat.value), "n/a");
    }

    #[test]
    fn units_format_for_people() {
        assert_eq!(Unit::Share.format(Some(0.375)), "37.5 %");
        assert_eq!(Unit::Days.format(Some(1.0 / 3.0)), "0.33");
        assert_eq!(Unit::MeanCount.format(Some(2.26)), "2.3");
        assert_eq!(Unit::Count.format(Some(7.0)), "7");
    }

    #[test]
    fn kpi_ids_are_unique() {
        let mut ids: Vec<&str> = Kpi::ALL.iter().map(|k| k.id()).collect();
        ids.sort_unstable();
        ids.dedup();

        assert_eq!(ids.len(), Kpi::ALL.len());
    }
}
