//! Component load and instantiation costs.
//!
//! For each shipped component: the cold compile (no cache), then
//! `Runtime::load_dir` with a warm on-disk cache (read, hash, deserialize,
//! check the world, pre-link), as the host does on restart and on a reload
//! of a version it compiled before. Then a fresh instance with `configure`
//! and one call, as the host does when it activates a version or replaces
//! a recycled instance.
//!
//! Run with `cargo bench -p switchboard --bench instantiate`. `LOAD_RUNS`
//! (default 30) sets the repetitions of each timed step.

mod common;

use std::time::{Duration, Instant};

use switchboard::runtime::{ConnectorPlugin, LoadedPlugin, PolicyPlugin, Runtime, sha256_hex};
use switchboard_sdk::{RouteContext, Site};

use common::tables::plain_rules;

/// A small valid ORU^R01 for the one HL7 call.
const ORU: &str = "MSH|^~\\&|LAB|REF LAB|SWITCHBOARD|BENCH|20260310075500-0500||ORU^R01^ORU_R01|BENCH1|P|2.5.1\rPID|1||M100^^^BENCH^MR\rOBR|1|P100|F100|2345-7^Glucose^LN|||20260310070000-0500|||||||||1003000126\rOBX|1|NM|2345-7^Glucose^LN||182|mg/dL|70-99|H|||F\r";

/// A one-resource FHIR message for the one FHIR call.
const TASK: &str = r#"{"resourceType":"Task","id":"t1","meta":{"versionId":"1"},"status":"requested","intent":"order","code":{"text":"Call back"},"for":{"reference":"Patient/p1"}}"#;

fn main() {
    if !common::begin(
        "instantiate: component load from cache, instance + configure + one call",
        "cargo bench -p switchboard --bench instantiate",
    ) {
        return;
    }
    let runs = common::env_number("LOAD_RUNS", 30) as usize;
    println!("{runs} runs of each step; target: load from the on-disk cache < 5 ms");

    let cache = tempfile::tempdir().expect("a temporary folder for the cache");
    let runtime = common::runtime(Some(cache.path()));
    let (site_config, site) = common::site();

    println!(
        "\n{:<16} {:>9} {:>12} {:>12} {:>24} {:>12}",
        "component", "size KiB", "cold compile", "sha-256", "load from cache p50/p95", "target met"
    );
    let mut loaded = Vec::new();
    for name in ["table-policy", "hl7v2-connector", "fhir-connector"] {
        let dir = switchboard::bundled::guest_dir(name);
        let bytes =
            std::fs::read(dir.join("plugin.wasm")).expect("the built component is readable");

        let cold_runtime = common::runtime(None);
        let started = Instant::now();
        common::load_guest(&cold_runtime, name);
        let cold = started.elapsed();

        let started = Instant::now();
        std::hint::black_box(sha256_hex(&bytes));
        let hash = started.elapsed();

        // The first load compiles and writes the cache entry; later loads read it.
        assert!(!common::load_guest(&runtime, name).from_cache);
        let mut samples = Vec::with_capacity(runs);
        let mut last = None;
        for _ in 0..runs {
            let started = Instant::now();
            let plugin = common::load_guest(&runtime, name);
            samples.push(started.elapsed());
            assert!(
                plugin.from_cache,
                "{name} was compiled again instead of read from the cache"
            );
            last = Some(plugin);
        }
        let warm = common::percentiles(&samples);
        println!(
            "{name:<16} {:>9} {:>9.0} ms {:>9.1} ms {:>10.2} / {:>5.2} ms {:>12}",
            bytes.len() / 1024,
            cold.as_secs_f64() * 1e3,
            hash.as_secs_f64() * 1e3,
            warm.p50,
            warm.p95,
            if warm.p50 < 5.0 { "met" } else { "not met" }
        );
        loaded.push((name, last.expect("at least one run")));
    }

    println!(
        "\n{:<44} {:>12} {:>12}",
        "fresh instance + configure + one call", "p50", "p95"
    );
    let generated = plain_rules(200);
    for (name, plugin) in &loaded {
        let cases: Vec<(String, Box<dyn Fn() -> Duration>)> = match *name {
            "table-policy" => vec![
                (
                    "table-policy, default table, route 1 item".to_string(),
                    policy_case(&runtime, plugin, &site_config, &site, String::new()),
                ),
                (
                    "table-policy, 200 rules, route 1 item".to_string(),
                    policy_case(&runtime, plugin, &site_config, &site, generated.clone()),
                ),
            ],
            "hl7v2-connector" => vec![(
                "hl7v2-connector, accept 1 ORU^R01".to_string(),
                connector_case(&runtime, plugin, &site_config, ORU, "application/hl7-v2"),
            )],
            _ => vec![(
                "fhir-connector, accept 1 Task".to_string(),
                connector_case(
                    &runtime,
                    plugin,
                    &site_config,
                    TASK,
                    "application/fhir+json",
                ),
            )],
        };
        for (label, case) in cases {
            let samples: Vec<Duration> = (0..runs).map(|_| case()).collect();
            let stats = common::percentiles(&samples);
            println!("{label:<44} {:>9.2} ms {:>9.2} ms", stats.p50, stats.p95);
        }
    }
    println!(
        "\nload average at end (1, 5, 15 min): {}",
        common::load_average()
    );
}

/// Times `PolicyPlugin::new` (instantiate and configure) plus one route call.
fn policy_case(
    runtime: &Runtime,
    plugin: &LoadedPlugin,
    site_config: &switchboard::config::SiteConfig,
    site: &Site,
    table: String,
) -> Box<dyn Fn() -> Duration> {
    let (runtime, plugin, site_config, site) = (
        runtime.clone(),
        plugin.clone(),
        site_config.clone(),
        site.clone(),
    );
    let item = common::items::work_items(1, common::now()).remove(0);
    let item = item.route_item(&site, 1);
    Box::new(move || {
        let host = common::host_context(&site_config, "table-policy");
        let context = RouteContext {
            now: common::now(),
            load: Vec::new(),
        };
        let started = Instant::now();
        let policy = PolicyPlugin::new(&runtime, plugin.clone(), host, &site, &table)
            .expect("the table policy configures");
        let outcome = policy
            .route(std::slice::from_ref(&item), &context)
            .expect("the route call succeeds");
        let elapsed = started.elapsed();
        assert!(outcome[0].is_ok(), "the item was not routed: {outcome:?}");
        elapsed
    })
}

/// Times `ConnectorPlugin::new` (instantiate and configure) plus one
/// `accept` of `message`.
fn connector_case(
    runtime: &Runtime,
    plugin: &LoadedPlugin,
    site_config: &switchboard::config::SiteConfig,
    message: &'static str,
    content_type: &'static str,
) -> Box<dyn Fn() -> Duration> {
    let (runtime, plugin, site_config) = (runtime.clone(), plugin.clone(), site_config.clone());
    Box::new(move || {
        let host = common::host_context(&site_config, &plugin.manifest.name);
        let started = Instant::now();
        let connector = ConnectorPlugin::new(&runtime, plugin.clone(), host, "")
            .expect("the connector configures with an empty config");
        let batch = connector
            .accept(message.as_bytes(), content_type)
            .expect("the accept call succeeds")
            .expect("the connector maps the message");
        let elapsed = started.elapsed();
        assert_eq!(batch.items.len(), 1, "rejects: {:?}", batch.rejects);
        elapsed
    })
}
