//! Backlog charts: whether a site's backlog shrinks between a baseline and
//! a pilot range, for the whole site, one pod or one clinician.
//!
//! The page builds the metrics input from the engine's stored events and
//! items with [`metrics_input`], as the backlog API does, and requires the
//! same admin scope. It computes a report per range with
//! `switchboard_sim::metrics` and draws each headline KPI's daily series as
//! an SVG chart with both ranges shaded. Each chart has a `<title>`, a
//! `<desc>` listing every value, a visible summary with the percent change,
//! and a table of the daily values. No script is needed.

mod input;

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use chrono::NaiveDate;
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use switchboard_sdk::Site;
use switchboard_sim::local::DateRange;
use switchboard_sim::metrics::{
    Comparison, ComparisonRow, Dimension, Kpi, ReportOptions, compare, report,
};
use switchboard_sim::render::{comparison_svg, format_change};

use super::format::encode;
use super::page::{self, ConsoleResult, Frame, Section};
use super::session::Viewer;
use crate::api::blocking;
use crate::api::problem::ApiError;
use crate::app::App;
use crate::app::metrics::metrics_input;
use crate::config::TokenScope;

/// The KPIs drawn as charts, in page order.
const CHARTED: [Kpi; 4] = [
    Kpi::OpenChartsEndOfDay,
    Kpi::DaysToCloseMedian,
    Kpi::PhysicianInboxShare,
    Kpi::AfterHoursSigning,
];

/// The ranges and scope the page shows; empty fields take defaults.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct BacklogParams {
    /// First date of the baseline, `YYYY-MM-DD`.
    #[serde(default)]
    baseline_from: String,
    /// Last date of the baseline.
    #[serde(default)]
    baseline_to: String,
    /// First date of the pilot.
    #[serde(default)]
    pilot_from: String,
    /// Last date of the pilot.
    #[serde(default)]
    pilot_to: String,
    /// `pod:<name>`, `clinician:<id>`, or empty for the whole site.
    #[serde(default)]
    scope: String,
}

/// Whose records a page counts.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Scope {
    Site,
    Pod(String),
    Clinician(String),
}

impl Scope {
    /// Parses the scope field against the site's roster.
    fn parse(text: &str, roster: &Site) -> Result<Scope, ApiError> {
        if text.is_empty() || text == "site" {
            return Ok(Scope::Site);
        }
        if let Some(pod) = text.strip_prefix("pod:")
            && pods(roster).iter().any(|p| p == pod)
        {
            return Ok(Scope::Pod(pod.to_string()));
        }
        if let Some(id) = text.strip_prefix("clinician:")
            && clinicians(roster).iter().any(|c| c == id)
        {
            return Ok(Scope::Clinician(id.to_string()));
        }
        Err(ApiError::bad_request(format!(
            "scope {text:?} names no pod or clinician of site {:?}; pick one from the list",
            roster.id
        )))
    }

    fn value(&self) -> String {
        match self {
            Scope::Site => String::new(),
            Scope::Pod(pod) => format!("pod:{pod}"),
            Scope::Clinician(id) => format!("clinician:{id}"),
        }
    }

    fn describe(&self) -> String {
        match self {
            Scope::Site => "the whole site".to_string(),
            Scope::Pod(pod) => format!("pod {pod}"),
            Scope::Clinician(id) => format!("clinician {id}"),
        }
    }
}

/// Returns the pods of a roster, sorted and without repeats.
fn pods(roster: &Site) -> Vec<String> {
    let mut pods: Vec<String> = roster.people.iter().filter_map(|p| p.pod.clone()).collect();
    pods.sort();
    pods.dedup();
    pods
}

/// Roster ids of the people who hold a clinician role.
fn clinicians(roster: &Site) -> Vec<String> {
    roster
        .people
        .iter()
        .filter(|person| {
            person
                .roles
                .iter()
                .any(|role| roster.role(role).is_some_and(|r| r.clinician))
        })
        .map(|person| person.id.clone())
        .collect()
}

/// The page's content once computed.
struct Backlog {
    roster: Arc<Site>,
    scope: Scope,
    /// `None` when the site has stored nothing to count yet.
    comparison: Option<Comparison>,
}

