//! A self-contained SVG line chart of a daily series.
//!
//! The chart needs no script, font file or stylesheet. Its `<title>` and
//! `<desc>` carry the title and every value as text, so a screen reader or
//! a text-only client gets the same data as the picture. Each point also
//! has its own `<title>` tooltip. Every text embedded is XML-escaped.

use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::local::DateRange;
use crate::metrics::{Comparison, Kpi, Unit};

/// Canvas width in pixels.
const WIDTH: f64 = 800.0;
/// Canvas height in pixels.
const HEIGHT: f64 = 400.0;
/// Space for the y tick labels and axis label.
const MARGIN_LEFT: f64 = 84.0;
const MARGIN_RIGHT: f64 = 24.0;
/// Space for the title and band labels.
const MARGIN_TOP: f64 = 60.0;
/// Space for the x tick labels and axis label.
const MARGIN_BOTTOM: f64 = 72.0;
/// At most this many date labels, so they do not overlap at this width.
const MAX_X_LABELS: usize = 10;
/// Horizontal grid lines, not counting the axis.
const Y_INTERVALS: usize = 5;

/// Band fill colors, used in order.
const BAND_COLORS: &[&str] = &["#8c8c8c", "#2a9d4b", "#d98c1f", "#7a4fb5"];
/// Line colors and dash patterns, used in order; the dashes tell series
/// apart without relying on color.
const LINE_STYLES: &[(&str, &str)] = &[("#1f5fa8", "none"), ("#c0392b", "6 4"), ("#2a9d4b", "2 3")];

/// A shaded, labelled span of dates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Band {
    /// Label drawn above the band, such as `baseline`.
    pub label: String,
    /// The dates shaded.
    pub range: DateRange,
}

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend label; the legend is drawn when a chart has several series.
    pub label: String,
    /// One value per date, `None` where it is `n/a`.
    pub points: Vec<(NaiveDate, Option<f64>)>,
}

/// The input of [`series_svg`].
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesChart {
    /// Chart title.
    pub title: String,
    /// The y axis label.
    pub y_label: String,
    /// The unit that formats values; shares are drawn as percentages.
    pub unit: Unit,
    /// The lines.
    pub series: Vec<Series>,
    /// Shaded spans, such as the baseline and pilot ranges.
    pub bands: Vec<Band>,
}

/// Escapes `text` for XML content and attribute values.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// Draws the chart of one KPI's daily values in a comparison.
///
/// Two date ranges that do not overlap (baseline period, pilot period) give
/// one line across both with each range shaded and labelled. Overlapping
/// ranges, as from two simulator runs over the same dates, give two lines
/// labelled `baseline` and `pilot`.
pub fn comparison_svg(comparison: &Comparison, kpi: Kpi) -> String {
    let (baseline, pilot) = (comparison.baseline_range, comparison.pilot_range);
    let overlap = baseline.start <= pilot.end && pilot.start <= baseline.end;

    let (series, bands) = if overlap {
        let series = vec![
            Series {
                label: "baseline".to_string(),
                points: comparison.baseline.series(kpi),
            },
            Series {
                label: "pilot".to_string(),
                points: comparison.pilot.series(kpi),
            },
        ];
        (series, Vec::new())
    } else {
        let mut points = comparison.baseline.series(kpi);
        points.extend(comparison.pilot.series(kpi));
        points.sort_by_key(|(date, _)| *date);
        let bands = vec![
            Band {
                label: "baseline".to_string(),
                range: baseline,
            },
            Band {
                label: "pilot".to_string(),
                range: pilot,
            },
        ];
        let series = vec![Series {
            label: kpi.label().to_string(),
            points,
        }];
        (series, bands)
    };

    let chart = SeriesChart {
        title: format!("{}: {}", comparison.site, kpi.label()),
        y_label: kpi.unit().label().to_string(),
        unit: kpi.unit(),
        series,
        bands,
    };
    series_svg(&chart)
}

/// Geometry shared by the drawing steps.
struct Frame {
    first: NaiveDate,
    days: f64,
    y_min: f64,
    y_max: f64,
    step: f64,
}

impl Frame {
    fn left() -> f64 {
        MARGIN_LEFT
    }

    fn right() -> f64 {
        WIDTH - MARGIN_RIGHT
    }

    fn top() -> f64 {
        MARGIN_TOP
    }

    fn bottom() -> f64 {
        HEIGHT - MARGIN_BOTTOM
    }

    /// Computes the x of a date's center; each date gets one equal column.
    fn x(&self, date: NaiveDate) -> f64 {
        let offset = (date - self.first).num_days() as f64 + 0.5;
        Self::left() + offset / self.days * (Self::right() - Self::left())
    }

    fn half_day(&self) -> f64 {
        0.5 / self.days * (Self::right() - Self::left())
    }

