//! Routing cost per item through the table policy as a WebAssembly
//! component, and the same rules compiled natively.
//!
//! Each measured item starts as a JSON line. It is read as
//! `switchboard policy route` reads it (`jsonl::parse_route_line`), its
//! provider references are resolved against the roster, and it is routed in
//! batches of 256 (the engine's batch size). For the component each line is
//! packed straight into the batch (`RouteLine::pack_route_item`) and routed
//! with `PolicyPlugin::route_batch`, as the CLI does. The native build gets
//! `RouteItem`s through the `Policy` trait with the SDK's `MockHost`
//! installed. The run also measures the native path's input step alone
//! (line to `RouteItem`s), so the routing share can be read off, and the
//! cost of one CEL condition against its plain twin.
//!
//! Run with `cargo bench -p switchboard --bench route`. `ROUTE_ITEMS`
//! (default 100,000) sets the items per round and `ROUTE_ROUNDS` (default
//! 5) the measured rounds. The median round is reported, or the fastest
//! with `ROUTE_STAT=best`. The fastest round leaves out slowdowns from other
//! work during a run, but not a machine that is slower for the whole run.
//! `ROUTE_SKIP_CEL=1` stops after the two tables, so that a profile of the
//! run covers only the main path.

mod common;

use std::hint::black_box;
use std::time::Instant;

use switchboard::config::SiteConfig;
use switchboard::runtime::{LoadedPlugin, PolicyPlugin, Runtime};
use switchboard_sdk::jsonl::parse_route_line;
use switchboard_sdk::packed::Packer;
use switchboard_sdk::testing::MockHost;
use switchboard_sdk::{Assignment, PersonLoad, Policy, RouteContext, RouteError, RouteItem, Site};
use table_policy::TablePolicy;

use common::items::{json_lines, work_items};
use common::tables::{cel_rules, plain_rules, plain_twin_rules};

/// Items per `route` call, as the engine sends them.
const BATCH: usize = 256;

type Outcomes = Vec<Result<Assignment, RouteError>>;

/// A routing function under measurement: reads a batch of lines, whose
/// first item is numbered `first_key`, routes them and returns how many
/// items got an owner.
type RouteFn<'a> = Box<dyn FnMut(usize, &[String]) -> usize + 'a>;

