//! Store throughput through the whole write path, as the host runs it for
//! every batch it receives. Connector batches are ingested into the sled
//! store, routed by the table policy running as a component, and the
//! assignments are stored. Each step is durable before the next starts.
//!
//! Two sites (`bench` and `bench-2`, the same roster and the shipped rule
//! table) each get their own thread, because a site's pending items are
//! routed by one caller at a time in the host too. Every thread ingests its
//! items in batches, calls `route_pending` after each batch, and checks that
//! every item of the batch is new and routed. Items are the mix of
//! `common::items::work_items`, built before the clock starts. The program
//! calls the engine directly rather than `App::ingest_batch`, which would
//! also wake the host's dispatcher to route the same site from a second
//! thread.
//!
//! Run with `cargo bench -p switchboard --bench ingest`. `INGEST_ITEMS`
//! (items per thread, default 100,000), `INGEST_BATCH` (items per ingest
//! call, default 500) and `INGEST_THREADS` (1 or 2, default 2) change the
//! run.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use switchboard::app::{App, AppOptions};
use switchboard_engine::IngestOptions;
use switchboard_sdk::{Batch, WorkItem};

use common::folder::{SITE_ID, install_plugin, write_site};

/// The second site's id; its file is the first site's with the id changed.
const SECOND_SITE: &str = "bench-2";

fn main() {
    if !common::begin("ingest", "cargo bench -p switchboard --bench ingest") {
        return;
    }
    let per_thread = common::env_number("INGEST_ITEMS", 100_000) as usize;
    let batch = common::env_number("INGEST_BATCH", 500) as usize;
    let threads = common::env_number("INGEST_THREADS", 2).clamp(1, 2) as usize;
    println!("{per_thread} items per thread, {threads} threads, batches of {batch}");

    let root = tempfile::tempdir().expect("a temporary folder");
    let app = open_app(root.path());
    let sites: Vec<&str> = [SITE_ID, SECOND_SITE][..threads].to_vec();
    let work: Vec<Vec<WorkItem>> = sites
        .iter()
        .map(|_| common::items::work_items(per_thread, common::now()))
        .collect();

    let cpu_before = common::cpu_seconds();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for (site, items) in sites.iter().zip(work) {
            let app = app.clone();
            scope.spawn(move || ingest_all(&app, site, items, batch));
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = common::cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);

    let total = per_thread * threads;
    println!(
        "\ningest → route (table policy, wasm) → durable: {:.0} items/s ({total} items in {elapsed:.2} s)",
        total as f64 / elapsed
    );
    if let Some(cpu) = cpu {
        println!(
            "CPU per item, all threads: {:.1} µs",
            cpu * 1e6 / total as f64
        );
    }
    println!(
        "resident memory at the end: {} KiB",
        common::rss_kib().unwrap_or(0)
    );
    println!(
        "load average at end (1, 5, 15 min): {}",
        common::load_average()
    );
    app.shutdown();
}

/// Ingests `items` into `site` in batches of `batch`, routing after each.
fn ingest_all(app: &App, site: &str, items: Vec<WorkItem>, batch: usize) {
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let chunk: Vec<WorkItem> = items.by_ref().take(batch).collect();
        let size = chunk.len();
        let report = app
            .engine
            .ingest(
                site,
                "ehr",
                Batch {
                    items: chunk,
                    ..Batch::default()
                },
                IngestOptions::default(),
            )
            .expect("the batch is stored");
        assert_eq!(report.new as usize, size, "every item of the batch is new");

        let routed = app
            .engine
            .route_pending(site)
            .expect("the pending items are routed");
        assert_eq!(routed.dead_lettered, 0, "no item fails routing");
    }
}

/// Writes the configuration folder with two sites and opens the host on
/// it, without the watcher and background pollers.
fn open_app(root: &Path) -> Arc<App> {
    install_plugin(&root.join("plugins"), "table-policy", "0.1.0", None);
    write_site(root, "");
    let sites = root.join("sites");
    let first = std::fs::read_to_string(sites.join(format!("{SITE_ID}.toml")))
        .expect("the first site file is readable");
    let second = first
        .replace(
            &format!("id = \"{SITE_ID}\""),
            &format!("id = \"{SECOND_SITE}\""),
        )
        .replace(
            &format!("config = \"{SITE_ID}/"),
            &format!("config = \"{SECOND_SITE}/"),
        );
    std::fs::create_dir_all(sites.join(SECOND_SITE)).expect("the second site folder is created");
    std::fs::write(sites.join(format!("{SECOND_SITE}.toml")), second)
        .expect("the second site file is written");
    std::fs::write(sites.join(SECOND_SITE).join("routing.toml"), "")
        .expect("the second rule table is written");
    std::fs::write(
        root.join("switchboard.toml"),
        "schema = 1\ndata_dir = \"data\"\n",
    )
    .expect("the host file is written");

    let app = App::open(
        root,
        AppOptions {
            watch: false,
            background: false,
            ..AppOptions::default()
        },
    )
    .expect("the host opens");
    app.load_sites();
    let failures = app.sites.failures();
    assert!(failures.is_empty(), "a site failed to load: {failures:?}");
    app
}
