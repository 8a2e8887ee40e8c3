//! Plain-text tables for the terminal.

use std::fmt::Write as _;

use crate::metrics::{AGE_BUCKETS, Comparison, KpiReport, NOT_AVAILABLE, Roi};

/// Aligns rows of cells into columns; the first column is left-aligned,
/// the others right-aligned, with two spaces between columns.
fn layout(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }

    let mut out = String::new();
    let header_cells: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    push_row(&mut out, &header_cells, &widths);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    push_row(&mut out, &rule, &widths);
    for row in rows {
        push_row(&mut out, row, &widths);
    }
    out
}

fn push_row(out: &mut String, cells: &[String], widths: &[usize]) {
    let mut line = String::new();
    for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
        let pad = width - cell.chars().count();
        if i > 0 {
            line.push_str("  ");
            line.push_str(&" ".repeat(pad));
            line.push_str(cell);
        } else {
            line.push_str(cell);
            line.push_str(&" ".repeat(pad));
        }
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// Formats a percent change such as `-25.0 %`; `n/a` when absent.
pub fn format_change(change: Option<f64>) -> String {
    match change {
        Some(change) => format!("{change:+.1} %"),
        None => NOT_AVAILABLE.to_string(),
    }
}

/// Renders the baseline-versus-pilot table: KPI, baseline, pilot, change %, and
/// whether the change is better or worse, then each range's open-chart ages.
pub fn comparison_table(comparison: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Site {}: baseline {} vs pilot {}",
        comparison.site, comparison.baseline_range, comparison.pilot_range
    );
    if let Some(pod) = &comparison.pilot.pod {
        let _ = writeln!(out, "Pod: {pod}");
    }
    out.push('\n');

    let rows: Vec<Vec<String>> = comparison
        .rows
        .iter()
        .map(|row| {
            let unit = row.kpi.unit();
            vec![
                row.kpi.label().to_string(),
                unit.format(row.baseline.value),
                unit.format(row.pilot.value),
                format_change(row.change_percent),
                row.verdict.as_str().to_string(),
            ]
        })
        .collect();
    out.push_str(&layout(
        &["KPI", "Baseline", "Pilot", "Change %", "Better/worse"],
        &rows,
    ));

    out.push_str("\nLower is better for every KPI except charts closed same day (higher is better) and items routed (context only).\n");
    out.push_str("\nOpen charts by age in days, baseline then pilot:\n");
    out.push_str(&ages_table(&comparison.baseline));
    out.push_str(&ages_table(&comparison.pilot));
    out
}

/// Renders one report's KPIs with their observation counts, then open-chart ages.
pub fn report_table(report: &KpiReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Site {}: {}", report.site, report.range);
    if let Some(pod) = &report.pod {
        let _ = writeln!(out, "Pod: {pod}");
    }
    out.push('\n');

    let rows: Vec<Vec<String>> = report
        .values
        .iter()
        .map(|value| {
            vec![
                value.kpi.label().to_string(),
                value.kpi.unit().format(value.stat.value),
                format!("{} {}", value.stat.n, value.kpi.counts()),
            ]
        })
        .collect();
    out.push_str(&layout(&["KPI", "Value", "Based on"], &rows));
    out.push_str("\nOpen charts by age in days:\n");
    out.push_str(&ages_table(report));
    out
}

/// Open charts per clinician and age bucket at the report's count time.
fn ages_table(report: &KpiReport) -> String {
    let mut header: Vec<&str> = vec!["Clinician", "Open"];
    header.extend(AGE_BUCKETS.iter().map(|(label, _, _)| *label));
    let rows: Vec<Vec<String>> = report
        .open_charts
        .iter()
        .map(|ages| {
            let mut row = vec![ages.clinician.clone(), ages.open.to_string()];
            row.extend(ages.buckets.iter().map(|b| b.to_string()));
            row
        })
        .collect();
    let counted = report
        .counted_at
        .map_or_else(|| NOT_AVAILABLE.to_string(), |t| t.to_string());
    format!(
        "{} (counted at {counted})\n{}",
        report.range,
        layout(&header, &rows)
    )
}

/// Renders the ROI lines, each followed by its formula, then the per-category
/// arithmetic.
pub fn roi_text(roi: &Roi) -> String {
    let mut out = String::new();
    for line in &roi.lines {
        let value = match line.value {
            Some(v) if line.unit.starts_with("minutes") || line.unit == "items" => {
                format!("{v:.1} {}", line.unit)
            }
            Some(v) => format!("{}{v:.2}", line.unit),
            None => NOT_AVAILABLE.to_string(),
        };
        let _ = writeln!(out, "{}: {value}", line.label);
        let _ = writeln!(out, "    = {}", line.formula);
    }
    out.push_str("\nPer category:\n");
    for category in &roi.categories {
        let _ = writeln!(out, "    {}", category.formula);
    }
    out
}
