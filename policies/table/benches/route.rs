//! Native routing cost: a 200-rule plain table, and CEL conditions measured
//! apart from it. Run with `cargo bench -p table-policy`.
//!
//! This measures the policy's own work without the WebAssembly boundary,
//! which the host's benchmarks add. Numbers vary with the machine; the
//! output states what was measured.

use std::hint::black_box;
use std::time::{Duration, Instant};

use switchboard_sdk::site::parse_site;
use switchboard_sdk::testing::MockHost;
use switchboard_sdk::{
    Attribute, Category, PersonLoad, Policy, Priority, ResultFlag, RouteContext, RouteItem, Site,
    Timestamp,
};
use table_policy::TablePolicy;

const SITE: &str = include_str!("../cases/sites/lakeview.toml");

/// Items routed per measurement.
const ITEMS: usize = 200_000;

/// Batch size for the batched measurement, as the host sends them.
const BATCH: usize = 256;

fn main() {
    let site = parse_site(SITE).expect("the test site parses");
    let now = Timestamp::parse_rfc3339("2026-04-07T15:00:00Z").unwrap();
    let _guard = MockHost::new().at(now).time_zone(&site.time_zone).install();
    let context = RouteContext {
        now,
        load: ["ma-hill", "ma-ito", "ma-jones", "rn-ford", "rn-hale"]
            .iter()
            .enumerate()
            .map(|(i, p)| PersonLoad {
                person: p.to_string(),
                open_items: i as u32,
            })
            .collect(),
    };
    let items = items(now);

    let plain = plain_table(200);
    let per_item = measure(&site, &plain, &items, &context);
    println!(
        "200 plain rules: {:.0} ns per route call, {:.0} ns per item in batches of {BATCH}",
        per_item.0, per_item.1
    );

    let baseline = measure(&site, &cel_table(0), &items, &context);
    let one = measure(&site, &cel_table(1), &items, &context);
    let ten = measure(&site, &cel_table(10), &items, &context);
    println!(
        "CEL, per route call: no CEL rule {:.0} ns; one non-matching CEL rule {:.0} ns; ten {:.0} ns",
        baseline.0, one.0, ten.0
    );
    println!(
        "  first CEL condition of an item (builds the item's variables): {:.0} ns",
        one.0 - baseline.0
    );
    println!(
        "  each further CEL condition: {:.0} ns",
        (ten.0 - one.0) / 9.0
    );
}

/// Nanoseconds per item: one `route` call per item, then batches.
fn measure(site: &Site, table: &str, items: &[RouteItem], context: &RouteContext) -> (f64, f64) {
    let mut policy = TablePolicy::compile(site, table).expect("the benchmark table compiles");

    let started = Instant::now();
    for item in items {
        black_box(policy.route(black_box(item), context).ok());
    }
    let single = per_item(started.elapsed(), items.len());

    let started = Instant::now();
    for chunk in items.chunks(BATCH) {
        black_box(policy.route_batch(black_box(chunk), context));
    }
    let batched = per_item(started.elapsed(), items.len());

    (single, batched)
}

fn per_item(elapsed: Duration, count: usize) -> f64 {
    elapsed.as_nanos() as f64 / count as f64
}

/// A realistic mix: results with test codes, refills, messages, forms.
fn items(now: Timestamp) -> Vec<RouteItem> {
    (0..ITEMS)
        .map(|i| {
            let category = [
                Category::Result,
                Category::Result,
                Category::Refill,
                Category::Message,
                Category::Form,
                Category::Referral,
            ][i % 6];
            let flag = if category == Category::Result {
                [
                    ResultFlag::Normal,
                    ResultFlag::Abnormal,
                    ResultFlag::Critical,
                ][i % 3]
            } else {
                ResultFlag::None
            };
            let attributes = if category == Category::Result {
                vec![Attribute {
                    key: "loinc".into(),
                    value: format!("{}-{}", 1000 + i % 150, i % 10),
                }]
            } else {
                Vec::new()
            };
            RouteItem {
                key: i as u64,
                category,
                flag,
                priority: if i % 7 == 0 {
                    Priority::Urgent
                } else {
                    Priority::Routine
                },
                created: now.plus_minutes(-((i % 240) as i64)),
                due: None,
                patient: Some(format!("Patient/{i}")),
                ordering: Some(["dr-adams", "np-chen", "dr-baker"][i % 3].into()),
                rendering: None,
                pcp: Some(["dr-adams", "np-chen"][i % 2].into()),
                attributes,
            }
        })
        .collect()
}

/// `count` rules: test-code rules for results, then category rules with
/// priority and age conditions, then the catch-all.
fn plain_table(count: usize) -> String {
    let mut text = String::from("schema = 1\n");
    let code_rules = count - 20;
    for i in 0..code_rules {
        let code = format!("{}-{}", 1000 + i % 150, i % 10);
        text.push_str(&format!(
            "[[rule]]\nname = \"code-{i}\"\nreason = \"test code {code}\"\nwhen = {{ category = \"result\", flag = [\"abnormal\", \"critical\"], attributes = {{ loinc = \"{code}\" }} }}\nrole = [\"physician\", \"np\"]\nstrategy = [\"ordering\", \"pcp\"]\n"
        ));
    }
    let categories = [
        "refill",
        "message",
        "form",
        "referral",
        "prior-auth",
        "result",
    ];
    for i in 0..19 {
        let category = categories[i % categories.len()];
        let (role, strategy) = match category {
            "refill" => ("ma", "strategy = \"pod\"\n"),
            "message" => ("rn", "strategy = \"least-loaded\"\n"),
            _ => ("front-desk", ""),
        };
        text.push_str(&format!(
            "[[rule]]\nname = \"category-{i}\"\nreason = \"{category}\"\nwhen = {{ category = \"{category}\", min_age_minutes = {}, priority = [\"routine\", \"urgent\"] }}\nrole = \"{role}\"\n{strategy}",
            (18 - i) * 10
        ));
    }
    text.push_str("[[rule]]\nname = \"catch-all\"\nreason = \"rest\"\nrole = \"front-desk\"\n");
    text
}

/// `cel_rules` CEL rules that match no item, then the catch-all.
fn cel_table(cel_rules: usize) -> String {
    let mut text = String::from("schema = 1\n");
    for i in 0..cel_rules {
        text.push_str(&format!(
            "[[rule]]\nname = \"cel-{i}\"\nreason = \"never\"\nwhen = {{ expr = '\"loinc\" in item.attributes && item.attributes[\"loinc\"] == \"none-{i}\" && age_minutes > 60' }}\nrole = \"rn\"\n"
        ));
    }
    text.push_str("[[rule]]\nname = \"catch-all\"\nreason = \"rest\"\nrole = \"front-desk\"\n");
    text
}
