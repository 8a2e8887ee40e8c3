//! Rendering tests on a two-day comparison built by hand.

use chrono::NaiveDate;
use switchboard_sdk::Timestamp;
use switchboard_sdk::site::parse_shifts;

use super::*;
use crate::local::DateRange;
use crate::metrics::{ChartRecord, Kpi, MetricsInput, ReportOptions, SiteFacts, compare, report};

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn date(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
}

/// Baseline Monday 03-09: one chart signed after 2 days. Pilot Tuesday
/// 03-10: one chart signed after 12 hours. The site id contains markup
/// characters to prove escaping.
fn comparison() -> crate::metrics::Comparison {
    let hours = parse_shifts(&["mon-fri 08:00-17:00".to_string()]).unwrap();
    let facts = SiteFacts::new("north<&>\"side\"", "America/Chicago", 18 * 60, hours).unwrap();
    let chart = |id: &str, ended: &str, signed: &str| ChartRecord {
        encounter: id.to_string(),
        clinician: "dr-a".to_string(),
        pod: None,
        visit_ended: at(ended),
        signed: Some(at(signed)),
    };
    let input = MetricsInput {
        facts,
        charts: vec![
            chart("b", "2026-03-09T15:00:00Z", "2026-03-11T15:00:00Z"),
            chart("p", "2026-03-10T15:00:00Z", "2026-03-11T03:00:00Z"),
        ],
        claims: Vec::new(),
        items: Vec::new(),
    };
    let options = ReportOptions::default();
    let baseline = report(&input, DateRange::day(date(9)), &options);
    let pilot = report(&input, DateRange::day(date(10)), &options);
    compare(baseline, pilot)
}

#[test]
fn table_shows_change_and_verdict() {
    let text = comparison_table(&comparison());

    // Days to close: 2.00 → 0.50 days, (0.5 − 2) / 2 = −75 %.
    let line = text
        .lines()
        .find(|l| l.starts_with("Days to close (median)"))
        .unwrap();
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        cells[cells.len() - 5..],
        ["2.00", "0.50", "-75.0", "%", "better"]
    );
}

#[test]
fn table_prints_not_available() {
    let text = comparison_table(&comparison());

    // No claims in either range.
    let line = text
        .lines()
        .find(|l| l.starts_with("Days to claim (median)"))
        .unwrap();
    assert_eq!(line.matches("n/a").count(), 4);
}

#[test]
fn csv_has_header_kpis_and_days() {
    let csv = comparison_csv(&comparison());

    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], COMPARISON_HEADER.join(","));
    // 1 header + 11 KPI rows + 11 KPIs × 2 dates.
    assert_eq!(lines.len(), 1 + Kpi::ALL.len() + Kpi::ALL.len() * 2);
    assert!(
        lines.contains(&"kpi,days-to-close-median,,days,2.000000,1,0.500000,1,-75.000000,better")
    );
    assert!(lines.contains(&"daily,days-to-close-median,2026-03-10,days,,,0.500000,1,,"));
}

#[test]
fn csv_quotes_special_fields() {
    assert_eq!(escape_field("plain"), "plain");
    assert_eq!(escape_field("a,b"), "\"a,b\"");
    assert_eq!(escape_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(escape_field("two\nlines"), "\"two\nlines\"");
}

#[test]
fn report_csv_lists_breakdowns_and_ages() {
    let comparison = comparison();

    let csv = report_csv(&comparison.baseline);

    assert!(csv.starts_with(&REPORT_HEADER.join(",")));
    assert!(csv.contains("breakdown,days-to-close-median,clinician,dr-a,,days,2.000000,1"));
    assert!(csv.contains("open-charts,charts-still-open,clinician-age,all/0-1,,count,1,1"));
}

#[test]
fn svg_has_text_alternative_and_bands() {
    let svg = comparison_svg(&comparison(), Kpi::DaysToCloseMedian);

    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains("<title id=\"chart-north-side-days-to-close-median-title\">north&lt;&amp;&gt;&quot;side&quot;: Days to close (median)</title>"));
    assert!(
        svg.contains("Days to close (median) values: 2026-03-09 2.00; 2026-03-10 0.50."),
        "{svg}"
    );
    assert!(svg.contains(">baseline (2026-03-09 to 2026-03-09)</text>"));
    assert!(svg.contains(">pilot (2026-03-10 to 2026-03-10)</text>"));
    assert!(svg.contains("Date (site-local, 2026, month-day)"));
    assert!(!svg.contains("<script"));
    assert!(!svg.contains("north<"));
}

#[test]
fn svg_breaks_line_between_bands() {
    // One point per band: no segment joins them, so no polyline is drawn.
    let svg = comparison_svg(&comparison(), Kpi::DaysToCloseMedian);

    assert_eq!(svg.matches("<polyline").count(), 0);
    assert_eq!(svg.matches("<circle").count(), 2);
}

#[test]
fn svg_draws_share_in_percent() {
    let chart = SeriesChart {
        title: "Share".into(),
        y_label: "percent".into(),
        unit: crate::metrics::Unit::Share,
        series: vec![Series {
            label: "share".into(),
            points: vec![
                (date(9), Some(0.25)),
                (date(10), None),
                (date(11), Some(0.5)),
            ],
        }],
        bands: Vec::new(),
    };

    let svg = series_svg(&chart);

    // Two known points in no band join into one line; the gap is skipped.
    assert_eq!(svg.matches("<polyline").count(), 1);
    assert!(svg.contains("<title>share, 2026-03-09: 25.0 %</title>"));
    assert!(svg.contains("2026-03-10 n/a"));
    // Values up to 50 % with steps of 10 give a top tick of 50.
    assert!(svg.contains(">50</text>"));
}

#[test]
fn svg_draws_two_runs_as_two_lines() {
    // Two runs over the same date: two series, a legend and no bands.
    let comparison = comparison();
    let same_dates = compare(comparison.baseline.clone(), comparison.baseline.clone());

    let svg = comparison_svg(&same_dates, Kpi::DaysToCloseMedian);

    assert_eq!(svg.matches("<circle").count(), 2);
    assert!(svg.contains("<title>baseline, 2026-03-09: 2.00</title>"));
    assert!(svg.contains("<title>pilot, 2026-03-09: 2.00</title>"));
    assert!(svg.contains(">pilot</text>"));
    assert!(!svg.contains("fill-opacity"));
}

#[test]
fn csv_merges_two_runs_by_date() {
    // Two runs over the same date: one daily row per KPI, both filled.
    let comparison = comparison();
    let same_dates = compare(comparison.baseline.clone(), comparison.baseline.clone());

    let csv = comparison_csv(&same_dates);

    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1 + Kpi::ALL.len() * 2);
    assert!(lines.contains(&"daily,days-to-close-median,2026-03-09,days,2.000000,1,2.000000,1,,"));
}
