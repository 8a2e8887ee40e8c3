//! `switchboard connector run PLUGIN [--config FILE] [INPUT...]`

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use switchboard_sdk::Batch;
use switchboard_sdk::jsonl::Record;

use super::bench;
use crate::config::quote;
use crate::runtime::ConnectorPlugin;

/// Arguments of `connector run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The connector: a `.wasm` file with `plugin.toml` beside it, or its folder.
    pub plugin: PathBuf,
    /// Connector config file; the connector's defaults when absent.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// IANA time zone for timestamps without an offset.
    #[arg(long, default_value = "UTC")]
    pub time_zone: String,
    /// Content type of the inputs; inferred from each file name when absent.
    #[arg(long)]
    pub content_type: Option<String>,
    /// Input files; standard input when none are given.
    pub inputs: Vec<PathBuf>,
}

/// Maps every input and prints its items, events and roster hints.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let zone: chrono_tz::Tz = args.time_zone.parse().map_err(|_| {
        anyhow::anyhow!(
            "--time-zone {:?} is not an IANA time zone such as America/Chicago",
            args.time_zone
        )
    })?;
    let config = match &args.config {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("failed to read {}", quote(path)))?,
        None => String::new(),
    };

    let runtime = bench::runtime()?;
    let loaded = bench::load(&runtime, &args.plugin)?;
    let host = bench::host_context("bench", zone, &loaded.manifest.name);
    let connector = ConnectorPlugin::new(&runtime, loaded, host, &config)?;

    let mut rejected = 0usize;
    let mut out = super::output::stdout();
    let inputs: Vec<Option<&Path>> = if args.inputs.is_empty() {
        vec![None]
    } else {
        args.inputs.iter().map(|p| Some(p.as_path())).collect()
    };
    for input in inputs {
        let (name, bytes) = read_input(input)?;
        let content_type = args
            .content_type
            .clone()
            .unwrap_or_else(|| content_type_for(&name).to_string());
        match connector.accept(&bytes, &content_type)? {
            Ok(batch) => {
                rejected += batch.rejects.len();
                for reject in &batch.rejects {
                    eprintln!("rejected {name}: {reject}");
                }
                print_batch(&mut out, batch)?;
            }
            Err(error) => {
                rejected += 1;
                eprintln!("rejected {name}: {error}");
            }
        }
    }
    Ok(if rejected > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn read_input(input: Option<&Path>) -> anyhow::Result<(String, Vec<u8>)> {
    match input {
        Some(path) => Ok((
            path.display().to_string(),
            std::fs::read(path).with_context(|| format!("failed to read {}", quote(path)))?,
        )),
        None => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("failed to read standard input")?;
            Ok(("<stdin>".to_string(), bytes))
        }
    }
}

/// Content type from a file name, as inbox folders infer it.
pub fn content_type_for(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".hl7") || lower.ends_with(".hl7v2") || lower.ends_with(".er7") {
        "application/hl7-v2"
    } else if lower.ends_with(".ndjson") {
        "application/fhir+ndjson"
    } else if lower.ends_with(".json") {
        "application/fhir+json"
    } else if lower.ends_with(".csv") {
        "text/csv"
    } else {
        "application/octet-stream"
    }
}

fn print_batch(out: &mut impl Write, batch: Batch) -> anyhow::Result<()> {
    let records = batch
        .items
        .into_iter()
        .map(Record::Item)
        .chain(batch.events.into_iter().map(Record::Event))
        .chain(batch.roster.into_iter().map(Record::Roster));
    for record in records {
        serde_json::to_writer(&mut *out, &record)?;
        writeln!(out)?;
    }
    Ok(())
}
