//! Soak: ten million items routed at one site through the router the engine
//! uses (`PluginRouter` over `Sites`, the table policy as a component), with
//! the process's resident memory sampled as it goes. It must level off.
//!
//! Run with `cargo bench -p switchboard --bench soak`. `SOAK_ITEMS`
//! (default 10,000,000) sets the items and `SOAK_BATCH` (default 256) the
//! items per call; memory is sampled ten times.

mod common;

use std::sync::Arc;
use std::time::Instant;

use switchboard::app::{PluginRouter, ShadowLog};
use switchboard::sites::ReloadOutcome;
use switchboard_engine::Router;
use switchboard_sdk::{PersonLoad, RouteContext, RouteItem};

use common::folder::{SITE_ID, install_plugin, sites, write_site};
use common::items::work_items;

/// Items per `route` call by default: the engine's batch size. Live
/// traffic often routes fewer at a time, which makes more calls.
const DEFAULT_BATCH: u64 = 256;

/// Distinct generated items; the run cycles through them with new keys.
const DISTINCT: usize = 100_000;

fn main() {
    if !common::begin(
        "soak: route calls at one site with resident memory sampled",
        "cargo bench -p switchboard --bench soak",
    ) {
        return;
    }
    let total = common::env_number("SOAK_ITEMS", 10_000_000) as usize;
    let batch_size = common::env_number("SOAK_BATCH", DEFAULT_BATCH).max(1) as usize;
    let sample_every = (total / 10).max(batch_size);
    println!(
        "{total} items in batches of {batch_size}, shipped default table, memory sampled every {sample_every} items; an instance is replaced after {} calls",
        switchboard::config::Limits::default().recycle_after_calls
    );

    let dir = tempfile::tempdir().expect("a temporary configuration folder");
    install_plugin(&dir.path().join("plugins"), "table-policy", "0.1.0", None);
    write_site(dir.path(), "");
    let sites = sites(dir.path());
    let loaded = sites.reload_all();
    assert!(
        matches!(loaded[0].outcome, ReloadOutcome::Applied { .. }),
        "the site failed to load: {loaded:?}"
    );
    let site = sites
        .get(SITE_ID)
        .expect("the site is loaded")
        .state()
        .site
        .clone();
    let router = PluginRouter::new(sites.clone(), Arc::new(ShadowLog::default()));

    let items: Vec<RouteItem> = work_items(DISTINCT, common::now())
        .iter()
        .enumerate()
        .map(|(index, item)| item.route_item(&site, index as u64))
        .collect();
    let mut context = RouteContext {
        now: common::now(),
        load: site
            .people
            .iter()
            .map(|person| PersonLoad {
                person: person.id.clone(),
                open_items: 0,
            })
            .collect(),
    };

    println!(
        "\n{:>12} {:>10} {:>10} {:>14} {:>10}",
        "items", "RSS MiB", "seconds", "items/s", "load 1m"
    );
    print_sample(0, 0.0, 0.0);
    let started = Instant::now();
    let mut interval_start = Instant::now();
    let mut routed = 0usize;
    let mut failed = 0usize;
    let mut next_key = 0u64;
    let mut batch: Vec<RouteItem> = Vec::with_capacity(batch_size);
    let mut samples = Vec::new();
    let (mut next_sample, mut last_sample) = (sample_every, 0);
    while routed + failed < total {
        batch.clear();
        for _ in 0..batch_size.min(total - routed - failed) {
            let mut item = items[next_key as usize % DISTINCT].clone();
            item.key = next_key;
            next_key += 1;
            batch.push(item);
        }
        // Load grows with the work handed out, as it does in a clinic day.
        for load in &mut context.load {
            load.open_items = (next_key / 4096) as u32 % 200;
        }

        let outcome = router
            .route(&site, &batch, &context)
            .unwrap_or_else(|error| panic!("a route call failed: {}", error.message));
        for result in &outcome.results {
            if result.is_ok() {
                routed += 1;
            } else {
                failed += 1;
            }
        }

        let done = routed + failed;
        if done >= next_sample || done == total {
            let rate = (done - last_sample) as f64 / interval_start.elapsed().as_secs_f64();
            samples.push(print_sample(done, started.elapsed().as_secs_f64(), rate));
            next_sample += sample_every;
            last_sample = done;
            interval_start = Instant::now();
        }
    }

    let state = sites.get(SITE_ID).expect("the site is loaded").state();
    let (calls, failures, instances) = state.routing().expect("a routing policy").stats.snapshot();
    println!(
        "\n{routed} items routed, {failed} not routed; {calls} route calls, {failures} failed calls, {instances} instances created"
    );
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        let peak = samples.iter().copied().max().unwrap_or(0);
        println!(
            "RSS after the first sample {:.1} MiB, at the end {:.1} MiB, peak {:.1} MiB: change {:+.1} MiB",
            *first as f64 / 1024.0,
            *last as f64 / 1024.0,
            peak as f64 / 1024.0,
            (*last as f64 - *first as f64) / 1024.0
        );
    }
    println!(
        "total {:.1} s; load average at end (1, 5, 15 min): {}",
        started.elapsed().as_secs_f64(),
        common::load_average()
    );
}

/// Prints one memory sample and returns the RSS in KiB.
fn print_sample(items: usize, seconds: f64, rate: f64) -> u64 {
    let rss = common::rss_kib().unwrap_or(0);
    let load = common::load_one().map_or("?".to_string(), |l| format!("{l:.2}"));
    println!(
        "{items:>12} {:>10.1} {seconds:>10.1} {rate:>14.0} {load:>10}",
        rss as f64 / 1024.0
    );
    rss
}
