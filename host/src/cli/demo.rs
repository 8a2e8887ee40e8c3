//! `switchboard demo`: the README's first command.
//!
//! With nothing configured it builds a sample practice of three sites in a
//! temporary folder (an embedded sled store, the bundled plugins, the
//! simulator's clinic days), then:
//!
//! 1. simulates a month twice on the same arrivals: once with every item
//!    routed to a clinician (what an EHR does by default) and once with the
//!    table policy deciding, as a WebAssembly component, who owns each item;
//! 2. feeds the policy run's data through the real connectors (FHIR R4
//!    Bundles and NDJSON for two sites; HL7 v2 results, notes and schedules
//!    plus FHIR for the rest at the third) into the store, where the engine
//!    routes it through the same policy;
//! 3. prints the worklist sizes by role and the baseline-versus-policy
//!    backlog report per site, then keeps the API up until Ctrl-C
//!    (`--once` exits after the report).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use std::time::Instant;

use anyhow::Context;
use switchboard_engine::IngestMode;
use switchboard_sdk::{RouteContext, RouteError, Site, WorkItem};
use switchboard_sim::metrics::{ReportOptions, compare, report};
use switchboard_sim::render::comparison_table;
use switchboard_sim::sim::{
    Owner, PhysicianDefault, PracticeConfig, SiteOutput, generate, simulate,
};

use super::output::outln;
use crate::app::tokens::hash_token;
use crate::app::{App, AppOptions};
use crate::config::TokenScope;

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Exit after printing the report instead of serving the API.
    #[arg(long)]
    pub once: bool,
    /// Clinic days to simulate.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Seed of the simulator; the same seed gives the same month.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Address for the API and console; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// Keep the generated configuration folder here instead of a temporary one.
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
}

/// The rule table every demo site routes with: the shipped defaults.
const ROUTING_TABLE: &str = include_str!("../../../examples/config/sites/northside/routing.toml");

/// Token the demo prints for the administrator.
const ADMIN_TOKEN: &str = "demo-admin";

