//! Opening a database: telling a foreign folder, a locked or damaged
//! database and an unknown schema version apart, with an error for each.

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use tracing::info;

use super::{META_SCHEMA, SledOptions, Trees};
use crate::error::StoreError;
use crate::store::SCHEMA_VERSION;

/// Files sled 0.34 keeps in a database folder.
const SLED_FILES: [&str; 2] = ["conf", MAIN_FILE];

/// The file in which sled keeps its log and pages.
pub(super) const MAIN_FILE: &str = "db";

/// A file written beside sled's files once a store is created. sled 0.34
/// opens a data file of garbage as an empty database, and the marker
/// separates that case from a new store.
const MARKER: &str = "switchboard-store";

/// How long open waits for a lock that a closing handle still holds. sled
/// releases the data file a moment after its last handle is dropped, so a
/// restart in the same process (or right after a process exits) may find
/// it still locked. A running server keeps it locked longer than this.
const IN_USE_WAIT: Duration = Duration::from_secs(2);

/// Schema versions older than [`SCHEMA_VERSION`] that this build migrates,
/// each with the step that brings it to [`SCHEMA_VERSION`].
const MIGRATIONS: &[(u32, Migration)] = &[(1, super::migrate::nudges_by_recipient)];

/// A step that rewrites the trees of one older schema version.
type Migration = fn(&Path, &Trees) -> Result<(), StoreError>;

/// Opens the sled database after checking that `path` contains one (or
/// is empty or absent).
pub(super) fn open_db(path: &Path, options: &SledOptions) -> Result<sled::Db, StoreError> {
    check_folder(path)?;

    let config = sled::Config::new()
        .path(path)
        .cache_capacity(options.cache_bytes)
        .mode(sled::Mode::HighThroughput)
        .flush_every_ms(None);

    let started = Instant::now();
    loop {
        // sled 0.34 panics on some damaged files instead of returning an
        // error. A panic during open leaves nothing shared behind, so it is
        // caught and reported like any corruption.
        let error = match catch_unwind(AssertUnwindSafe(|| config.open())) {
            Ok(Ok(db)) => return Ok(db),
            Ok(Err(error)) => classify(path, error),
            Err(panic) => {
                return Err(StoreError::Corrupted {
                    path: path.to_path_buf(),
                    detail: format!(
                        "the storage engine stopped while reading it: {}",
                        panic_text(&panic)
                    ),
                });
            }
        };

        let closing = matches!(error, StoreError::InUse { .. }) && started.elapsed() < IN_USE_WAIT;
        if !closing {
            return Err(error);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Returns whether `path` is a folder holding a store: the marker file, or
/// sled's files of a store created before the marker existed.
pub(super) fn holds_store(path: &Path) -> bool {
    path.join(MARKER).is_file() || SLED_FILES.iter().all(|f| path.join(f).is_file())
}

/// Rejects a path that is a file or a folder without sled's files.
fn check_folder(path: &Path) -> Result<(), StoreError> {
    let entries = match fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory || path.is_file() => {
            return Err(StoreError::NotADatabase {
                path: path.to_path_buf(),
                reason: "it is a file, not a folder".into(),
            });
        }
        Err(e) => {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                operation: "listing the data folder",
                message: e.to_string(),
            });
        }
    };

    let names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let sled_files = SLED_FILES.iter().all(|f| names.iter().any(|n| n == f));
    if names.is_empty() || sled_files || names.iter().any(|n| n == MARKER) {
        return Ok(());
    }

    let mut shown: Vec<&str> = names.iter().map(String::as_str).collect();
    shown.sort_unstable();
    shown.truncate(5);
    Err(StoreError::NotADatabase {
        path: path.to_path_buf(),
        reason: format!(
            "it holds other files ({}) and no database files ({})",
            shown.join(", "),
            SLED_FILES.join(", ")
        ),
    })
}