fn main() {
    if !common::begin(
        "route: table policy through wasm and natively",
        "cargo bench -p switchboard --bench route",
    ) {
        return;
    }
    let items_per_round = common::env_number("ROUTE_ITEMS", 100_000) as usize;
    let rounds = common::env_number("ROUTE_ROUNDS", 5) as usize;
    let best = std::env::var("ROUTE_STAT").is_ok_and(|stat| stat == "best");
    println!(
        "{items_per_round} items per round, {rounds} measured rounds after one warm-up round, batches of {BATCH}; {} round shown",
        if best { "fastest" } else { "median" }
    );

    let (site_config, site) = common::site();
    let lines = json_lines(&work_items(items_per_round, common::now()));
    let context = route_context(&site);
    let runtime = common::runtime(None);
    let wasm = Wasm {
        runtime: &runtime,
        loaded: common::load_guest(&runtime, "table-policy"),
        site_config: &site_config,
        site: &site,
    };
    let _mock = MockHost::new()
        .at(common::now())
        .time_zone(&site.time_zone)
        .install();
    let bench = Bench {
        site: &site,
        lines: &lines,
        context: &context,
        rounds,
        best,
    };

    println!(
        "\n{:<34} {:>12} {:>14} {:>7} {:>12} {:>14} {:>14} {:>14}",
        "table",
        "wasm ns/item",
        "native ns/item",
        "ratio",
        "parse ns",
        "wasm route ns",
        "native route ns",
        "wasm routes/s"
    );
    let default_table = String::new();
    let generated = plain_rules(200);
    for (label, table) in [
        ("shipped default table (13 rules)", &default_table),
        ("generated table, 200 plain rules", &generated),
    ] {
        let policy = wasm_policy(&wasm, table);
        let mut native = native_policy(&site, table);
        check_same_outcomes(&bench, &policy, &mut native);

        let [parse_ns, wasm_ns, native_ns] = bench.ns_per_item([
            bench.parse_only(),
            bench.through_wasm(&policy),
            bench.natively(&mut native),
        ]);
        println!(
            "{label:<34} {wasm_ns:>12.0} {native_ns:>14.0} {:>7.2} {parse_ns:>12.0} {:>14.0} {:>14.0} {:>14.0}",
            wasm_ns / native_ns,
            wasm_ns - parse_ns,
            native_ns - parse_ns,
            1e9 / wasm_ns
        );
    }

    if std::env::var_os("ROUTE_SKIP_CEL").is_some() {
        return;
    }
    println!(
        "\nCEL conditions: n rules that every item evaluates and none matches, then the catch-all"
    );
    println!(
        "{:<10} {:>16} {:>16} {:>18} {:>18}",
        "n rules", "wasm CEL ns", "wasm plain ns", "native CEL ns", "native plain ns"
    );
    let mut rows = Vec::new();
    for count in [1, 10] {
        let (cel, plain) = (cel_rules(count), plain_twin_rules(count));
        let wasm_cel = wasm_policy(&wasm, &cel);
        let wasm_plain = wasm_policy(&wasm, &plain);
        let mut native_cel = native_policy(&site, &cel);
        let mut native_plain = native_policy(&site, &plain);

        let row = bench.ns_per_item([
            bench.through_wasm(&wasm_cel),
            bench.through_wasm(&wasm_plain),
            bench.natively(&mut native_cel),
            bench.natively(&mut native_plain),
        ]);
        println!(
            "{count:<10} {:>16.0} {:>16.0} {:>18.0} {:>18.0}",
            row[0], row[1], row[2], row[3]
        );
        rows.push(row);
    }
    let (one, ten) = (rows[0], rows[1]);
    println!(
        "first CEL condition of an item, over its plain twin: wasm {:.0} ns, native {:.0} ns",
        one[0] - one[1],
        one[2] - one[3]
    );
    println!(
        "each further CEL condition, over its plain twin: wasm {:.0} ns, native {:.0} ns",
        ((ten[0] - ten[1]) - (one[0] - one[1])) / 9.0,
        ((ten[2] - ten[3]) - (one[2] - one[3])) / 9.0
    );
    println!(
        "\nload average at end (1, 5, 15 min): {}",
        common::load_average()
    );
}

/// The inputs every measurement shares.
struct Bench<'a> {
    site: &'a Site,
    lines: &'a [String],
    context: &'a RouteContext,
    rounds: usize,
    /// Report the fastest round instead of the median.
    best: bool,
}

