//! API load test: the real host (store, engine, table policy as a
//! component, HTTP API) serving role worklist requests over loopback while
//! the role's pool contains 100,000 open items.
//!
//! Setup ingests the items through `App::ingest_batch` in batches of 1,000
//! and routes them through the site's policy (every item is a form, which
//! the shipped table sends to the front-desk pool). Then a pool of client
//! threads sends `GET /v1/sites/bench/worklists/roles/front-desk` (first
//! page, 50 items) on a fixed schedule, open loop: each request has a send
//! time, so a slow response does not delay the requests after it. Latency is
//! measured from the send to the last byte of the body. The server listens
//! on 127.0.0.1 only.
//!
//! Run with `cargo bench -p switchboard --bench api_load`. `API_ITEMS`
//! (default 100,000), `API_RATE` (requests per second, default 200) and
//! `API_SECONDS` (default 20) change the run.

mod common;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use switchboard::app::tokens::hash_token;
use switchboard::app::{App, AppOptions};
use switchboard_engine::model::AuditEntry;
use switchboard_engine::{IngestOptions, WorklistQuery};
use switchboard_sdk::{Batch, Category, Timestamp, WorkItem};

use common::folder::{SITE_ID, install_plugin, write_site};

/// The front desk's bearer token; only its hash is written to the host file.
const TOKEN: &str = "bench-front-desk-token";

/// Items per ingest call.
const INGEST_BATCH: usize = 1_000;

/// Client threads: enough that a slow response never delays a send.
const CLIENT_THREADS: usize = 16;

/// Requests sent before the measured run, to open connections and warm
/// the store's cache.
const WARM_UP_REQUESTS: usize = 50;

/// A request that starts this much after its send time counts as late.
const LATE_START: Duration = Duration::from_millis(5);

fn main() {
    if !common::begin(
        "api_load: role worklist requests against a pool of open items",
        "cargo bench -p switchboard --bench api_load",
    ) {
        return;
    }
    let items = common::env_number("API_ITEMS", 100_000) as usize;
    let rate = common::env_number("API_RATE", 200);
    let seconds = common::env_number("API_SECONDS", 20);

    let dir = tempfile::tempdir().expect("a temporary configuration folder");
    let app = open_app(dir.path());
    fill_pool(&app, items);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bench-api")
        .build()
        .expect("the async runtime starts");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a loopback port is free");
    let address = listener.local_addr().expect("the listener has an address");
    let router = switchboard::api::router(app.clone());
    runtime.spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            eprintln!("error: the API server stopped: {error}");
        }
    });

    let url = format!("http://{address}/v1/sites/{SITE_ID}/worklists/roles/front-desk");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    check_first_page(&agent, &url);
    for _ in 0..WARM_UP_REQUESTS {
        get(&agent, &url).expect("a warm-up request succeeds");
    }

    let total = (rate * seconds) as usize;
    println!(
        "\n{total} requests at {rate}/s for {seconds} s from {CLIENT_THREADS} client threads to {url}"
    );
    let load_before = common::load_average();
    let cpu_before = common::cpu_seconds();
    let run = send_schedule(
        &agent,
        &url,
        total,
        Duration::from_secs_f64(1.0 / rate as f64),
    );
    let load_after = common::load_average();
    let cpu_after = common::cpu_seconds();

    let all: Vec<Duration> = run.latencies.iter().map(|(_, latency)| *latency).collect();
    let stats = common::percentiles(&all);
    println!(
        "completed {} of {total} ({} failed) in {:.1} s: {:.0} requests/s",
        run.latencies.len(),
        run.failures,
        run.elapsed.as_secs_f64(),
        run.latencies.len() as f64 / run.elapsed.as_secs_f64()
    );
    println!("latency: {stats}");
    print_windows(&run.latencies);
    println!(
        "requests sent more than {} ms late: {}",
        LATE_START.as_millis(),
        run.late
    );
    println!(
        "target p99 < 20 ms: {}",
        if stats.p99 < 20.0 { "met" } else { "not met" }
    );
    println!("load average before the requests: {load_before}; after: {load_after}");
    if let (Some(before), Some(after)) = (cpu_before, cpu_after) {
        println!(
            "CPU time of this process (server and clients) during the run: {:.1} s, {:.2} ms per request, {:.0}% of one core",
            after - before,
            (after - before) * 1e3 / total as f64,
            (after - before) * 100.0 / run.elapsed.as_secs_f64()
        );
    }

    store_breakdown(
        &app,
        total.min(2_000),
        Duration::from_secs_f64(1.0 / rate as f64),
    );
    app.shutdown();
}

/// Writes the configuration folder and opens the host on it, without the
/// watcher and background pollers.
fn open_app(root: &std::path::Path) -> Arc<App> {
    install_plugin(&root.join("plugins"), "table-policy", "0.1.0", None);
    write_site(root, "");
    let host_file = format!(
        "schema = 1\ndata_dir = \"data\"\n\n[api]\nlisten = \"127.0.0.1:0\"\n\n[[tokens]]\nname = \"front-desk\"\nsha256 = \"{}\"\nsite = \"{SITE_ID}\"\nperson = \"fd-jo\"\nscopes = [\"staff\"]\n",
        hash_token(TOKEN)
    );
    std::fs::write(root.join("switchboard.toml"), host_file).expect("the host file is written");

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
    assert!(failures.is_empty(), "the site failed to load: {failures:?}");
    app
}

