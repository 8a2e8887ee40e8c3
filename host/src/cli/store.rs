//! `switchboard store verify|rebuild --data DIR`: offline maintenance.

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use switchboard_engine::{SledStore, Store};

use super::progress::Progress;

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

/// Rebuilds the trees from the log, showing the records replayed on a
/// terminal.
pub fn rebuild(data: &Path) -> anyhow::Result<ExitCode> {
    let store = open(data)?;

    // The callback runs on the store's thread; the line is finished here.
    let progress = Arc::new(Mutex::new(Progress::stderr(
        "store rebuild",
        "log records",
        0,
    )));
    let updates = Arc::clone(&progress);
    let rebuilt = store.rebuild_with_progress(move |step| {
        let mut line = updates.lock().unwrap_or_else(|p| p.into_inner());
        line.set_total(step.total);
        line.set(step.replayed);
    });
    progress.lock().unwrap_or_else(|p| p.into_inner()).finish();

    let report = rebuilt?;
    println!("{report:#?}");
    Ok(ExitCode::SUCCESS)
}