/// `GET /console/sites/{site}/backlog`.
pub async fn page(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(site): Path<String>,
    Query(params): Query<BacklogParams>,
) -> ConsoleResult<Markup> {
    viewer.auth.require(&site, TokenScope::Admin)?;
    let backlog = {
        let (app, site, params) = (app.clone(), site.clone(), params.clone());
        blocking(move || compute(&app, &site, &params)).await?
    };

    let body = html! {
        (range_form(&site, &backlog))
        @match &backlog.comparison {
            None => p { "No chart, claim or routed item is stored for this site yet, so there is nothing to chart." },
            Some(comparison) => (report_body(comparison, &backlog.scope)),
        }
    };
    Ok(page::render(
        Frame {
            title: "Backlog",
            viewer: Some(&viewer),
            site: Some(&site),
            section: Section::Backlog,
            notice: None,
        },
        body,
    ))
}

fn compute(app: &App, site: &str, params: &BacklogParams) -> Result<Backlog, ApiError> {
    let handle = app
        .sites
        .get(site)
        .ok_or_else(|| ApiError::not_found(format!("site {site:?} is not running")))?;
    let state = handle.state();
    let roster = Arc::new(state.site.clone());
    let scope = Scope::parse(&params.scope, &roster)?;
    let all = metrics_input(
        app.engine.store().as_ref(),
        &roster,
        state.config.closing_minute(),
    )
    .map_err(ApiError::internal)?;
    let input = match &scope {
        Scope::Clinician(id) => input::only_clinician(&all, id),
        _ => all,
    };

    let Some((first, last)) = input::data_span(&input) else {
        return Ok(Backlog {
            roster,
            scope,
            comparison: None,
        });
    };
    let (baseline, pilot) = ranges(params, first, last)?;
    let options = ReportOptions {
        pod: match &scope {
            Scope::Pod(pod) => Some(pod.clone()),
            _ => None,
        },
        as_of: Some(app.engine.now()),
    };
    let comparison = compare(
        report(&input, baseline, &options),
        report(&input, pilot, &options),
    );
    Ok(Backlog {
        roster,
        scope,
        comparison: Some(comparison),
    })
}

/// Returns the requested ranges, each missing date taking its default.
fn ranges(
    params: &BacklogParams,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<(DateRange, DateRange), ApiError> {
    let (baseline, pilot) = input::default_ranges(first, last);
    let date = |field: &str, text: &str, default: NaiveDate| {
        if text.is_empty() {
            return Ok(default);
        }
        NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
            ApiError::bad_request(format!("{field} {text:?} is not a date; use YYYY-MM-DD"))
        })
    };
    let range = |name: &str, start: NaiveDate, end: NaiveDate| {
        DateRange::new(start, end).map_err(|e| ApiError::bad_request(format!("{name}: {e}")))
    };

    let baseline = range(
        "baseline",
        date("baseline_from", &params.baseline_from, baseline.start)?,
        date("baseline_to", &params.baseline_to, baseline.end)?,
    )?;
    let pilot = range(
        "pilot",
        date("pilot_from", &params.pilot_from, pilot.start)?,
        date("pilot_to", &params.pilot_to, pilot.end)?,
    )?;
    Ok((baseline, pilot))
}

