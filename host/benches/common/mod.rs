//! Helpers shared by the benchmark programs: the machine report, timing
//! statistics, a site roster, generated work items and rule tables, and
//! plugin loading.
//!
//! Every benchmark prints how it was run (date, CPU, cores, load average)
//! beside its numbers, because the development machine is shared and a
//! number without its load is not comparable.

// Each benchmark program compiles this module and uses only part of it.
#![allow(dead_code)]

pub mod folder;
pub mod items;
pub mod tables;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use switchboard::config::SiteConfig;
use switchboard::runtime::{
    HostContext, LoadedPlugin, ManualClock, MemoryKv, Runtime, RuntimeOptions,
};
use switchboard_sdk::{Site, Timestamp};

/// The time every benchmark routes at: Tuesday 2026-03-10, 09:00 in Chicago.
pub const NOW: &str = "2026-03-10T14:00:00Z";

/// [`NOW`] as a timestamp.
pub fn now() -> Timestamp {
    Timestamp::parse_rfc3339(NOW).expect("NOW is valid RFC 3339")
}

/// Starts a benchmark: prints its name, the command, the date, the CPU and
/// the load average, and returns true. Returns false, after printing why,
/// when the program was not started by `cargo bench`, which passes
/// `--bench`. `cargo test --benches` (and `--all-targets`) runs bench
/// programs without it, and a full benchmark in a debug build would take
/// far too long there.
pub fn begin(name: &str, command: &str) -> bool {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("{name}: skipped; run it with `{command}` (or pass --bench)");
        return false;
    }
    println!("== {name}");
    println!("command: {command}");
    println!("date: {}", chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"));
    println!(
        "machine: {}, {} cores visible, build profile {}",
        cpu_model(),
        cores(),
        if cfg!(debug_assertions) {
            "debug (numbers are not meaningful)"
        } else {
            "release"
        }
    );
    println!("load average at start (1, 5, 15 min): {}", load_average());
    true
}

/// Returns the 1, 5 and 15 minute load averages from `/proc/loadavg`, or
/// `unknown`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_string())
}

/// Returns the 1-minute load average, or `None` off Linux.
pub fn load_one() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Returns the process's resident set size in KiB (`VmRSS` of
/// `/proc/self/status`).
pub fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Returns the CPU time this process has used so far (user plus system, all threads),
/// from `/proc/self/stat`, assuming the usual 100 clock ticks per second.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in brackets and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// Reads a count from the environment, such as `SOAK_ITEMS`; `default`
/// when the variable is not set. Underscores are allowed as separators.
///
/// # Panics
///
/// When the variable is set but is not a whole number of at least 1,
/// naming it.
pub fn env_number(name: &str, default: u64) -> u64 {
    let Ok(text) = std::env::var(name) else {
        return default;
    };
    match text.trim().replace('_', "").parse::<u64>() {
        Ok(value) if value >= 1 => value,
        _ => panic!(
            "{name}={text:?} is invalid: expected a whole number of at least 1, such as {name}=1000"
        ),
    }
}

/// Latency percentiles of a sample, in milliseconds.
#[derive(Clone, Copy, Debug)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest value.
    pub max: f64,
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.p50, self.p95, self.p99, self.max
        )
    }
}

/// Nearest-rank percentiles of `samples`.
///
/// # Panics
///
/// When `samples` is empty.
pub fn percentiles(samples: &[Duration]) -> Percentiles {
    assert!(!samples.is_empty(), "percentiles of an empty sample");
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let index = ((p / 100.0) * ms.len() as f64).ceil() as usize;
        ms[index.clamp(1, ms.len()) - 1]
    };
    Percentiles {
        p50: rank(50.0),
        p95: rank(95.0),
        p99: rank(99.0),
        max: ms[ms.len() - 1],
    }
}

/// Returns the median of `values`.
///
/// # Panics
///
/// When `values` is empty.
pub fn median(values: &[f64]) -> f64 {
    assert!(!values.is_empty(), "median of an empty sample");
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// Parses the benchmark site's file as the host parses it.
pub fn site() -> (SiteConfig, Site) {
    SiteConfig::parse(Path::new("sites/bench.toml"), items::SITE_TOML)
        .expect("the benchmark site file is valid")
}

/// Builds a runtime with default limits and, when given, a
/// compiled-component cache folder.
pub fn runtime(cache_dir: Option<&Path>) -> Runtime {
    runtime_with(cache_dir, false)
}

/// Builds a runtime as [`runtime`] does, compiling new bytes with Winch
/// first when `quick_compile` is set, as `switchboard serve` does.
pub fn runtime_with(cache_dir: Option<&Path>, quick_compile: bool) -> Runtime {
    Runtime::new(RuntimeOptions {
        cache_dir: cache_dir.map(Path::to_path_buf),
        limits: Default::default(),
        quick_compile,
    })
    .expect("the WebAssembly runtime starts")
}

/// Loads a component built by `host/build.rs`, such as `table-policy`.
pub fn load_guest(runtime: &Runtime, name: &str) -> LoadedPlugin {
    runtime
        .load_dir(&switchboard::bundled::guest_dir(name))
        .unwrap_or_else(|error| panic!("failed to load the built component {name}: {error}"))
}

/// Builds a host context for `plugin` at the benchmark site, with the clock
/// stopped at [`NOW`] and an in-memory key-value store.
pub fn host_context(site: &SiteConfig, plugin: &str) -> HostContext {
    HostContext {
        site: site.id.clone(),
        plugin: plugin.to_string(),
        zone: site.zone(),
        clock: Arc::new(ManualClock::new(now())),
        kv: Arc::new(MemoryKv::default()),
        egress: None,
    }
}
