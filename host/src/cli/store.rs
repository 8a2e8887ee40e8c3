//! `switchboard store verify|rebuild --data DIR`: offline maintenance.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use switchboard_engine::store::{MismatchKind, RebuildReport, VerifyReport};
use switchboard_engine::{SledStore, Store};

use super::output::stdout;
use super::progress::Progress;
use crate::config::quote;

/// Opens the store in `DATA/db`, rejecting a folder without one. Opening
/// creates a store in an empty or missing folder, so without this check a
/// mistyped path would get a new, empty store and a report of success.
fn open(data: &Path) -> anyhow::Result<SledStore> {
    let db = data.join("db");
    if !SledStore::exists(&db) {
        anyhow::bail!(
            "no Switchboard store at {}; pass the data folder of an existing host, the one named by data_dir in switchboard.toml",
            quote(data)
        );
    }
    SledStore::open(db)
        .map_err(|e| anyhow::anyhow!("{e}; stop `switchboard serve` before offline maintenance"))
}

/// Checks the trees against the log, prints a summary and exits 1 on any
/// mismatch.
pub fn verify(data: &Path) -> anyhow::Result<ExitCode> {
    let store = open(data)?;
    let replayed = store.stats().replayed_at_open;

    let report = store.verify()?;

    write!(stdout(), "{}", verify_summary(&report, replayed, data))?;
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
    write!(stdout(), "{}", rebuild_summary(&report))?;
    Ok(ExitCode::SUCCESS)
}

/// Formats a verify report: the counts, then each listed mismatch on its
/// own line. `replayed` is the number of log records the open replayed.
fn verify_summary(report: &VerifyReport, replayed: u64, data: &Path) -> String {
    let mut out = String::new();
    let verdict = if report.is_healthy() {
        "healthy: the trees match the log"
    } else {
        "damaged: the trees differ from the log"
    };
    let _ = writeln!(out, "store {}: {verdict}", quote(&data.join("db")));
    let _ = writeln!(out, "log records checked    {}", report.log_records);
    let _ = writeln!(out, "tree entries checked   {}", report.entries);
    let _ = writeln!(out, "items                  {}", report.items);
    let _ = writeln!(out, "replayed at open       {replayed}");
    let _ = writeln!(out, "mismatches             {}", report.mismatch_count);

    for mismatch in &report.mismatches {
        let _ = writeln!(
            out,
            "  {} {}: {}",
            mismatch.tree,
            mismatch.key,
            describe(mismatch.problem)
        );
    }
    let unlisted = report.mismatch_count - report.mismatches.len() as u64;
    if unlisted > 0 {
        let _ = writeln!(out, "  and {unlisted} more not listed");
    }
    if !report.is_healthy() {
        let _ = writeln!(
            out,
            "run `switchboard store rebuild --data {}` with the host stopped to rebuild the trees from the log",
            data.display()
        );
    }
    out
}

fn describe(problem: MismatchKind) -> &'static str {
    match problem {
        MismatchKind::Missing => "missing: the log implies this entry but the tree lacks it",
        MismatchKind::Unexpected => "unexpected: the tree has an entry the log does not imply",
        MismatchKind::Different => "different: the tree's value differs from the log's",
    }
}

fn rebuild_summary(report: &RebuildReport) -> String {
    format!(
        "store rebuilt from its log\nlog records replayed   {}\nitems                  {}\n",
        report.log_records, report.items
    )
}

#[cfg(test)]
mod tests {
    use switchboard_engine::store::Mismatch;

    use super::*;

    fn mismatch(tree: &str, key: &str, problem: MismatchKind) -> Mismatch {
        Mismatch {
            tree: tree.to_string(),
            key: key.to_string(),
            problem,
        }
    }

    #[test]
    fn healthy_summary_lists_counts() {
        let report = VerifyReport {
            log_records: 12,
            items: 5,
            entries: 40,
            mismatch_count: 0,
            mismatches: Vec::new(),
        };

        let summary = verify_summary(&report, 0, Path::new("/srv/data"));

        assert_eq!(
            summary,
            "store \"/srv/data/db\": healthy: the trees match the log\n\
             log records checked    12\n\
             tree entries checked   40\n\
             items                  5\n\
             replayed at open       0\n\
             mismatches             0\n"
        );
    }

    #[test]
    fn damaged_summary_lists_each_mismatch() {
        let report = VerifyReport {
            log_records: 3,
            items: 2,
            entries: 9,
            mismatch_count: 4,
            mismatches: vec![
                mismatch("worklist", "00 01", MismatchKind::Missing),
                mismatch("items", "00 02", MismatchKind::Different),
            ],
        };

        let summary = verify_summary(&report, 1, Path::new("data"));
        let lines: Vec<&str> = summary.lines().collect();

        assert_eq!(
            lines[0],
            "store \"data/db\": damaged: the trees differ from the log"
        );
        assert_eq!(lines[4], "replayed at open       1");
        assert_eq!(lines[5], "mismatches             4");
        assert_eq!(
            lines[6],
            "  worklist 00 01: missing: the log implies this entry but the tree lacks it"
        );
        assert_eq!(
            lines[7],
            "  items 00 02: different: the tree's value differs from the log's"
        );
        assert_eq!(lines[8], "  and 2 more not listed");
        assert_eq!(
            lines[9],
            "run `switchboard store rebuild --data data` with the host stopped to rebuild the trees from the log"
        );
        assert_eq!(lines.len(), 10);
    }

    #[test]
    fn rebuild_summary_lists_counts() {
        let report = RebuildReport {
            log_records: 7,
            items: 3,
        };

        let summary = rebuild_summary(&report);

        assert_eq!(
            summary,
            "store rebuilt from its log\nlog records replayed   7\nitems                  3\n"
        );
    }

    #[test]
    fn missing_store_is_rejected_and_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let mistyped = dir.path().join("dta");

        let error = open(&mistyped).unwrap_err();

        assert_eq!(
            error.to_string(),
            format!(
                "no Switchboard store at {}; pass the data folder of an existing host, the one named by data_dir in switchboard.toml",
                quote(&mistyped)
            )
        );
        assert!(!mistyped.exists());
    }
}
