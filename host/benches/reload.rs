//! Reload latency: from a change written into the watched configuration
//! folder to the `Applied` reload event, through `Sites` and `Watcher` as
//! the host runs them.
//!
//! Three kinds of change, each applied one at a time after the folder has
//! been quiet for [`QUIET`]:
//!
//! - an edit of the site's rule table (written beside and renamed over the
//!   old file, as editors save);
//! - a new plugin version whose component bytes were compiled before, so
//!   the compiled form comes from the on-disk cache;
//! - a new plugin version with new bytes (a custom section appended), so
//!   the component is compiled during the reload.
//!
//! The registry compiles new bytes as `switchboard serve` does: with Winch
//! for the reload, then with Cranelift in the background. The program also
//! reports when the Cranelift form took over, and waits for it before the
//! next change so the background compile never slows the next reload.
//!
//! Run with `cargo bench -p switchboard --bench reload`. `RELOAD_EDITS`
//! (default 20) and `RELOAD_VERSIONS` (default 10) set the repetitions.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use switchboard::sites::{ReloadEvent, ReloadOutcome, Watcher};
use table_policy::DEFAULT_TABLE;

use common::folder::{SITE_ID, install_plugin, routing_table_path, sites_with, write_site};

/// How long the folder must be quiet before the next change, so that one
/// change's reload never overlaps the next.
const QUIET: Duration = Duration::from_millis(400);

/// Maximum wait for a change to be applied before the run fails.
const APPLY_TIMEOUT: Duration = Duration::from_secs(120);

fn main() {
    if !common::begin(
        "reload: change in the watched folder to the Applied event",
        "cargo bench -p switchboard --bench reload",
    ) {
        return;
    }
    let edits = common::env_number("RELOAD_EDITS", 20) as usize;
    let versions = common::env_number("RELOAD_VERSIONS", 10) as usize;
    println!(
        "debounce {} ms; target p50 < 250 ms",
        switchboard::sites::DEBOUNCE.as_millis()
    );

    let dir = tempfile::tempdir().expect("a temporary configuration folder");
    let root = dir.path();
    let plugins = root.join("plugins");
    install_plugin(&plugins, "table-policy", "0.1.0", None);
    write_site(root, DEFAULT_TABLE);
    let sites = sites_with(root, true);
    let first = sites.reload_all();
    assert!(
        matches!(first[0].outcome, ReloadOutcome::Applied { .. }),
        "the first load failed: {first:?}"
    );
    let _watcher = Watcher::start(sites.clone()).expect("the folders can be watched");
    let events = forward_events(sites.subscribe());

    let table_path = routing_table_path(root);
    let rule_edits: Vec<Duration> = (0..edits)
        .map(|i| {
            let text = DEFAULT_TABLE.replace(
                "forms go to the front desk",
                &format!("forms go to the front desk (edit {i})"),
            );
            measure(&events, None, || {
                let partial = table_path.with_extension("toml.partial");
                std::fs::write(&partial, &text).expect("the edited table is written");
                std::fs::rename(&partial, &table_path)
                    .expect("the edited table is renamed into place");
            })
        })
        .collect();

    let cached_versions: Vec<Duration> = (1..=versions)
        .map(|v| {
            let version = format!("0.2.{v}");
            measure(&events, Some(&version), || {
                install_plugin(&plugins, "table-policy", &version, None)
            })
        })
        .collect();

    let mut optimized_after = Vec::new();
    let compiled_versions: Vec<Duration> = (1..=versions)
        .map(|v| {
            let version = format!("0.3.{v}");
            let marker = format!("build {v}");
            let started = Instant::now();
            let applied = measure(&events, Some(&version), || {
                install_plugin(&plugins, "table-policy", &version, Some(marker.as_bytes()))
            });
            wait_optimized(&sites);
            optimized_after.push(started.elapsed());
            applied
        })
        .collect();

    println!(
        "\n{:<52} {:>6} {:>10} {:>10} {:>10} {:>8}",
        "change", "count", "p50 ms", "p95 ms", "max ms", "target"
    );
    for (label, samples) in [
        ("edited rule table", &rule_edits),
        (
            "new plugin version, compiled form in the cache",
            &cached_versions,
        ),
        (
            "new plugin version, new bytes compiled on reload",
            &compiled_versions,
        ),
        (
            "  same, until its Cranelift code took over",
            &optimized_after,
        ),
    ] {
        let stats = common::percentiles(samples);
        println!(
            "{label:<52} {:>6} {:>10.1} {:>10.1} {:>10.1} {:>8}",
            samples.len(),
            stats.p50,
            stats.p95,
            stats.max,
            match (label.starts_with(' '), stats.p50 < 250.0) {
                (true, _) => "-",
                (false, true) => "met",
                (false, false) => "not met",
            }
        );
    }
    println!(
        "\nload average at end (1, 5, 15 min): {}",
        common::load_average()
    );
}

/// Waits until the site's routing policy runs Cranelift code.
///
/// # Panics
///
/// When that takes longer than [`APPLY_TIMEOUT`].
fn wait_optimized(sites: &switchboard::sites::Sites) {
    let started = Instant::now();
    loop {
        let handle = sites.get(SITE_ID).expect("the bench site is loaded");
        let state = handle.state();
        let policy = state
            .routing()
            .expect("the bench site has a routing policy");
        if !policy.loaded().is_quick() {
            return;
        }
        assert!(
            started.elapsed() < APPLY_TIMEOUT,
            "the Cranelift compile did not finish in {APPLY_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits for the folder to be quiet, makes the change, and returns the time
/// from the start of the change to the `Applied` event of the bench site.
/// With `version`, the event must activate that plugin version.
///
/// # Panics
///
/// When the reload is rejected or nothing is applied within
/// [`APPLY_TIMEOUT`].
fn measure(
    events: &mpsc::Receiver<ReloadEvent>,
    version: Option<&str>,
    change: impl FnOnce(),
) -> Duration {
    while events.recv_timeout(QUIET).is_ok() {}

    let started = Instant::now();
    change();
    loop {
        let left = APPLY_TIMEOUT.saturating_sub(started.elapsed());
        let event = events
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no reload applied within {APPLY_TIMEOUT:?}"));
        if event.site != SITE_ID {
            continue;
        }
        match &event.outcome {
            ReloadOutcome::Applied { activations } => {
                let elapsed = started.elapsed();
                if let Some(version) = version {
                    assert!(
                        activations.iter().any(|a| a.version == version),
                        "expected version {version} activated, got {activations:?}"
                    );
                }
                return elapsed;
            }
            ReloadOutcome::Rejected { reasons } => panic!("the reload was rejected: {reasons:?}"),
            _ => {}
        }
    }
}

/// Moves reload events from the registry's broadcast channel to a channel
/// the main thread can wait on with a timeout.
fn forward_events(
    mut receiver: tokio::sync::broadcast::Receiver<ReloadEvent>,
) -> mpsc::Receiver<ReloadEvent> {
    let (sender, forwarded) = mpsc::channel();
    std::thread::spawn(move || {
        loop {
            match receiver.blocking_recv() {
                Ok(event) => {
                    if sender.send(event).is_err() {
                        break;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    eprintln!(
                        "warning: {missed} reload events were dropped by the broadcast channel"
                    );
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    forwarded
}
