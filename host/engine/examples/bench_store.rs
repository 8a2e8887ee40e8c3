//! Measures the engine on a real sled store:
//!
//! 1. items/s for ingest → route (a trivial native router) → durable, with
//!    batches from several threads;
//! 2. latency (p50, p99) of acknowledging a single-item batch;
//! 3. the first worklist page of one role holding 100,000 open items;
//! 4. disk use and resident memory once 1,000,000 items are stored.
//!
//! Run with `cargo run --release -p switchboard-engine --example bench_store`.
//! Options: `--items N` (total stored items, default 1000000), `--batch N`
//! (items per ingest call, default 500), `--threads N` (default 2),
//! `--dir PATH` (data folder, default a temporary one).

/// The host's allocator, so the numbers match what `switchboard` does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_engine::{
    Engine, IngestOptions, PolicyRef, RouteOutcome, Router, RouterError, SledStore, WorklistQuery,
};
use switchboard_sdk::site::parse_site;
use switchboard_sdk::{
    Assignment, Batch, Category, Priority, RouteContext, RouteItem, Site, Timestamp, WorkItem,
};

/// Sends everything to the `ma` pool.
struct PoolRouter;

impl Router for PoolRouter {
    fn route(
        &self,
        _: &Site,
        items: &[RouteItem],
        _: &RouteContext,
    ) -> Result<RouteOutcome, RouterError> {
        let assignment = Assignment {
            role: "ma".into(),
            person: None,
            priority: Priority::Routine,
            due: None,
            reason: "rule bench: everything to the MA pool".into(),
            rule: "bench".into(),
        };
        Ok(RouteOutcome {
            policy: PolicyRef {
                name: "bench".into(),
                version: "0.0.0".into(),
                sha256: "0".repeat(64),
            },
            results: vec![Ok(assignment); items.len()],
        })
    }
}

struct Options {
    items: usize,
    batch: usize,
    threads: usize,
    dir: Option<String>,
}

fn parse_options() -> Options {
    let mut options = Options {
        items: 1_000_000,
        batch: 500,
        threads: 2,
        dir: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair
            .get(1)
            .unwrap_or_else(|| panic!("option {} needs a value", pair[0]));
        let number = || {
            value
                .parse::<usize>()
                .unwrap_or_else(|_| panic!("{} needs a number, got {value}", pair[0]))
        };
        match pair[0].as_str() {
            "--items" => options.items = number(),
            "--batch" => options.batch = number(),
            "--threads" => options.threads = number(),
            "--dir" => options.dir = Some(value.clone()),
            other => panic!("unknown option {other}; use --items, --batch, --threads or --dir"),
        }
    }
    options
}

fn site(id: &str) -> Site {
    let text = format!(
        "id = \"{id}\"\ntime_zone = \"America/Chicago\"\n[[roles]]\nname = \"ma\"\n[[people]]\nid = \"ma-1\"\nroles = [\"ma\"]\n"
    );
    parse_site(&text).expect("bench roster parses")
}

/// Builds a work item the size of a connector's refill request: a title, a
/// patient, an ordering provider, two attributes and a due time.
fn work_item(prefix: &str, n: usize) -> WorkItem {
    let created = Timestamp(1_773_068_400_000 + n as i64);
    let mut item = WorkItem::new(
        format!("{prefix}-{n}"),
        1,
        Category::Refill,
        "lisinopril 10 mg tablet",
        created,
    );
    item.patient = Some(format!("Patient/{}", n % 5000));
    item.ordering = Some("Practitioner/1".into());
    item.due = Some(created.plus_minutes(24 * 60 + (n % 600) as i64));
    item.attributes = vec![
        switchboard_sdk::Attribute {
            key: "pharmacy".into(),
            value: "NCPDP-1234567".into(),
        },
        switchboard_sdk::Attribute {
            key: "rxnorm".into(),
            value: "314076".into(),
        },
    ];
    item
}

fn batch(prefix: &str, start: usize, count: usize) -> Batch {
    Batch {
        items: (start..start + count)
            .map(|n| work_item(prefix, n))
            .collect(),
        ..Batch::default()
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index]
}

fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU time this process has used, user and system, in milliseconds.
fn cpu_millis() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name in parentheses may contain spaces, so fields are
    // counted after it: field 3 (state) comes first, utime is field 14 and
    // stime field 15 (see proc(5)).
    let after_name = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |index: usize| {
        fields
            .get(index)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let ticks = field(11) + field(12);
    // NOTE: assumes 100 clock ticks per second (`getconf CLK_TCK`), the
    // value on this machine and on common Linux builds.
    ticks * 10
}

