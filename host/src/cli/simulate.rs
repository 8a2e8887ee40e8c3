//! `switchboard simulate`: the what-if comparison without a server. It
//! generates clinic days for a practice, simulates them once with every
//! item routed to a clinician (what an EHR does by default) and once with
//! the bundled table policy (run as its WebAssembly component with the
//! given rule file), and prints the KPI deltas per site.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use switchboard_sdk::{RouteContext, RouteError, Site, WorkItem};
use switchboard_sim::metrics::{ReportOptions, compare, report};
use switchboard_sim::render::{comparison_csv, comparison_table};
use switchboard_sim::sim::{Owner, PhysicianDefault, PracticeConfig, generate, simulate};

use super::output::outln;
use crate::runtime::{PolicyPlugin, Runtime, RuntimeOptions};

/// Arguments of `simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Clinic days to simulate.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Random seed; the same seed gives the same days.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Practice file (TOML: sites, roles, capacities, volumes); the
    /// published-volume defaults when absent.
    #[arg(long)]
    pub practice: Option<PathBuf>,
    /// Rule table for the policy run; the shipped defaults when absent.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Also write the comparison as CSV files into this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs both simulations and prints the comparison.
pub fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.practice {
        Some(path) => PracticeConfig::from_toml(
            &std::fs::read_to_string(path)
                .with_context(|| format!("failed to read {}", path.display()))?,
        )
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
        None => PracticeConfig::default(),
    };
    let rules = match &args.rules {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("failed to read {}", path.display()))?,
        None => String::new(),
    };
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());

    let generated = generate(&config, args.days, args.seed)?;
    if progress {
        eprintln!("generated {} days; simulating the EHR default", args.days);
    }
    let baseline = simulate(&config, &generated, &mut PhysicianDefault)?;
    if progress {
        eprintln!("simulating the table policy");
    }

    let runtime = Runtime::new(RuntimeOptions::default())
        .map_err(|e| anyhow::anyhow!("failed to start the runtime: {e:#}"))?;
    let (_, wasm, manifest) = crate::bundled::BUNDLED
        .iter()
        .find(|(name, _, _)| *name == "table-policy")
        .context("this build has no bundled table-policy")?;
    let manifest = crate::config::Manifest::parse(
        std::path::Path::new("table-policy/plugin.toml"),
        manifest,
        &runtime.limits,
    )?;
    let loaded = runtime.load(wasm, manifest)?;
    let mut policies: std::collections::HashMap<String, PolicyPlugin> =
        std::collections::HashMap::new();
    let mut assign = |site: &Site, item: &WorkItem| -> Result<Owner, RouteError> {
        if !policies.contains_key(&site.id) {
            let host = super::bench::host_context(
                &site.id,
                site.time_zone.parse().unwrap_or(chrono_tz::UTC),
                "table-policy",
            );
            let policy = PolicyPlugin::new(&runtime, loaded.clone(), host, site, &rules)
                .map_err(|e| RouteError::NoOwner(e.to_string()))?;
            policies.insert(site.id.clone(), policy);
        }
        let policy = &policies[&site.id];
        let routed = item.route_item(site, 1);
        let outcome = policy
            .route(
                std::slice::from_ref(&routed),
                &RouteContext {
                    now: item.created,
                    load: Vec::new(),
                },
            )
            .map_err(|e| RouteError::NoOwner(e.to_string()))?;
        let assignment = outcome
            .into_iter()
            .next()
            .unwrap_or_else(|| Err(RouteError::NoMatch("no result".into())))?;
        Ok(Owner::new(assignment.role, assignment.person.as_deref()))
    };
    let pilot = simulate(&config, &generated, &mut assign)?;

    let range = baseline.steady.unwrap_or(baseline.range);
    for (before, after) in baseline.sites.iter().zip(&pilot.sites) {
        let options = ReportOptions {
            pod: None,
            as_of: Some(before.as_of),
        };
        let comparison = compare(
            report(&before.metrics(), range, &options),
            report(&after.metrics(), range, &options),
        );
        outln!(
            "site {}: EHR default (baseline) vs table policy (pilot), {} to {}",
            before.id(),
            range.start,
            range.end
        )?;
        outln!("{}", comparison_table(&comparison))?;
        if let Some(out) = &args.out {
            std::fs::create_dir_all(out)?;
            std::fs::write(
                out.join(format!("{}.csv", before.id())),
                comparison_csv(&comparison),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
