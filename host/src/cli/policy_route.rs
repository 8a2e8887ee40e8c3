//! `switchboard policy route PLUGIN --site FILE [ITEMS.ndjson]`

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use switchboard_sdk::jsonl::{AssignmentLine, LineError, RouteLine, parse_route_line};
use switchboard_sdk::packed::Packer;
use switchboard_sdk::{RouteContext, Site, Timestamp};

use super::bench;
use crate::config::{SiteConfig, quote};
use crate::runtime::PolicyPlugin;

/// Items per `route` call: large enough to amortize the call, small enough
/// that one batch stays far below the output cap.
const BATCH: usize = 256;

/// Arguments of `policy route`.
#[derive(Debug, clap::Args)]
pub struct RouteArgs {
    /// The policy: a `.wasm` file with `plugin.toml` beside it, or its folder.
    pub plugin: PathBuf,
    /// Site file (`sites/<site>.toml`) whose roster the policy receives.
    #[arg(long)]
    pub site: PathBuf,
    /// Policy config file; defaults to the `config` of the site's slot
    /// (routing, shadow, nudges or prep) whose `plugin` names this policy,
    /// else empty text.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Time to route at (RFC 3339); defaults to now.
    #[arg(long)]
    pub now: Option<String>,
    /// Work items as JSON lines; standard input when absent.
    pub items: Option<PathBuf>,
}

/// Routes every item and prints one [`AssignmentLine`] per item.
pub fn run(args: RouteArgs) -> anyhow::Result<ExitCode> {
    let (site_config, site) = SiteConfig::load(&args.site)?;
    let now = match &args.now {
        Some(text) => Timestamp::parse_rfc3339(text).map_err(|e| anyhow::anyhow!("--now: {e}"))?,
        None => Timestamp(chrono::Utc::now().timestamp_millis()),
    };

    let runtime = bench::runtime()?;
    let loaded = bench::load(&runtime, &args.plugin)?;
    let (config_text, config_path) = policy_config(&args, &site_config, &loaded.manifest.name)?;
    let host = bench::host_context(&site.id, site_config.zone(), &loaded.manifest.name);
    let policy =
        PolicyPlugin::new(&runtime, loaded, host, &site, &config_text).with_context(|| {
            match &config_path {
                Some(path) => format!("policy config {}", quote(path)),
                None => "empty policy config".to_string(),
            }
        })?;

    let mut reader: Box<dyn Read> = match &args.items {
        Some(path) => Box::new(
            std::fs::File::open(path).with_context(|| format!("failed to open {}", quote(path)))?,
        ),
        None => Box::new(std::io::stdin()),
    };
    // Read whole, so each parsed line can borrow its strings from the text.
    let mut text = String::new();
    reader
        .read_to_string(&mut text)
        .context("failed to read the items")?;

    let summary = route_lines(&policy, &site, now, &text)?;
    eprintln!(
        "routed {} items, {} not routed, {} bad lines",
        summary.routed, summary.unrouted, summary.bad_lines
    );
    Ok(if summary.bad_lines > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Counts from one bench run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RouteSummary {
    /// Items that got an assignment.
    pub routed: usize,
    /// Items the policy returned an error for.
    pub unrouted: usize,
    /// Lines that were not valid items.
    pub bad_lines: usize,
}

/// Routes the item lines of `text` in batches, printing assignments to
/// standard output and bad lines to standard error.
pub fn route_lines(
    policy: &PolicyPlugin,
    site: &Site,
    now: Timestamp,
    text: &str,
) -> anyhow::Result<RouteSummary> {
    let mut summary = RouteSummary::default();
    let mut good: Vec<(usize, RouteLine<'_>)> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        match parse_route_line(line) {
            Ok(Some(item)) => good.push((number, item)),
            Ok(None) => {}
            Err(message) => {
                eprintln!(
                    "error: {}",
                    LineError {
                        line: number,
                        message
                    }
                );
                summary.bad_lines += 1;
            }
        }
    }

    let context = RouteContext {
        now,
        load: Vec::new(),
    };
    let mut out = super::output::stdout();
    let mut batch = Packer::new();
    for chunk in good.chunks(BATCH) {
        batch.clear();
        for (i, (_, item)) in chunk.iter().enumerate() {
            item.pack_route_item(site, i as u64 + 1, &mut batch);
        }
        let outcomes = policy.route_batch(&mut batch, &context)?;
        for ((line, item), outcome) in chunk.iter().zip(outcomes) {
            if outcome.is_ok() {
                summary.routed += 1;
            } else {
                summary.unrouted += 1;
            }
            let record = AssignmentLine::new(*line, &item.external_id, outcome);
            serde_json::to_writer(&mut out, &record)?;
            writeln!(out)?;
        }
    }
    Ok(summary)
}

/// The policy's config text and the file it came from: `--config`, else
/// the config of the site slot that runs this plugin (routing, shadow,
/// nudges or prep), else empty text and no file.
fn policy_config(
    args: &RouteArgs,
    site_config: &SiteConfig,
    plugin: &str,
) -> anyhow::Result<(String, Option<PathBuf>)> {
    let slots = [
        &site_config.routing,
        &site_config.shadow,
        &site_config.nudges,
        &site_config.prep,
    ];
    let slot = slots
        .into_iter()
        .flatten()
        .find(|slot| slot.plugin.name == plugin);
    if args.config.is_none() && slot.is_none() {
        eprintln!(
            "note: no slot of site file {} names plugin {plugin}, so the policy gets empty config text; pass --config FILE to give it one",
            quote(&args.site)
        );
    }

    let from_site = slot.and_then(|slot| slot.config.as_ref());
    let path = match (&args.config, from_site) {
        (Some(path), _) => Some(path.clone()),
        (None, Some(relative)) => Some(args.site.parent().unwrap_or(Path::new(".")).join(relative)),
        (None, None) => None,
    };
    let text = match &path {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("failed to read policy config {}", quote(path)))?,
        None => String::new(),
    };
    Ok((text, path))
}
