//! `switchboard report`: backlog KPIs over a baseline range and a pilot
//! range, read from a stopped host's store.

use std::io::Stderr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use switchboard_engine::SledStore;
use switchboard_sim::metrics::{Kpi, ReportOptions, RoiInputs, compare, report, roi};
use switchboard_sim::render::{comparison_csv, comparison_svg, comparison_table, roi_text};

use super::output::outln;
use super::progress::Progress;
use crate::app::load_host_config;
use crate::app::metrics::{metrics_input, parse_range};
use crate::config::{Layout, SiteConfig};

/// Arguments of `report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Configuration folder.
    #[arg(long)]
    pub config: PathBuf,
    /// Site id.
    #[arg(long)]
    pub site: String,
    /// Baseline dates, FIRST..LAST (inclusive, site-local).
    #[arg(long)]
    pub baseline: String,
    /// Pilot dates, FIRST..LAST (inclusive, site-local).
    #[arg(long)]
    pub pilot: String,
    /// Only this care team (pod).
    #[arg(long)]
    pub pod: Option<String>,
    /// Folder for the CSV and SVG files.
    #[arg(long, default_value = "report")]
    pub out: PathBuf,
    /// ROI inputs (TOML with [cost_per_hour], [minutes_per_item], currency).
    #[arg(long)]
    pub roi: Option<PathBuf>,
}

/// KPIs drawn as charts.
const CHARTED: &[Kpi] = &[
    Kpi::OpenChartsEndOfDay,
    Kpi::DaysToCloseMedian,
    Kpi::PhysicianInboxShare,
    Kpi::AfterHoursSigning,
];

/// Steps before the files: reading the store, the baseline range and the
/// pilot range.
const COMPUTE_STEPS: u64 = 3;

/// Writes the CSV and SVG files and prints the comparison. On a terminal,
/// a progress line on standard error names each step: reading the store,
/// each range, and each file (one chart per KPI).
pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let baseline_range =
        parse_range(&args.baseline).map_err(|e| anyhow::anyhow!("--baseline: {e}"))?;
    let pilot_range = parse_range(&args.pilot).map_err(|e| anyhow::anyhow!("--pilot: {e}"))?;
    let host = load_host_config(&args.config)?;
    let layout = Layout::new(&args.config, &host.data_dir);
    let (site_config, site) = SiteConfig::load(&layout.sites.join(format!("{}.toml", args.site)))?;
    let files = 1 + CHARTED.len() as u64;
    let mut progress = Progress::stderr("report", "steps", COMPUTE_STEPS + files);

    progress.set_step(0, "reading the store");
    let store = SledStore::open(layout.db()).map_err(|e| {
        anyhow::anyhow!(
            "{e}; while `switchboard serve` runs, read reports through GET /v1/sites/{}/backlog",
            args.site
        )
    })?;
    let input =
        metrics_input(&store, &site, site_config.closing_minute()).map_err(anyhow::Error::msg)?;
    let options = ReportOptions {
        pod: args.pod.clone(),
        as_of: None,
    };
    progress.set_step(1, &format!("computing the baseline {}", args.baseline));
    let baseline = report(&input, baseline_range, &options);
    progress.set_step(2, &format!("computing the pilot {}", args.pilot));
    let pilot = report(&input, pilot_range, &options);

    let roi_section = match &args.roi {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("failed to read {}", path.display()))?;
            let inputs: RoiInputs = toml::from_str(&text)
                .with_context(|| format!("invalid ROI inputs in {}", path.display()))?;
            Some(roi_text(
                &roi(&baseline, &pilot, &inputs).map_err(|e| anyhow::anyhow!("{e}"))?,
            ))
        }
        None => None,
    };

    let comparison = compare(baseline, pilot);
    write_files(&args.out, &args.site, &comparison, &mut progress)?;
    progress.finish();

    outln!("{}", comparison_table(&comparison))?;
    if let Some(text) = roi_section {
        outln!("{text}")?;
    }
    outln!("wrote CSV and SVG charts to {}", args.out.display())?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the CSV and one SVG chart per charted KPI, one progress step each.
fn write_files(
    out: &Path,
    site: &str,
    comparison: &switchboard_sim::metrics::Comparison,
    progress: &mut Progress<Stderr>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("failed to create {}", out.display()))?;
    progress.set_step(COMPUTE_STEPS, "writing the CSV");
    write(&out.join(format!("{site}.csv")), comparison_csv(comparison))?;
    for (index, kpi) in CHARTED.iter().enumerate() {
        let name = serde_json::to_value(kpi)?
            .as_str()
            .unwrap_or("kpi")
            .to_string();
        progress.set_step(
            COMPUTE_STEPS + 1 + index as u64,
            &format!("charting {}", kpi.label()),
        );
        write(
            &out.join(format!("{site}-{name}.svg")),
            comparison_svg(comparison, *kpi),
        )?;
    }
    progress.set_step(COMPUTE_STEPS + 1 + CHARTED.len() as u64, "done");
    Ok(())
}

fn write(path: &Path, contents: String) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("failed to write {}", path.display()))
}
