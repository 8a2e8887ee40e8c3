//! Pull connectors: one thread per connector with `poll_seconds`, calling
//! `poll` and storing each page with its cursor in one commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use switchboard_engine::{IngestMode, IngestOptions};

use super::App;

/// Starts a poller per pull connector of every loaded site.
pub fn start(app: Arc<App>, stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    let mut threads = Vec::new();
    for site in app.sites.ids() {
        let Some(handle) = app.sites.get(&site) else {
            continue;
        };
        for connector in &handle.state().config.connectors {
            let Some(seconds) = connector.poll_seconds else {
                continue;
            };
            let (app, stop, site, name) = (
                app.clone(),
                stop.clone(),
                site.clone(),
                connector.name.clone(),
            );
            let spawned = std::thread::Builder::new()
                .name(format!("poll-{site}-{name}"))
                .spawn(move || run(&app, &stop, &site, &name, Duration::from_secs(seconds)));
            match spawned {
                Ok(thread) => threads.push(thread),
                Err(error) => {
                    tracing::error!(site = %handle.id, connector = %connector.name, %error, "failed to start a poller")
                }
            }
        }
    }
    threads
}

fn run(app: &App, stop: &AtomicBool, site: &str, name: &str, interval: Duration) {
    tracing::info!(
        site,
        connector = name,
        interval_s = interval.as_secs(),
        "poller started"
    );
    while !stop.load(Ordering::SeqCst) {
        let more = match poll_once(app, site, name) {
            Ok(more) => more,
            Err(message) => {
                app.stats.warnings.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(site, connector = name, error = %message, "poll failed; retrying at the next interval");
                false
            }
        };
        if !more {
            sleep_unless_stopped(stop, interval);
        }
    }
    tracing::info!(site, connector = name, "poller stopped");
}

/// Polls one page. Returns whether more pages are ready now.
pub fn poll_once(app: &App, site: &str, name: &str) -> Result<bool, String> {
    let handle = app
        .sites
        .get(site)
        .ok_or_else(|| format!("site {site} is not running"))?;
    let state = handle.state();
    let connector = state
        .connector(name)
        .ok_or_else(|| format!("connector {name} is not active"))?;
    let cursor = app.engine.cursor(site, name).map_err(|e| e.to_string())?;

    let page = connector
        .poll(cursor.as_deref())
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let more = page.more;
    let options = IngestOptions {
        mode: IngestMode::Live,
        cursor: page.cursor,
    };
    app.ingest_batch(site, name, page.batch, options)
        .map_err(|e| e.to_string())?;
    Ok(more)
}

fn sleep_unless_stopped(stop: &AtomicBool, total: Duration) {
    let step = Duration::from_millis(100);
    let mut slept = Duration::ZERO;
    while slept < total && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(step);
        slept += step;
    }
}
