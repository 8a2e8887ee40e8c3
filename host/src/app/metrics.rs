//! The bridge from the store to the backlog metrics: stored chart and claim
//! events and routed items become `switchboard_sim::metrics` inputs.

use std::str::FromStr;

use switchboard_engine::{ItemId, Store};
use switchboard_sdk::{Event, Site};
use switchboard_sim::local::DateRange;
use switchboard_sim::metrics::{
    ClaimRecord, MetricsInput, RoutedItemRecord, SiteFacts, charts_from_events,
};

/// Items read per store call while building metrics.
const PAGE: usize = 5_000;

/// Builds a site's metrics input from the store. Backfilled history counts;
/// items that were never routed do not (they have no owner to count).
///
/// # Errors
///
/// A message when the store fails or the site's time zone is invalid.
pub fn metrics_input(
    store: &dyn Store,
    site: &Site,
    closing_minute: u16,
) -> Result<MetricsInput, String> {
    let facts = SiteFacts::from_site(site, closing_minute).map_err(|e| e.to_string())?;
    let events = store.events(&site.id).map_err(|e| e.to_string())?;
    let mut charts = Vec::new();
    let mut claims = Vec::new();
    for stored in &events {
        match &stored.event {
            Event::Chart(chart) => charts.push(chart.clone()),
            Event::Claim(claim) => claims.push(ClaimRecord::from(claim)),
            Event::Appointment(_) => {}
        }
    }

    let mut items = Vec::new();
    let mut after: Option<ItemId> = None;
    loop {
        let page = store
            .items(&site.id, after, PAGE)
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for item in &page {
            let Some(owner) = &item.owner else { continue };
            let clinician_role = site.role(&owner.role).is_some_and(|r| r.clinician);
            let pod = owner
                .person
                .as_deref()
                .and_then(|p| site.person(p))
                .and_then(|p| p.pod.clone());
            items.push(RoutedItemRecord {
                item: item.source.external_id.clone(),
                category: item.category,
                role: owner.role.clone(),
                clinician_role,
                person: owner.person.clone(),
                pod,
                created: item.created,
                routed: owner.routed_at,
                completed: item.closed_at,
                due: item.effective_due(),
            });
        }
        if page.len() < PAGE {
            break;
        }
    }

    Ok(MetricsInput {
        facts,
        charts: charts_from_events(&charts, site),
        claims,
        items,
    })
}

/// Parses `YYYY-MM-DD..YYYY-MM-DD` (both ends inclusive).
///
/// # Errors
///
/// A message naming the value and the expected form.
pub fn parse_range(text: &str) -> Result<DateRange, String> {
    let form = "expected FIRST..LAST such as 2026-03-01..2026-03-14";
    let (start, end) = text
        .split_once("..")
        .ok_or_else(|| format!("invalid date range {text:?}: {form}"))?;
    let parse = |s: &str| {
        chrono::NaiveDate::from_str(s.trim())
            .map_err(|e| format!("invalid date {s:?} in {text:?}: {e} ({form})"))
    };
    DateRange::new(parse(start)?, parse(end)?)
        .map_err(|e| format!("invalid date range {text:?}: {e}"))
}