fn range_form(site: &str, backlog: &Backlog) -> Markup {
    let (baseline, pilot) = match &backlog.comparison {
        Some(c) => (Some(c.baseline_range), Some(c.pilot_range)),
        None => (None, None),
    };
    let date_value = |range: Option<DateRange>, end: bool| {
        range.map_or_else(String::new, |r| {
            if end { r.end } else { r.start }.to_string()
        })
    };
    let current = backlog.scope.value();
    html! {
        form.filters method="get" action=(format!("/console/sites/{}/backlog", encode(site))) aria-label="Ranges and scope" {
            fieldset {
                legend { "Baseline range" }
                p { label for="baseline_from" { "From" } input #baseline_from type="date" name="baseline_from" value=(date_value(baseline, false)); }
                p { label for="baseline_to" { "To" } input #baseline_to type="date" name="baseline_to" value=(date_value(baseline, true)); }
            }
            fieldset {
                legend { "Pilot range" }
                p { label for="pilot_from" { "From" } input #pilot_from type="date" name="pilot_from" value=(date_value(pilot, false)); }
                p { label for="pilot_to" { "To" } input #pilot_to type="date" name="pilot_to" value=(date_value(pilot, true)); }
            }
            p {
                label for="scope" { "Count" }
                select #scope name="scope" {
                    option value="" selected[current.is_empty()] { "The whole site" }
                    @for pod in pods(&backlog.roster) {
                        @let value = format!("pod:{pod}");
                        option value=(value) selected[current == value] { "Pod " (pod) }
                    }
                    @for clinician in clinicians(&backlog.roster) {
                        @let value = format!("clinician:{clinician}");
                        option value=(value) selected[current == value] { "Clinician " (clinician) }
                    }
                }
            }
            p { button type="submit" { "Show" } }
        }
    }
}

fn report_body(comparison: &Comparison, scope: &Scope) -> Markup {
    html! {
        p {
            "Counting " (scope.describe()) ". Baseline " (comparison.baseline_range.start) " to " (comparison.baseline_range.end)
            ", pilot " (comparison.pilot_range.start) " to " (comparison.pilot_range.end)
            ". Charts near the end of a range may not be signed yet, which lowers its days to close."
        }
        @for kpi in CHARTED {
            (chart(comparison, kpi))
        }
        (summary_table(comparison))
        @if *scope == Scope::Site {
            (breakdown_table(comparison, Dimension::Pod, "pod", "Pod"))
            (breakdown_table(comparison, Dimension::Clinician, "clinician", "Clinician"))
        }
    }
}

fn chart(comparison: &Comparison, kpi: Kpi) -> Markup {
    let id = kpi.id();
    let row = comparison.row(kpi);
    let unit = kpi.unit();
    // The SVG renderer escapes every text it embeds, so it is inserted as is.
    let svg = comparison_svg(comparison, kpi);
    let mut daily = comparison.baseline.series(kpi);
    daily.extend(comparison.pilot.series(kpi));
    html! {
        section.chart aria-labelledby=(format!("{id}-heading")) {
            h2 id=(format!("{id}-heading")) { (kpi.label()) }
            figure {
                (PreEscaped(svg))
                figcaption id=(format!("{id}-summary")) {
                    @if let Some(row) = row {
                        (summary_sentence(comparison, row))
                    }
                }
            }
            details {
                summary { "Daily values of " (kpi.label().to_lowercase()) }
                table {
                    caption { (kpi.label()) " per day, in " (unit.label()) }
                    thead { tr { th scope="col" { "Date" } th scope="col" { "Value" } } }
                    tbody {
                        @for (date, value) in &daily {
                            tr { th scope="row" { (date) } td { (unit.format(*value)) } }
                        }
                    }
                }
            }
        }
    }
}

/// Writes the visible text alternative of a chart: both values, their counts and
/// the percent change with its verdict.
fn summary_sentence(comparison: &Comparison, row: &ComparisonRow) -> String {
    let unit = row.kpi.unit();
    let counts = row.kpi.counts();
    format!(
        "Baseline {} to {}: {} ({} {counts}). Pilot {} to {}: {} ({} {counts}). Change: {} ({}).",
        comparison.baseline_range.start,
        comparison.baseline_range.end,
        unit.format(row.baseline.value),
        row.baseline.n,
        comparison.pilot_range.start,
        comparison.pilot_range.end,
        unit.format(row.pilot.value),
        row.pilot.n,
        format_change(row.change_percent),
        verdict_words(row),
    )
}

fn verdict_words(row: &ComparisonRow) -> &'static str {
    use switchboard_sim::metrics::Verdict;
    match row.verdict {
        Verdict::Better => "better",
        Verdict::Worse => "worse",
        Verdict::Same => "no change",
        Verdict::Neutral => "context only",
        Verdict::NotAvailable => "not available",
    }
}

fn summary_table(comparison: &Comparison) -> Markup {
    html! {
        section aria-labelledby="all-kpis-heading" {
            h2 #all-kpis-heading { "Every KPI" }
            table.stack #all-kpis {
                caption { "Baseline against pilot, with the percent change and whether it is an improvement" }
                thead {
                    tr {
                        th scope="col" { "KPI" }
                        th scope="col" { "Baseline" }
                        th scope="col" { "Pilot" }
                        th scope="col" { "Change" }
                        th scope="col" { "Verdict" }
                    }
                }
                tbody {
                    @for row in &comparison.rows {
                        (comparison_row(row, row.kpi.label()))
                    }
                }
            }
        }
    }
}

fn comparison_row(row: &ComparisonRow, label: &str) -> Markup {
    let unit = row.kpi.unit();
    html! {
        tr {
            th scope="row" data-label="KPI" { (label) }
            td data-label="Baseline" { (unit.format(row.baseline.value)) " " span.muted { "n=" (row.baseline.n) } }
            td data-label="Pilot" { (unit.format(row.pilot.value)) " " span.muted { "n=" (row.pilot.n) } }
            td data-label="Change" { (format_change(row.change_percent)) }
            td data-label="Verdict" { (verdict_words(row)) }
        }
    }
}

fn breakdown_table(
    comparison: &Comparison,
    dimension: Dimension,
    id: &str,
    heading: &str,
) -> Markup {
    let rows: Vec<&ComparisonRow> = comparison
        .breakdowns
        .iter()
        .filter(|row| {
            CHARTED.contains(&row.kpi) && row.part.as_ref().is_some_and(|(d, _)| *d == dimension)
        })
        .collect();
    html! {
        @if !rows.is_empty() {
            section aria-labelledby=(format!("by-{id}-heading")) {
                h2 id=(format!("by-{id}-heading")) { "By " (heading.to_lowercase()) }
                table.stack id=(format!("by-{id}")) {
                    caption { "The charted KPIs per " (heading.to_lowercase()) }
                    thead {
                        tr {
                            th scope="col" { (heading) ", KPI" }
                            th scope="col" { "Baseline" }
                            th scope="col" { "Pilot" }
                            th scope="col" { "Change" }
                            th scope="col" { "Verdict" }
                        }
                    }
                    tbody {
                        @for row in rows {
                            @let key = row.part.as_ref().map_or("", |(_, key)| key.as_str());
                            (comparison_row(row, &format!("{key}: {}", row.kpi.label())))
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use switchboard_sdk::{Person, Role};

    use super::*;

    fn roster() -> Site {
        Site {
            id: "north".into(),
            roles: vec![
                Role {
                    name: "physician".into(),
                    clinician: true,
                },
                Role {
                    name: "ma".into(),
                    clinician: false,
                },
            ],
            people: vec![
                Person {
                    id: "dr-lee".into(),
                    roles: vec!["physician".into()],
                    pod: Some("blue".into()),
                    ..Person::default()
                },
                Person {
                    id: "ma-ana".into(),
                    roles: vec!["ma".into()],
                    pod: Some("blue".into()),
                    ..Person::default()
                },
            ],
            ..Site::default()
        }
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn scope_accepts_roster_pods_and_clinicians() {
        let roster = roster();

        assert_eq!(Scope::parse("", &roster).unwrap(), Scope::Site);
        assert_eq!(
            Scope::parse("pod:blue", &roster).unwrap(),
            Scope::Pod("blue".into())
        );
        assert_eq!(
            Scope::parse("clinician:dr-lee", &roster).unwrap(),
            Scope::Clinician("dr-lee".into())
        );
    }

    #[test]
    fn scope_rejects_non_clinicians_and_unknown_pods() {
        let roster = roster();

        assert!(Scope::parse("clinician:ma-ana", &roster).is_err());
        assert!(Scope::parse("pod:green", &roster).is_err());
        assert!(Scope::parse("everyone", &roster).is_err());
    }

    #[test]
    fn ranges_fill_missing_dates_with_defaults() {
        let params = BacklogParams {
            pilot_from: "2026-03-20".into(),
            ..BacklogParams::default()
        };

        let (baseline, pilot) = ranges(&params, date("2026-03-01"), date("2026-03-28")).unwrap();

        assert_eq!(baseline.start, date("2026-03-01"));
        assert_eq!(baseline.end, date("2026-03-14"));
        assert_eq!(pilot.start, date("2026-03-20"));
        assert_eq!(pilot.end, date("2026-03-28"));
    }

    #[test]
    fn ranges_reject_bad_dates() {
        let bad_text = BacklogParams {
            baseline_from: "03/01/2026".into(),
            ..BacklogParams::default()
        };
        let backwards = BacklogParams {
            pilot_from: "2026-03-28".into(),
            pilot_to: "2026-03-20".into(),
            ..BacklogParams::default()
        };

        let error = ranges(&bad_text, date("2026-03-01"), date("2026-03-28")).unwrap_err();
        assert!(error.detail.contains("03/01/2026"), "{}", error.detail);
        let error = ranges(&backwards, date("2026-03-01"), date("2026-03-28")).unwrap_err();
        assert!(error.detail.starts_with("pilot:"), "{}", error.detail);
    }
}