fn folder_bytes(path: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
        let meta = entry.metadata();
        match meta {
            Ok(m) if m.is_dir() => total += folder_bytes(&entry.path()),
            Ok(m) => total += m.len(),
            Err(_) => {}
        }
    }
    total
}

/// Ingests and routes `count` items per thread, each thread on its own site.
fn throughput(engine: &Engine, options: &Options, round: usize, count: usize) -> f64 {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..options.threads {
            let engine = engine.clone();
            scope.spawn(move || {
                let site = format!("bench-{thread}");
                let prefix = format!("r{round}");
                let mut done = 0;
                while done < count {
                    let size = options.batch.min(count - done);
                    let report = engine
                        .ingest(
                            &site,
                            "feed",
                            batch(&prefix, done, size),
                            IngestOptions::default(),
                        )
                        .expect("ingest");
                    assert_eq!(report.new as usize, size);
                    let routed = engine.route_pending(&site).expect("route");
                    assert_eq!(routed.dead_lettered, 0);
                    done += size;
                }
            });
        }
    });
    (count * options.threads) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let options = parse_options();
    let temporary = tempfile_dir();
    let dir = options
        .dir
        .clone()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| temporary.clone());
    let store = Arc::new(SledStore::open(&dir).expect("store opens"));
    let engine = Engine::new(store.clone(), Arc::new(PoolRouter));
    for thread in 0..options.threads.max(1) {
        engine.set_site(site(&format!("bench-{thread}")));
    }
    engine.set_site(site("latency"));
    println!(
        "data folder {}, batch {} items, {} threads",
        dir.display(),
        options.batch,
        options.threads
    );

    // 1. Throughput, until one site has 100,000 open items for step 3.
    let per_thread = 100_000;
    let cpu_before = cpu_millis();
    let rate = throughput(&engine, &options, 0, per_thread);
    let items = per_thread * options.threads;
    let cpu_per_item = (cpu_millis() - cpu_before) as f64 * 1000.0 / items as f64;
    println!(
        "ingest → route → durable: {rate:.0} items/s ({items} items, {cpu_per_item:.1} µs CPU per item)"
    );

    // 2. Single-item acknowledgement latency.
    let mut latencies = Vec::with_capacity(2000);
    for n in 0..2000 {
        let started = Instant::now();
        engine
            .ingest(
                "latency",
                "feed",
                batch("single", n, 1),
                IngestOptions::default(),
            )
            .expect("ingest");
        latencies.push(started.elapsed());
    }
    latencies.sort();
    println!(
        "single-item ingest (durable ack): p50 {:?}, p99 {:?}, max {:?}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
    engine.route_pending("latency").expect("route");

    // 3. Worklist of one role with 100,000 open items.
    let counts = engine.counts("bench-0").expect("counts");
    let open: u32 = counts.roles.iter().map(|(_, c)| c.open()).sum();
    for limit in [50, 200] {
        let mut query = WorklistQuery::role("bench-0", "ma");
        query.limit = limit;
        let mut times = Vec::with_capacity(200);
        for _ in 0..200 {
            let started = Instant::now();
            let page = engine.worklist(&query).expect("worklist");
            times.push(started.elapsed());
            assert_eq!(page.items.len(), limit);
        }
        times.sort();
        println!(
            "worklist first page of {limit} from {open} open items: p50 {:?}, p99 {:?}",
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
    let started = Instant::now();
    engine.counts("bench-0").expect("counts");
    println!(
        "counts of a site with {open} open items: {:?}",
        started.elapsed()
    );

    // 4. Fill to the requested total and measure.
    let stored = per_thread * options.threads + 2000;
    let remaining = options.items.saturating_sub(stored);
    if remaining > 0 {
        let per_thread = remaining.div_ceil(options.threads);
        let rate = throughput(&engine, &options, 1, per_thread);
        println!(
            "fill to {} items: {rate:.0} items/s",
            stored + per_thread * options.threads
        );
    }
    let total = stored + remaining.div_ceil(options.threads) * options.threads;
    println!(
        "at {total} stored items: sled size_on_disk {:.0} MiB, folder {:.0} MiB, RSS {} MiB (peak {} MiB)",
        store.size_on_disk().unwrap_or(0) as f64 / 1048576.0,
        folder_bytes(&dir) as f64 / 1048576.0,
        rss_kib("VmRSS:") / 1024,
        rss_kib("VmHWM:") / 1024
    );
    let stats = switchboard_engine::Store::stats(store.as_ref());
    println!("{} commits in {} flushes", stats.commits, stats.flushes);

    drop(engine);
    drop(store);
    if options.dir.is_none() {
        std::fs::remove_dir_all(&temporary).ok();
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("switchboard-bench-{}", std::process::id()));
    std::fs::create_dir_all(&path).expect("temporary folder");
    path
}