/// Sites fed over HL7 v2 for results, notes and schedules.
const HL7_SITES: usize = 1;

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let temp = tempfile::tempdir().context("failed to create a temporary folder")?;
    let root = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());

    let config = PracticeConfig::default();
    let generated = generate(&config, args.days, args.seed)?;
    let baseline = simulate(&config, &generated, &mut PhysicianDefault)?;
    outln!(
        "simulated {} days at {} sites (seed {})",
        args.days,
        baseline.sites.len(),
        args.seed
    )?;

    write_config(&root, &baseline.sites, args.listen)?;
    let app = App::open(
        &root,
        AppOptions {
            background: false,
            ..AppOptions::default()
        },
    )?;
    app.load_sites();
    if let Some((site, reasons)) = app.sites.failures().into_iter().next() {
        anyhow::bail!("demo site {site} failed to load: {}", reasons.join("; "));
    }

    let mut assign = |site: &Site, item: &WorkItem| policy_owner(&app, site, item);
    let pilot = simulate(&config, &generated, &mut assign)?;

    for (index, site) in pilot.sites.iter().enumerate() {
        let feed = if index < HL7_SITES {
            "HL7 v2 results, notes and schedules plus FHIR R4"
        } else {
            "FHIR R4 Bundles and NDJSON"
        };
        let counts = feed_site(&app, site, index < HL7_SITES)
            .with_context(|| format!("feeding site {}", site.id()))?;
        app.engine.route_pending(site.id())?;
        let stored = app.engine.counts(site.id())?;
        outln!(
            "site {:<10} {:>5} messages ({feed}) -> {} new items, {} pending, {} dead letters, {} inputs not used",
            site.id(),
            counts.messages,
            counts.new_items,
            stored.pending,
            stored.dead_letters,
            counts.rejected
        )?;
    }

    print_worklists(&app)?;
    for (before, after) in baseline.sites.iter().zip(&pilot.sites) {
        let options = ReportOptions {
            pod: None,
            as_of: Some(before.as_of),
        };
        let range = baseline.steady.unwrap_or(baseline.range);
        let comparison = compare(
            report(&before.metrics(), range, &options),
            report(&after.metrics(), range, &options),
        );
        outln!(
            "\nsite {}: everything to the clinician (baseline) vs the table policy (pilot), {} to {}",
            before.id(),
            range.start,
            range.end
        )?;
        outln!("{}", comparison_table(&comparison))?;
    }
    outln!("report ready in {:.1} s", started.elapsed().as_secs_f64())?;

    if args.once {
        app.shutdown();
        return Ok(ExitCode::SUCCESS);
    }
    outln!("configuration folder: {}", root.display())?;
    outln!(
        "admin token: {ADMIN_TOKEN}   staff tokens: demo-<person id>, such as demo-{}",
        first_person(&app)
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(super::serve::serve(app))?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the host file, one site file per simulated site (its roster plus
/// the routing policy and two connectors), and the bundled plugins.
fn write_config(
    root: &Path,
    sites: &[SiteOutput],
    listen: std::net::SocketAddr,
) -> anyhow::Result<()> {
    let sites_dir = root.join("sites");
    std::fs::create_dir_all(&sites_dir)?;
    crate::bundled::install_all(&root.join("plugins"))?;

    let mut tokens = vec![token_entry(
        "admin",
        ADMIN_TOKEN,
        None,
        None,
        TokenScope::Admin,
    )];
    for site in sites {
        let id = site.id();
        let roster = site.site_toml()?;
        let text = format!(
            "{roster}\n[routing]\nplugin = \"table-policy\"\nconfig = \"{id}/routing.toml\"\n\n[[connectors]]\nname = \"ehr\"\nplugin = \"fhir-connector\"\n\n[[connectors]]\nname = \"lab\"\nplugin = \"hl7v2-connector\"\n"
        );
        std::fs::write(sites_dir.join(format!("{id}.toml")), text)?;
        std::fs::create_dir_all(sites_dir.join(id))?;
        std::fs::write(sites_dir.join(id).join("routing.toml"), ROUTING_TABLE)?;
        for person in site.roster().people {
            tokens.push(token_entry(
                &person.id,
                &format!("demo-{}", person.id),
                Some(id),
                Some(&person.id),
                TokenScope::Staff,
            ));
        }
    }
    let host = format!(
        "schema = 1\ndata_dir = \"data\"\n\n[api]\nlisten = \"{listen}\"\n\n{}",
        tokens.join("\n")
    );
    std::fs::write(root.join(crate::config::HOST_FILE), host)?;
    Ok(())
}

fn token_entry(
    name: &str,
    token: &str,
    site: Option<&str>,
    person: Option<&str>,
    scope: TokenScope,
) -> String {
    let scope = match scope {
        TokenScope::Admin => "admin",
        TokenScope::Staff => "staff",
        TokenScope::Metrics => "metrics",
        TokenScope::Intake => "intake",
    };
    let mut text = format!(
        "[[tokens]]\nname = \"{name}\"\nsha256 = \"{}\"\nscopes = [\"{scope}\"]\n",
        hash_token(token)
    );
    if let Some(site) = site {
        text.push_str(&format!("site = \"{site}\"\n"));
    }
    if let Some(person) = person {
        text.push_str(&format!("person = \"{person}\"\n"));
    }
    text
}

/// The owner the site's routing policy (the wasm component) gives an item.
fn policy_owner(app: &App, site: &Site, item: &WorkItem) -> Result<Owner, RouteError> {
    let handle = app
        .sites
        .get(&site.id)
        .ok_or_else(|| RouteError::NoOwner(format!("site {} is not loaded", site.id)))?;
    let state = handle.state();
    let policy = state
        .routing()
        .ok_or_else(|| RouteError::NoOwner("no routing policy".to_string()))?;
    let routed = item.route_item(&state.site, 1);
    let context = RouteContext {
        now: item.created,
        load: Vec::new(),
    };
    let outcome = policy
        .route(std::slice::from_ref(&routed), &context)
        .map_err(|e| RouteError::NoOwner(e.to_string()))?;
    let assignment = outcome
        .into_iter()
        .next()
        .unwrap_or_else(|| Err(RouteError::NoMatch("no result".to_string())))?;
    Ok(Owner::new(assignment.role, assignment.person.as_deref()))
}

/// Resource types the HL7 feed carries at an HL7 site.
const HL7_TYPES: &[&str] = &[
    "DiagnosticReport",
    "Observation",
    "Encounter",
    "Composition",
    "DocumentReference",
    "Appointment",
];

/// Counts from feeding one site.
#[derive(Debug, Default)]
struct FeedCounts {
    messages: usize,
    new_items: u32,
    rejected: usize,
}

impl FeedCounts {
    fn add(&mut self, (new_items, rejected): (u32, usize)) {
        self.messages += 1;
        self.new_items += new_items;
        self.rejected += rejected;
    }
}

/// Feeds one site's month, day by day, through its connectors.
fn feed_site(app: &App, site: &SiteOutput, hl7: bool) -> anyhow::Result<FeedCounts> {
    let mut counts = FeedCounts::default();
    let id = site.id();
    let mut date = site.range.start;
    while date <= site.range.end {
        let mut bundle = switchboard_sim::sim::fhir::day_bundle(site, date);
        let mut updates = switchboard_sim::sim::fhir::day_updates_ndjson(site, date);
        if hl7 {
            drop_types(&mut bundle);
            updates = updates
                .lines()
                .filter(|line| {
                    !HL7_TYPES
                        .iter()
                        .any(|t| line.contains(&format!("\"resourceType\":\"{t}\"")))
                })
                .map(|l| format!("{l}\n"))
                .collect();
            let messages: Vec<String> = switchboard_sim::sim::hl7::day_messages(site, date)
                .into_iter()
                .map(|m| m.body)
                .collect();
            if !messages.is_empty() {
                counts.add(intake(
                    app,
                    id,
                    "lab",
                    messages.join("\r\n").as_bytes(),
                    "application/hl7-v2",
                )?);
                counts.messages += messages.len() - 1;
            }
        }
        counts.add(intake(
            app,
            id,
            "ehr",
            bundle.to_string().as_bytes(),
            "application/fhir+json",
        )?);
        if !updates.trim().is_empty() {
            counts.add(intake(
                app,
                id,
                "ehr",
                updates.as_bytes(),
                "application/fhir+ndjson",
            )?);
        }
        date = date.succ_opt().context("date overflow")?;
    }
    Ok(counts)
}

/// Removes what the HL7 feed carries, and the lab orders that only give
/// results their context, from a FHIR Bundle.
fn drop_types(bundle: &mut serde_json::Value) {
    if let Some(entries) = bundle.get_mut("entry").and_then(|e| e.as_array_mut()) {
        entries.retain(|entry| {
            let kind = entry
                .pointer("/resource/resourceType")
                .and_then(|t| t.as_str())
                .unwrap_or("");
            let id = entry
                .pointer("/resource/id")
                .and_then(|t| t.as_str())
                .unwrap_or("");
            let lab_order = kind == "ServiceRequest" && id.ends_with("-order");
            !HL7_TYPES.contains(&kind) && !lab_order
        });
    }
}

/// Feeds one message; returns how many of its inputs the connector or the
/// engine rejected (the simulator's order resources, which the FHIR
/// connector reads only as the context of results, among them).
fn intake(
    app: &App,
    site: &str,
    connector: &str,
    body: &[u8],
    content_type: &str,
) -> anyhow::Result<(u32, usize)> {
    let report = app.intake(site, connector, body, content_type, IngestMode::Live)?;
    Ok((report.new, report.rejects.len()))
}

fn print_worklists(app: &App) -> anyhow::Result<()> {
    outln!("\nopen worklist items by role after routing the simulated days:")?;
    let mut totals: BTreeMap<String, u32> = BTreeMap::new();
    for site in app.sites.ids() {
        let counts = app.engine.counts(&site)?;
        let line: Vec<String> = counts
            .roles
            .iter()
            .map(|(role, c)| format!("{role} {}", c.open()))
            .collect();
        outln!("  {site:<12} {}", line.join(", "))?;
        for (role, c) in &counts.roles {
            *totals.entry(role.clone()).or_default() += c.open();
        }
    }
    let line: Vec<String> = totals
        .iter()
        .map(|(role, n)| format!("{role} {n}"))
        .collect();
    outln!("  {:<12} {}", "all sites", line.join(", "))?;
    Ok(())
}

fn first_person(app: &App) -> String {
    app.sites
        .ids()
        .first()
        .and_then(|id| app.sites.get(id))
        .and_then(|h| h.state().site.people.first().map(|p| p.id.clone()))
        .unwrap_or_default()
}