    fn y(&self, value: f64) -> f64 {
        let span = self.y_max - self.y_min;
        Self::bottom() - (value - self.y_min) / span * (Self::bottom() - Self::top())
    }
}

/// Draws `chart` as an SVG document.
pub fn series_svg(chart: &SeriesChart) -> String {
    let frame = frame_of(chart);
    let id = slug(&chart.title);

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{id}-title {id}-desc" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r#"<title id="{id}-title">{}</title>"#,
        escape_xml(&chart.title)
    );
    let _ = writeln!(
        out,
        r#"<desc id="{id}-desc">{}</desc>"#,
        escape_xml(&description(chart))
    );
    let _ = writeln!(
        out,
        r##"<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>"##
    );

    draw_bands(&mut out, chart, &frame);
    draw_axes(&mut out, chart, &frame);
    draw_lines(&mut out, chart, &frame);

    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="28" text-anchor="middle" font-size="16" font-weight="bold">{}</text>"#,
        WIDTH / 2.0,
        escape_xml(&chart.title)
    );
    out.push_str("</svg>\n");
    out
}

fn frame_of(chart: &SeriesChart) -> Frame {
    let dates = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|(d, _)| *d))
        .chain(
            chart
                .bands
                .iter()
                .flat_map(|b| [b.range.start, b.range.end]),
        );
    let (first, last) = dates.fold(
        (None, None),
        |(lo, hi): (Option<NaiveDate>, Option<NaiveDate>), d| {
            (
                Some(lo.map_or(d, |l| l.min(d))),
                Some(hi.map_or(d, |h| h.max(d))),
            )
        },
    );
    let first = first.unwrap_or_default();
    let last = last.unwrap_or(first);
    let days = (last - first).num_days() as f64 + 1.0;

    let values: Vec<f64> = chart
        .series
        .iter()
        .flat_map(|s| &s.points)
        .filter_map(|(_, v)| v.map(|v| scaled(chart.unit, v)))
        .collect();
    let low = values.iter().copied().fold(0.0_f64, f64::min);
    let high = values.iter().copied().fold(0.0_f64, f64::max);
    let span = if high - low > 0.0 { high - low } else { 1.0 };
    let step = nice_step(span / Y_INTERVALS as f64);
    let y_min = (low / step).floor() * step;
    let mut y_max = (high / step).ceil() * step;
    if y_max <= y_min {
        y_max = y_min + step * Y_INTERVALS as f64;
    }

    Frame {
        first,
        days,
        y_min,
        y_max,
        step,
    }
}

/// Shares are drawn in percent; every other unit as is.
fn scaled(unit: Unit, value: f64) -> f64 {
    if unit == Unit::Share {
        value * 100.0
    } else {
        value
    }
}

/// Picks the smallest of 1, 2, 2.5 or 5 times a power of ten that is at least
/// `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|step| *step >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * power)
}

fn draw_bands(out: &mut String, chart: &SeriesChart, frame: &Frame) {
    for (index, band) in chart.bands.iter().enumerate() {
        let color = BAND_COLORS[index % BAND_COLORS.len()];
        let x = frame.x(band.range.start) - frame.half_day();
        let width = frame.x(band.range.end) + frame.half_day() - x;
        let _ = writeln!(
            out,
            r#"<rect x="{x:.1}" y="{:.1}" width="{width:.1}" height="{:.1}" fill="{color}" fill-opacity="0.15"/>"#,
            Frame::top(),
            Frame::bottom() - Frame::top()
        );
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#333333">{} ({} to {})</text>"##,
            x + width / 2.0,
            Frame::top() - 8.0,
            escape_xml(&band.label),
            band.range.start,
            band.range.end
        );
    }
}

