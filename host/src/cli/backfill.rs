//! `switchboard backfill --config DIR --site S --since DATE`: reads a
//! site's history through its connectors so the baseline can be measured
//! before routing starts. Backfilled items count in metrics and are never
//! routed.

use std::path::Path;
use std::process::ExitCode;

use switchboard_engine::{IngestMode, IngestOptions};

use super::output::outln;
use crate::app::{App, AppOptions};

/// Pages read per connector before giving up, so a connector that always
/// says "more" cannot loop for ever.
const MAX_PAGES: usize = 100_000;

/// Runs every connector's `backfill` from `since` (site-local midnight).
pub fn run(config: &Path, site: &str, since: &str) -> anyhow::Result<ExitCode> {
    let date: chrono::NaiveDate = since
        .parse()
        .map_err(|e| anyhow::anyhow!("--since {since:?} is not a date such as 2026-01-01: {e}"))?;
    let app = App::open(
        config,
        AppOptions {
            watch: false,
            background: false,
            ..AppOptions::default()
        },
    )?;
    app.load_sites();
    let handle = app.sites.get(site).ok_or_else(|| {
        anyhow::anyhow!(
            "site {site:?} did not load; check sites/{site}.toml ({:?})",
            app.sites.failures().get(site)
        )
    })?;
    let state = handle.state();
    let zone = state.config.zone();
    let start = switchboard_sdk::zone::from_local_in(
        zone,
        switchboard_sdk::host::Date {
            year: chrono::Datelike::year(&date),
            month: chrono::Datelike::month(&date) as u8,
            day: chrono::Datelike::day(&date) as u8,
        },
        0,
    );

    let mut failed = false;
    for connector in &state.config.connectors {
        let Some(plugin) = state.connector(&connector.name) else {
            continue;
        };
        let mut cursor: Option<String> = None;
        let (mut pages, mut items, mut events) = (0usize, 0u32, 0u32);
        loop {
            let page = match plugin.backfill(start, cursor.as_deref())? {
                Ok(page) => page,
                Err(switchboard_sdk::ConnectorError::Unsupported(message)) => {
                    outln!("{:<12} skipped: {message}", connector.name)?;
                    break;
                }
                Err(error) => {
                    eprintln!(
                        "error: connector {} failed after {pages} pages: {error}",
                        connector.name
                    );
                    failed = true;
                    break;
                }
            };
            pages += 1;
            let more = page.more && page.cursor.is_some() && pages < MAX_PAGES;
            cursor = page.cursor.clone();
            let report = app.ingest_batch(
                site,
                &connector.name,
                page.batch,
                IngestOptions {
                    mode: IngestMode::Backfill,
                    cursor: None,
                },
            )?;
            items += report.new + report.updated;
            events += report.events;
            if !more {
                outln!(
                    "{:<12} {pages} pages, {items} items, {events} events stored as history",
                    connector.name
                )?;
                break;
            }
        }
    }
    app.shutdown();
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
