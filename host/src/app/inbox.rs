//! Inbox folders: files dropped into `DATA/inbox/<site>/<connector>/` are
//! fed to the connector, then moved to `done/` or to `rejected/` with a
//! `.reason.txt` file beside them. Nothing is deleted.
//!
//! A file is read only once its size and modification time have held still
//! for [`SETTLE`], so a file still being copied in is not read half-way.
//! Names starting with `.` or ending in `.partial`, `.tmp` or `~` are
//! skipped: copy tools write under such names and rename when done.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use switchboard_engine::IngestMode;

use super::{App, IntakeError};
use crate::cli::content_type_for;

/// How long a file must stay unchanged before it is read.
pub const SETTLE: Duration = Duration::from_millis(300);

/// How often the inbox folders are scanned.
const SCAN_INTERVAL: Duration = Duration::from_millis(200);

/// Starts the inbox scanner for every connector with `inbox = true`.
pub fn start(app: Arc<App>, stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    let spawned = std::thread::Builder::new()
        .name("switchboard-inbox".into())
        .spawn(move || run(&app, &stop));
    match spawned {
        Ok(thread) => vec![thread],
        Err(error) => {
            tracing::error!(%error, "failed to start the inbox scanner");
            Vec::new()
        }
    }
}

fn run(app: &App, stop: &AtomicBool) {
    let mut seen: HashMap<PathBuf, (u64, SystemTime, Instant)> = HashMap::new();
    while !stop.load(Ordering::SeqCst) {
        for (site, connector, dir) in inbox_dirs(app) {
            if let Err(error) = std::fs::create_dir_all(&dir) {
                tracing::error!(site, connector, path = %dir.display(), %error, "failed to create the inbox folder");
                continue;
            }
            for path in ready_files(&dir, &mut seen) {
                if process(app, &site, &connector, &path) {
                    seen.remove(&path);
                } else {
                    // Try again after another settle period.
                    seen.insert(path, (0, SystemTime::UNIX_EPOCH, Instant::now()));
                }
            }
        }
        std::thread::sleep(SCAN_INTERVAL);
    }
}

fn inbox_dirs(app: &App) -> Vec<(String, String, PathBuf)> {
    let mut dirs = Vec::new();
    for site in app.sites.ids() {
        let Some(handle) = app.sites.get(&site) else {
            continue;
        };
        for connector in handle.state().config.connectors.iter().filter(|c| c.inbox) {
            dirs.push((
                site.clone(),
                connector.name.clone(),
                app.inbox_dir(&site, &connector.name),
            ));
        }
    }
    dirs
}

/// Files whose size and modification time have not changed for [`SETTLE`].
fn ready_files(
    dir: &Path,
    seen: &mut HashMap<PathBuf, (u64, SystemTime, Instant)>,
) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut ready = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() || skipped_name(&path) {
            continue;
        }
        let stamp = (
            meta.len(),
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        );
        match seen.get(&path) {
            Some((len, modified, since)) if (*len, *modified) == stamp => {
                if since.elapsed() >= SETTLE {
                    ready.push(path);
                }
            }
            _ => {
                seen.insert(path, (stamp.0, stamp.1, Instant::now()));
            }
        }
    }
    ready.sort();
    ready
}

fn skipped_name(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.starts_with('.')
        || name.ends_with(".partial")
        || name.ends_with(".tmp")
        || name.ends_with('~')
        || name.ends_with(".reason.txt")
}

/// Feeds one file to its connector and files it away. Returns false when
/// the failure was the host's (shutting down, site loading, store error),
/// so the file stays for another try.
fn process(app: &App, site: &str, connector: &str, path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("input")
        .to_string();
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            app.stats.warnings.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(site, connector, file = %name, %error, "failed to read an inbox file; retrying");
            return false;
        }
    };
    let outcome = match app.intake(
        site,
        connector,
        &bytes,
        content_type_for(&name),
        IngestMode::Live,
    ) {
        Ok(report) => Ok(report),
        Err(
            error @ (IntakeError::NotAccepting
            | IntakeError::UnknownSite(_)
            | IntakeError::Engine(_)),
        ) => {
            app.stats.warnings.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(site, connector, file = %name, %error, "inbox file not ingested yet; it stays for another try");
            return false;
        }
        Err(error) => Err(error.to_string()),
    };

    let dir = path.parent().unwrap_or(Path::new("."));
    match outcome {
        Ok(report) if report.rejects.is_empty() => {
            tracing::info!(site, connector, file = %name, new = report.new, updated = report.updated, duplicate = report.duplicate, "inbox file ingested");
            move_to(path, &dir.join("done"), None);
        }
        Ok(report) => {
            // The usable part is stored; the file goes to rejected/ so a
            // person sees the rejects beside it.
            let reasons: Vec<String> = report.rejects.iter().map(ToString::to_string).collect();
            let stored = report.new
                + report.updated
                + report.duplicate
                + report.stale
                + report.closed
                + report.reopened
                + report.rerouted
                + report.events;
            app.stats.warnings.fetch_add(1, Ordering::Relaxed);
            if stored == 0 {
                tracing::warn!(site, connector, file = %name, rejects = reasons.len(), "inbox file rejected; nothing in it was stored");
            } else {
                tracing::warn!(site, connector, file = %name, rejects = reasons.len(), stored, "inbox file partly rejected");
            }
            move_to(path, &dir.join("rejected"), Some(&reasons.join("\n")));
        }
        Err(reason) => {
            app.stats.warnings.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(site, connector, file = %name, error = %reason, "inbox file rejected");
            move_to(path, &dir.join("rejected"), Some(&reason));
        }
    }
    true
}

fn move_to(path: &Path, dir: &Path, reason: Option<&str>) {
    let Some(name) = path.file_name() else { return };
    if let Err(error) = std::fs::create_dir_all(dir) {
        tracing::error!(path = %dir.display(), %error, "failed to create the inbox result folder");
        return;
    }
    let mut target = dir.join(name);
    // Never overwrite an earlier file of the same name.
    let mut counter = 1;
    while target.exists() {
        target = dir.join(format!("{}.{counter}", name.to_string_lossy()));
        counter += 1;
    }
    if let Some(reason) = reason {
        let note = PathBuf::from(format!("{}.reason.txt", target.display()));
        if let Err(error) = std::fs::write(&note, format!("{reason}\n")) {
            tracing::error!(path = %note.display(), %error, "failed to write the rejection reason");
        }
    }
    if let Err(error) = std::fs::rename(path, &target) {
        tracing::error!(from = %path.display(), to = %target.display(), %error, "failed to move the inbox file");
    }
}