fn draw_axes(out: &mut String, chart: &SeriesChart, frame: &Frame) {
    let (left, right, top, bottom) = (Frame::left(), Frame::right(), Frame::top(), Frame::bottom());

    let intervals = ((frame.y_max - frame.y_min) / frame.step).round() as usize;
    let decimals = if frame.step >= 1.0 {
        0
    } else if frame.step >= 0.1 {
        1
    } else {
        2
    };
    for i in 0..=intervals {
        let value = frame.y_min + frame.step * i as f64;
        let y = frame.y(value);
        let _ = writeln!(
            out,
            r##"<line x1="{left:.1}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}" stroke="#dddddd"/>"##
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{value:.decimals$}</text>"#,
            left - 6.0,
            y + 4.0
        );
    }

    let dates: Vec<NaiveDate> = (0..frame.days as i64)
        .map(|i| frame.first + chrono::Duration::days(i))
        .collect();
    let every = dates.len().div_ceil(MAX_X_LABELS).max(1);
    for date in dates.iter().step_by(every) {
        let x = frame.x(*date);
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{bottom:.1}" x2="{x:.1}" y2="{:.1}" stroke="#333333"/>"##,
            bottom + 4.0
        );
        let _ = writeln!(
            out,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            bottom + 18.0,
            date.format("%m-%d")
        );
    }

    let _ = writeln!(
        out,
        r##"<line x1="{left:.1}" y1="{top:.1}" x2="{left:.1}" y2="{bottom:.1}" stroke="#333333"/>"##
    );
    let _ = writeln!(
        out,
        r##"<line x1="{left:.1}" y1="{bottom:.1}" x2="{right:.1}" y2="{bottom:.1}" stroke="#333333"/>"##
    );

    let year = frame.first.format("%Y");
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">Date (site-local, {year}, month-day)</text>"#,
        (left + right) / 2.0,
        HEIGHT - 20.0
    );
    let y_label = if chart.unit == Unit::Share {
        "percent".to_string()
    } else {
        chart.y_label.clone()
    };
    let _ = writeln!(
        out,
        r#"<text x="20" y="{:.1}" text-anchor="middle" transform="rotate(-90 20 {:.1})">{}</text>"#,
        (top + bottom) / 2.0,
        (top + bottom) / 2.0,
        escape_xml(&y_label)
    );
}

/// Draws each series as line segments, breaking a line where two
/// neighboring values fall in different bands, then one dot per value, and
/// a legend when there are several series.
fn draw_lines(out: &mut String, chart: &SeriesChart, frame: &Frame) {
    let band_of = |date: NaiveDate| chart.bands.iter().position(|b| b.range.contains(date));

    for (index, series) in chart.series.iter().enumerate() {
        let (color, dash) = LINE_STYLES[index % LINE_STYLES.len()];
        let known: Vec<(NaiveDate, f64)> = series
            .points
            .iter()
            .filter_map(|(d, v)| v.map(|v| (*d, v)))
            .collect();

        let mut segments: Vec<Vec<(NaiveDate, f64)>> = Vec::new();
        for point in &known {
            match segments.last_mut() {
                Some(segment)
                    if segment
                        .last()
                        .is_some_and(|p| band_of(p.0) == band_of(point.0)) =>
                {
                    segment.push(*point)
                }
                _ => segments.push(vec![*point]),
            }
        }

        for segment in segments.iter().filter(|s| s.len() > 1) {
            let path: Vec<String> = segment
                .iter()
                .map(|(d, v)| format!("{:.1},{:.1}", frame.x(*d), frame.y(scaled(chart.unit, *v))))
                .collect();
            let _ = writeln!(
                out,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>"#,
                path.join(" ")
            );
        }

        for (date, value) in &known {
            let _ = writeln!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"><title>{}, {date}: {}</title></circle>"#,
                frame.x(*date),
                frame.y(scaled(chart.unit, *value)),
                escape_xml(&series.label),
                escape_xml(&chart.unit.format(Some(*value)))
            );
        }
    }

    if chart.series.len() > 1 {
        draw_legend(out, chart);
    }
}

/// Draws one legend entry per series, top right above the plot.
fn draw_legend(out: &mut String, chart: &SeriesChart) {
    for (index, series) in chart.series.iter().enumerate() {
        let (color, dash) = LINE_STYLES[index % LINE_STYLES.len()];
        let x = Frame::right() - 150.0;
        let y = 16.0 + 16.0 * index as f64;
        let _ = writeln!(
            out,
            r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>"#,
            x + 24.0
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            x + 30.0,
            y + 4.0,
            escape_xml(&series.label)
        );
    }
}

/// Writes the text alternative: what the chart shows and every value.
fn description(chart: &SeriesChart) -> String {
    let mut text = format!("Daily values, {}.", chart.y_label);
    for band in &chart.bands {
        let _ = write!(
            text,
            " {} {} to {}.",
            band.label, band.range.start, band.range.end
        );
    }
    for series in &chart.series {
        let values: Vec<String> = series
            .points
            .iter()
            .map(|(date, value)| format!(" {date} {}", chart.unit.format(*value)))
            .collect();
        let _ = write!(text, " {} values:{}.", series.label, values.join(";"));
    }
    text
}

/// Builds an id fragment from `text`: lowercase letters and digits, runs of
/// anything else collapsed to one `-`.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "chart".to_string()
    } else {
        format!("chart-{trimmed}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_step_rounds_up_to_readable_numbers() {
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(1.3), 2.0);
        assert_eq!(nice_step(2.2), 2.5);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(12.0), 20.0);
        assert_eq!(nice_step(0.0), 1.0);
    }

    #[test]
    fn slug_keeps_letters_and_digits() {
        assert_eq!(
            slug("North <side>: Open charts"),
            "chart-north-side-open-charts"
        );
        assert_eq!(slug("&&"), "chart");
    }
}
