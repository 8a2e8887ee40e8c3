//! `switchboard demo`: the README's first command.
//!
//! It routes a built-in set of sample items for the Northside sample site
//! through the example policy and prints the assignments and the count per
//! role.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use switchboard_sdk::{Category, Priority, ResultFlag, RouteContext, Timestamp, WorkItem};

use super::bench;
use super::policy_route::route_item;
use crate::bundled;
use crate::config::SiteConfig;
use crate::runtime::PolicyPlugin;

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Exit after printing the report.
    #[arg(long)]
    pub once: bool,
}

const SITE: &str = include_str!("../../../examples/config/sites/northside.toml");

/// Routes the sample items and prints the result.
pub fn run(_args: DemoArgs) -> anyhow::Result<ExitCode> {
    let (site_config, site) = SiteConfig::parse(Path::new("northside.toml"), SITE)?;
    let now = Timestamp::parse_rfc3339("2026-03-09T15:00:00Z").map_err(anyhow::Error::msg)?;

    let runtime = bench::runtime()?;
    let loaded = runtime.load_dir(&bundled::guest_dir("example-policy"))?;
    println!(
        "policy {} {} (sha256 {})",
        loaded.manifest.name,
        loaded.manifest.version,
        &loaded.sha256[..12]
    );
    let host = bench::host_context(&site.id, site_config.zone(), &loaded.manifest.name);
    let policy = PolicyPlugin::new(&runtime, loaded, host, &site, "")?;

    let items = sample_items(now);
    let route_items: Vec<_> = items
        .iter()
        .enumerate()
        .map(|(i, item)| route_item(&site, item, i as u64 + 1))
        .collect();
    let outcomes = policy.route(
        &route_items,
        &RouteContext {
            now,
            load: Vec::new(),
        },
    )?;

    let mut per_role: BTreeMap<String, usize> = BTreeMap::new();
    for (item, outcome) in items.iter().zip(&outcomes) {
        match outcome {
            Ok(a) => {
                *per_role.entry(a.role.clone()).or_default() += 1;
                println!(
                    "{:<22} {:<14} -> {:<10} {:<9} {}",
                    item.external_id,
                    item.category.as_str(),
                    a.role,
                    a.person.as_deref().unwrap_or("(pool)"),
                    a.reason
                );
            }
            Err(error) => println!(
                "{:<22} {:<14} -> not routed: {error}",
                item.external_id,
                item.category.as_str()
            ),
        }
    }
    println!();
    println!("worklist sizes by role:");
    for (role, count) in &per_role {
        println!("  {role:<12} {count}");
    }
    Ok(ExitCode::SUCCESS)
}

/// A morning's in-basket for the sample site.
fn sample_items(now: Timestamp) -> Vec<WorkItem> {
    let mut items = Vec::new();
    let mut add = |id: &str,
                   category: Category,
                   flag: ResultFlag,
                   title: &str,
                   ordering: Option<&str>,
                   rendering: Option<&str>,
                   pcp: Option<&str>| {
        let mut item = WorkItem::new(id, 1, category, title, now.plus_minutes(-90));
        item.flag = flag;
        item.patient = Some(format!("Patient/p{}", items.len() + 1));
        item.ordering = ordering.map(str::to_string);
        item.rendering = rendering.map(str::to_string);
        item.pcp = pcp.map(str::to_string);
        if flag == ResultFlag::Critical {
            item.priority = Priority::Stat;
        }
        items.push(item);
    };
    add(
        "MedicationRequest/r1",
        Category::Refill,
        ResultFlag::None,
        "lisinopril 10 mg renewal",
        None,
        None,
        Some("Practitioner/lee"),
    );
    add(
        "MedicationRequest/r2",
        Category::Refill,
        ResultFlag::None,
        "metformin 500 mg renewal",
        None,
        None,
        Some("Practitioner/ortiz"),
    );
    add(
        "DiagnosticReport/d1",
        Category::Result,
        ResultFlag::Normal,
        "lipid panel",
        Some("Practitioner/lee"),
        None,
        Some("Practitioner/lee"),
    );
    add(
        "DiagnosticReport/d2",
        Category::Result,
        ResultFlag::Abnormal,
        "hemoglobin A1c",
        Some("Practitioner/ortiz"),
        None,
        Some("Practitioner/lee"),
    );
    add(
        "DiagnosticReport/d3",
        Category::Result,
        ResultFlag::Critical,
        "potassium",
        Some("Practitioner/lee"),
        None,
        Some("Practitioner/lee"),
    );
    add(
        "Encounter/e1",
        Category::VisitNote,
        ResultFlag::None,
        "office visit note",
        None,
        Some("Practitioner/shah"),
        None,
    );
    add(
        "QuestionnaireResponse/f1",
        Category::Form,
        ResultFlag::None,
        "school sports form",
        None,
        None,
        Some("Practitioner/lee"),
    );
    add(
        "Communication/m1",
        Category::Message,
        ResultFlag::None,
        "portal message",
        None,
        None,
        Some("Practitioner/ortiz"),
    );
    items
}