/// Ingests `count` open forms and routes them into the front-desk pool.
fn fill_pool(app: &App, count: usize) {
    let now = Timestamp(chrono::Utc::now().timestamp_millis());
    let started = Instant::now();
    for first in (0..count).step_by(INGEST_BATCH) {
        let items: Vec<WorkItem> = (first..(first + INGEST_BATCH).min(count))
            .map(|n| {
                let mut item = WorkItem::new(
                    format!("form/{n}"),
                    1,
                    Category::Form,
                    "Disability form",
                    now.plus_minutes(-((n % 2_880) as i64)),
                );
                item.patient = Some(format!("Patient/bench-{}", n % 20_000));
                item
            })
            .collect();
        let batch = Batch {
            items,
            ..Batch::default()
        };
        app.ingest_batch(SITE_ID, "ehr", batch, IngestOptions::default())
            .expect("the batch is stored");
        app.engine
            .route_pending(SITE_ID)
            .expect("the pending items are routed");
    }
    let elapsed = started.elapsed();

    let counts = app.engine.counts(SITE_ID).expect("the site's counts");
    let open = counts
        .roles
        .iter()
        .find(|(role, _)| role == "front-desk")
        .map_or(0, |(_, count)| count.open());
    assert_eq!(
        open as usize, count,
        "every item is open in the front-desk pool: {counts:?}"
    );
    println!(
        "\nsetup: {count} items ingested and routed in {:.1} s ({:.0} items/s)",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
}

/// Prints the latency of each 5-second window of the run, to show whether
/// slow responses cluster (after the setup's writes, or during a burst of
/// load from other processes) or spread evenly.
fn print_windows(latencies: &[(Duration, Duration)]) {
    const WINDOW: Duration = Duration::from_secs(5);
    let mut windows: Vec<Vec<Duration>> = Vec::new();
    for (offset, latency) in latencies {
        let index = (offset.as_secs_f64() / WINDOW.as_secs_f64()) as usize;
        if windows.len() <= index {
            windows.resize(index + 1, Vec::new());
        }
        windows[index].push(*latency);
    }
    for (index, window) in windows.iter().enumerate().filter(|(_, w)| !w.is_empty()) {
        println!(
            "  {:>3}-{:<3} s: {}",
            index * WINDOW.as_secs() as usize,
            (index + 1) * WINDOW.as_secs() as usize,
            common::percentiles(window)
        );
    }
}

/// Times, in process and without HTTP, the two store calls a worklist
/// request makes: the page read and the durable audit record of the read.
/// Calls are paced like the requests so the store's background work is
/// the same.
fn store_breakdown(app: &App, calls: usize, interval: Duration) {
    let query = WorklistQuery::role(SITE_ID, "front-desk");
    let mut reads = Vec::with_capacity(calls);
    let mut audits = Vec::with_capacity(calls);
    let start = Instant::now();
    for index in 0..calls {
        if let Some(wait) = (start + interval * index as u32).checked_duration_since(Instant::now())
        {
            std::thread::sleep(wait);
        }

        let started = Instant::now();
        let page = app.engine.worklist(&query).expect("the worklist is read");
        reads.push(started.elapsed());

        let entry = AuditEntry {
            at: app.engine.now(),
            actor: "fd-jo".to_string(),
            action: "worklist.read".to_string(),
            target: "front-desk".to_string(),
            site: Some(SITE_ID.to_string()),
            detail: format!("items={}", page.items.len()),
        };
        let started = Instant::now();
        app.engine
            .append_audit(entry)
            .expect("the audit entry is stored");
        audits.push(started.elapsed());
    }
    println!("\nin process, same pacing, {calls} calls each (the two store calls of one request):");
    println!(
        "  worklist page read:         {}",
        common::percentiles(&reads)
    );
    println!(
        "  durable audit record of it: {}",
        common::percentiles(&audits)
    );
}

/// Checks that the endpoint returns a full first page before timing it.
fn check_first_page(agent: &ureq::Agent, url: &str) {
    let body = get(agent, url).expect("the first worklist request succeeds");
    let page: serde_json::Value = serde_json::from_str(&body).expect("the worklist is JSON");
    let shown = page["items"].as_array().map_or(0, Vec::len);
    assert_eq!(shown, 50, "the first page holds the default 50 items");
}

fn get(agent: &ureq::Agent, url: &str) -> Result<String, ureq::Error> {
    agent
        .get(url)
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .call()?
        .body_mut()
        .read_to_string()
}

/// Measurements of the run.
struct Run {
    /// (send offset from the start, latency) of each request that succeeded.
    latencies: Vec<(Duration, Duration)>,
    failures: usize,
    late: usize,
    elapsed: Duration,
}

/// Sends `total` requests, request `i` at `start + i * interval`, from
/// [`CLIENT_THREADS`] threads.
fn send_schedule(agent: &ureq::Agent, url: &str, total: usize, interval: Duration) -> Run {
    let next = AtomicUsize::new(0);
    let latencies = Mutex::new(Vec::with_capacity(total));
    let (failures, late) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let start = Instant::now() + Duration::from_millis(20);

    std::thread::scope(|scope| {
        for _ in 0..CLIENT_THREADS {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= total {
                        break;
                    }
                    let send_at = start + interval * index as u32;
                    if let Some(wait) = send_at.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let sent = Instant::now();
                    if sent.duration_since(send_at) > LATE_START {
                        late.fetch_add(1, Ordering::Relaxed);
                    }
                    match get(agent, url) {
                        Ok(_) => latencies
                            .lock()
                            .expect("no client thread panicked")
                            .push((send_at.duration_since(start), sent.elapsed())),
                        Err(error) => {
                            if failures.fetch_add(1, Ordering::Relaxed) < 5 {
                                eprintln!("warning: request {index} failed: {error}");
                            }
                        }
                    }
                }
            });
        }
    });

    Run {
        latencies: latencies.into_inner().expect("no client thread panicked"),
        failures: failures.into_inner(),
        late: late.into_inner(),
        elapsed: start.elapsed(),
    }
}
