//! `switchboard store verify|rebuild --data DIR`: offline maintenance.

use std::path::Path;
use std::process::ExitCode;

use switchboard_engine::{SledStore, Store};

fn open(data: &Path) -> anyhow::Result<SledStore> {
    SledStore::open(data.join("db"))
        .map_err(|e| anyhow::anyhow!("{e}; stop `switchboard serve` before offline maintenance"))
}

/// Checks the trees against the log and exits 1 on any mismatch.
pub fn verify(data: &Path) -> anyhow::Result<ExitCode> {
    let store = open(data)?;
    let report = store.verify()?;
    println!("{report:#?}");
    Ok(if report.is_healthy() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Rebuilds the trees from the log.
pub fn rebuild(data: &Path) -> anyhow::Result<ExitCode> {
    let store = open(data)?;
    let report = store.rebuild()?;
    println!("{report:#?}");
    Ok(ExitCode::SUCCESS)
}
