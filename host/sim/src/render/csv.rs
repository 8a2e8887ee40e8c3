//! CSV output (RFC 4180: comma-separated, CRLF line ends, fields quoted
//! when they contain a comma, quote or line break).
//!
//! Values are machine-readable: plain decimals, shares as fractions
//! between 0 and 1, and `n/a` where a value cannot be computed.

use chrono::NaiveDate;

use crate::metrics::{AGE_BUCKETS, Comparison, Kpi, KpiReport, NOT_AVAILABLE, Unit};

/// Quotes `field` when it needs quoting, doubling inner quotes.
pub fn escape_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

fn push_record(out: &mut String, fields: &[String]) {
    let escaped: Vec<String> = fields.iter().map(|f| escape_field(f)).collect();
    out.push_str(&escaped.join(","));
    out.push_str("\r\n");
}

/// Formats a KPI value as a plain decimal, counts without decimals.
fn raw_value(kpi: Kpi, value: Option<f64>) -> String {
    match (kpi.unit(), value) {
        (_, None) => NOT_AVAILABLE.to_string(),
        (Unit::Count, Some(v)) => format!("{v:.0}"),
        (_, Some(v)) => format!("{v:.6}"),
    }
}

fn raw_number(value: Option<f64>) -> String {
    value.map_or_else(|| NOT_AVAILABLE.to_string(), |v| format!("{v:.6}"))
}

/// Header of [`comparison_csv`].
pub const COMPARISON_HEADER: &[&str] = &[
    "kind",
    "kpi",
    "date",
    "unit",
    "baseline",
    "baseline_n",
    "pilot",
    "pilot_n",
    "change_percent",
    "verdict",
];

/// Writes the comparison as CSV: one `kpi` row per KPI, then one `daily` row
/// per KPI and date of either range. A daily row fills the baseline columns
/// when the baseline report covers its date and the pilot columns when the
/// pilot report does, so two runs over the same dates share their rows.
pub fn comparison_csv(comparison: &Comparison) -> String {
    let mut out = String::new();
    push_record(&mut out, &strings(COMPARISON_HEADER));

    for row in &comparison.rows {
        push_record(
            &mut out,
            &[
                "kpi".to_string(),
                row.kpi.id().to_string(),
                String::new(),
                row.kpi.unit().label().to_string(),
                raw_value(row.kpi, row.baseline.value),
                row.baseline.n.to_string(),
                raw_value(row.kpi, row.pilot.value),
                row.pilot.n.to_string(),
                raw_number(row.change_percent),
                row.verdict.as_str().to_string(),
            ],
        );
    }

    let mut dates: Vec<NaiveDate> = comparison
        .baseline
        .daily
        .iter()
        .chain(&comparison.pilot.daily)
        .map(|p| p.date)
        .collect();
    dates.sort_unstable();
    dates.dedup();

    for &kpi in Kpi::ALL {
        for date in &dates {
            let [baseline, baseline_n] = daily_cells(&comparison.baseline, kpi, *date);
            let [pilot, pilot_n] = daily_cells(&comparison.pilot, kpi, *date);
            push_record(
                &mut out,
                &[
                    "daily".to_string(),
                    kpi.id().to_string(),
                    date.to_string(),
                    kpi.unit().label().to_string(),
                    baseline,
                    baseline_n,
                    pilot,
                    pilot_n,
                    String::new(),
                    String::new(),
                ],
            );
        }
    }
    out
}

/// Returns the value and count cells of `kpi` on `date` in `report`, empty when
/// the report does not cover the date.
fn daily_cells(report: &KpiReport, kpi: Kpi, date: NaiveDate) -> [String; 2] {
    let point = report.daily.iter().find(|p| p.date == date);
    let value = point.and_then(|p| p.values.iter().find(|v| v.kpi == kpi));
    match (point, value) {
        (None, _) => [String::new(), String::new()],
        (Some(_), Some(v)) => [raw_value(kpi, v.stat.value), v.stat.n.to_string()],
        (Some(_), None) => [NOT_AVAILABLE.to_string(), "0".to_string()],
    }
}

/// Header of [`report_csv`].
pub const REPORT_HEADER: &[&str] = &[
    "kind",
    "kpi",
    "dimension",
    "key",
    "date",
    "unit",
    "value",
    "n",
];

/// Writes one report as CSV: `kpi` rows (range totals), `breakdown` rows, `daily`
/// rows, and `open-charts` rows whose key is `clinician/age bucket`.
pub fn report_csv(report: &KpiReport) -> String {
    let mut out = String::new();
    push_record(&mut out, &strings(REPORT_HEADER));

    for value in &report.values {
        push_record(
            &mut out,
            &report_row("kpi", value.kpi, "", "", "", value.stat.value, value.stat.n),
        );
    }
    for row in &report.breakdowns {
        push_record(
            &mut out,
            &report_row(
                "breakdown",
                row.kpi,
                row.dimension.id(),
                &row.key,
                "",
                row.stat.value,
                row.stat.n,
            ),
        );
    }
    for point in &report.daily {
        let date = point.date.to_string();
        for value in &point.values {
            push_record(
                &mut out,
                &report_row(
                    "daily",
                    value.kpi,
                    "",
                    "",
                    &date,
                    value.stat.value,
                    value.stat.n,
                ),
            );
        }
    }
    for ages in &report.open_charts {
        for ((label, _, _), count) in AGE_BUCKETS.iter().zip(&ages.buckets) {
            let key = format!("{}/{label}", ages.clinician);
            push_record(
                &mut out,
                &report_row(
                    "open-charts",
                    Kpi::ChartsStillOpen,
                    "clinician-age",
                    &key,
                    "",
                    Some(*count as f64),
                    *count,
                ),
            );
        }
    }
    out
}

fn report_row(
    kind: &str,
    kpi: Kpi,
    dimension: &str,
    key: &str,
    date: &str,
    value: Option<f64>,
    n: usize,
) -> Vec<String> {
    vec![
        kind.to_string(),
        kpi.id().to_string(),
        dimension.to_string(),
        key.to_string(),
        date.to_string(),
        kpi.unit().label().to_string(),
        raw_value(kpi, value),
        n.to_string(),
    ]
}

fn strings(fields: &[&str]) -> Vec<String> {
    fields.iter().map(|f| f.to_string()).collect()
}
