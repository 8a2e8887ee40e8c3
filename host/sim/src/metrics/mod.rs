//! Backlog KPIs over plain records: pure functions, no I/O.
//!
//! Build a [`MetricsInput`] per site (the host converts its stored events,
//! the simulator produces one directly), call [`report`] for a date range,
//! and [`compare`] two reports for baseline versus pilot. [`roi`] turns two
//! reports into clinician minutes and cost moved. The KPI definitions are
//! in the crate documentation.

mod compare;
mod compute;
mod input;
mod kpi;
mod report;
mod roi;

#[cfg(test)]
mod tests;

pub use compare::{Comparison, ComparisonRow, Verdict, compare, compare_stats};
pub use compute::{Dimension, applies, days_between};
pub use input::{
    ChartRecord, ClaimRecord, FactsError, MetricsInput, RoutedItemRecord, SiteFacts,
    charts_from_events,
};
pub use kpi::{Direction, Kpi, NOT_AVAILABLE, Stat, Unit, mean, median};
pub use report::{
    AGE_BUCKETS, BreakdownRow, DailyPoint, KpiReport, KpiValue, OpenChartAges, ReportOptions,
    RoutingCount, age_bucket, report,
};
pub use roi::{Roi, RoiCategory, RoiError, RoiInputs, RoiLine, roi};