impl Bench<'_> {
    /// Median (or fastest) nanoseconds per item of each routing function
    /// over the rounds, each item parsed from its JSON line and resolved
    /// first. The functions take turns within every round, so a burst of
    /// load from other processes falls on all of them alike. Each returns
    /// how many items it routed, so its work cannot be optimized away.
    fn ns_per_item<const N: usize>(&self, mut routes: [RouteFn<'_>; N]) -> [f64; N] {
        let mut per_item: [Vec<f64>; N] = std::array::from_fn(|_| Vec::new());
        for round in 0..=self.rounds {
            for (route, samples) in routes.iter_mut().zip(per_item.iter_mut()) {
                let ns = self.time_round(route);
                if round > 0 {
                    samples.push(ns);
                }
            }
        }
        per_item.map(|samples| {
            if self.best {
                samples.iter().copied().fold(f64::INFINITY, f64::min)
            } else {
                common::median(&samples)
            }
        })
    }

    /// Nanoseconds per item of one pass over every line.
    fn time_round(&self, route: &mut RouteFn<'_>) -> f64 {
        let started = Instant::now();
        let mut routed = 0;
        for (index, chunk) in self.lines.chunks(BATCH).enumerate() {
            routed += route(index * BATCH, chunk);
        }
        let elapsed = started.elapsed();
        black_box(routed);
        elapsed.as_nanos() as f64 / self.lines.len() as f64
    }

    /// Reads the lines into `RouteItem`s and routes nothing: the input step
    /// of the native path.
    fn parse_only(&self) -> RouteFn<'_> {
        Box::new(|first_key, lines| black_box(self.parse_batch(first_key, lines)).len())
    }

    /// Routes through the component as `switchboard policy route` does:
    /// each line is packed straight into the batch, with no `RouteItem`.
    fn through_wasm<'p>(&'p self, policy: &'p PolicyPlugin) -> RouteFn<'p> {
        let mut batch = Packer::new();
        Box::new(move |first_key, lines| {
            self.pack_batch(first_key, lines, &mut batch);
            count_routed(&policy.route_batch(&mut batch, self.context).unwrap())
        })
    }

    /// Routes the same rules natively, from `RouteItem`s.
    fn natively<'p>(&'p self, policy: &'p mut TablePolicy) -> RouteFn<'p> {
        Box::new(move |first_key, lines| {
            let batch = self.parse_batch(first_key, lines);
            count_routed(&policy.route_batch(&batch, self.context))
        })
    }

    fn pack_batch(&self, first_key: usize, lines: &[String], batch: &mut Packer) {
        batch.clear();
        for (offset, line) in lines.iter().enumerate() {
            let item = parse_route_line(line)
                .expect("a generated line parses")
                .expect("a generated line is an item");
            item.pack_route_item(self.site, (first_key + offset) as u64 + 1, batch);
        }
    }

    fn parse_batch(&self, first_key: usize, lines: &[String]) -> Vec<RouteItem> {
        lines
            .iter()
            .enumerate()
            .map(|(offset, line)| {
                let item = parse_route_line(line)
                    .expect("a generated line parses")
                    .expect("a generated line is an item");
                item.route_item(self.site, (first_key + offset) as u64 + 1)
            })
            .collect()
    }
}

/// Open-item counts for everyone on the roster, as the engine sends them.
fn route_context(site: &Site) -> RouteContext {
    RouteContext {
        now: common::now(),
        load: site
            .people
            .iter()
            .enumerate()
            .map(|(index, person)| PersonLoad {
                person: person.id.clone(),
                open_items: (index as u32 * 7) % 23,
            })
            .collect(),
    }
}

/// Everything a component instance needs besides its table.
struct Wasm<'a> {
    runtime: &'a Runtime,
    loaded: LoadedPlugin,
    site_config: &'a SiteConfig,
    site: &'a Site,
}

fn wasm_policy(wasm: &Wasm<'_>, table: &str) -> PolicyPlugin {
    let host = common::host_context(wasm.site_config, "table-policy");
    PolicyPlugin::new(wasm.runtime, wasm.loaded.clone(), host, wasm.site, table)
        .unwrap_or_else(|error| panic!("the table policy rejected a benchmark table: {error}"))
}

fn native_policy(site: &Site, table: &str) -> TablePolicy {
    TablePolicy::configure(site.clone(), table)
        .unwrap_or_else(|error| panic!("the benchmark table does not compile: {error:?}"))
}

/// Both builds must make the same decisions, or the comparison is void.
fn check_same_outcomes(bench: &Bench<'_>, wasm: &PolicyPlugin, native: &mut TablePolicy) {
    let lines = &bench.lines[..BATCH.min(bench.lines.len())];
    let batch = bench.parse_batch(0, lines);
    let mut packed = Packer::new();
    bench.pack_batch(0, lines, &mut packed);
    let from_wasm: Outcomes = wasm.route_batch(&mut packed, bench.context).unwrap();
    let from_native: Outcomes = native.route_batch(&batch, bench.context);
    assert_eq!(
        from_wasm, from_native,
        "the component and the native build routed the first batch differently"
    );
}

fn count_routed(outcomes: &Outcomes) -> usize {
    outcomes.iter().filter(|outcome| outcome.is_ok()).count()
}