/// Maps a sled error from opening to the error a person can act on.
pub(super) fn classify(path: &Path, error: sled::Error) -> StoreError {
    match error {
        sled::Error::Io(e) if e.to_string().contains("could not acquire lock") => {
            StoreError::InUse {
                path: path.to_path_buf(),
            }
        }
        sled::Error::Io(e) => StoreError::Io {
            path: path.to_path_buf(),
            operation: "opening the database",
            message: e.to_string(),
        },
        sled::Error::Corruption { at, .. } => StoreError::Corrupted {
            path: path.to_path_buf(),
            detail: match at {
                Some(at) => format!("damaged data at {at}"),
                None => "damaged data".into(),
            },
        },
        other => StoreError::Corrupted {
            path: path.to_path_buf(),
            detail: other.to_string(),
        },
    }
}

/// Writes the schema version into a new database, migrates a known older
/// one and rejects anything else.
pub(super) fn check_schema(path: &Path, db: &sled::Db, trees: &Trees) -> Result<(), StoreError> {
    let io = |e: sled::Error| super::io_error(path, "reading the schema version", &e);
    let stored = trees.meta.get(META_SCHEMA).map_err(io)?;

    let Some(stored) = stored else {
        if path.join(MARKER).exists() {
            return Err(StoreError::Corrupted {
                path: path.to_path_buf(),
                detail: format!(
                    "the database files hold no data, but the marker file {MARKER} shows this \
                     store was created earlier, so its files were damaged or replaced"
                ),
            });
        }
        if !is_empty(db, trees).map_err(io)? {
            return Err(StoreError::NotADatabase {
                path: path.to_path_buf(),
                reason: "it is a sled database without a Switchboard schema version".into(),
            });
        }
        write_schema(path, db, trees, SCHEMA_VERSION)?;
        write_marker(path)?;
        info!(path = %path.display(), schema = SCHEMA_VERSION, "created a new store");
        return Ok(());
    };

    let found = stored
        .as_ref()
        .try_into()
        .map(u32::from_be_bytes)
        .map_err(|_| StoreError::Corrupted {
            path: path.to_path_buf(),
            detail: format!("the schema version has {} bytes instead of 4", stored.len()),
        })?;
    if found == SCHEMA_VERSION {
        if !path.join(MARKER).exists() {
            write_marker(path)?;
        }
        return Ok(());
    }

    let Some(&(_, migrate)) = MIGRATIONS.iter().find(|(from, _)| *from == found) else {
        return Err(StoreError::SchemaMismatch {
            path: path.to_path_buf(),
            found,
            expected: SCHEMA_VERSION,
        });
    };
    migrate(path, trees)?;
    write_schema(path, db, trees, SCHEMA_VERSION)?;
    write_marker(path)?;
    info!(path = %path.display(), from = found, to = SCHEMA_VERSION, "migrated the store schema");
    Ok(())
}

/// Writes the marker file and syncs it, so it exists whenever the schema
/// version does.
fn write_marker(path: &Path) -> Result<(), StoreError> {
    let io = |e: std::io::Error| StoreError::Io {
        path: path.to_path_buf(),
        operation: "writing the store marker file",
        message: e.to_string(),
    };
    let text = format!("Switchboard store, schema version {SCHEMA_VERSION}. Do not delete.\n");
    let file = fs::File::create(path.join(MARKER)).map_err(io)?;
    std::io::Write::write_all(&mut &file, text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

fn is_empty(db: &sled::Db, trees: &Trees) -> Result<bool, sled::Error> {
    if !db.is_empty() {
        return Ok(false);
    }
    let named = db.tree_names();
    for name in named {
        if db.open_tree(&name)?.len() > 0 {
            return Ok(false);
        }
    }
    Ok(trees.log.is_empty())
}

fn write_schema(path: &Path, db: &sled::Db, trees: &Trees, version: u32) -> Result<(), StoreError> {
    let io = |e: sled::Error| super::io_error(path, "writing the schema version", &e);
    trees
        .meta
        .insert(META_SCHEMA, &version.to_be_bytes())
        .map_err(io)?;
    db.flush().map_err(io)?;
    Ok(())
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic".into()
    }
}
