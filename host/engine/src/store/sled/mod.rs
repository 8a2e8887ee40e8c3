//! The sled implementation of [`Store`].
//!
//! Layout: the `log` tree contains one record per commit, keyed by
//! sequence number. It is the source of truth. Every other tree is a projection of
//! the log: `items`, and derived from them `sources` (dedupe keys),
//! `worklist`, `pending` and `dead_letters`; beside them
//! `cursors`, `kv`, `audit`, `activations`, `nudges`, `events` and
//! `metrics`. `meta` holds the schema version and the sequence number the
//! trees are applied up to.
//!
//! A commit costs one log insert and a share of one flush; the projection
//! runs after the flush and is not flushed by itself. After a crash, open
//! replays the records past the applied sequence number.

mod commit;
mod deferred;
mod log;
mod migrate;
mod open;
mod project;
mod reads;
mod recovery;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::info;

use self::commit::Job;
use self::deferred::Deferred;
use self::project::Counters;
use crate::error::StoreError;
use crate::model::{ItemId, StoredEvent};
use crate::store::{Committed, Mutation, StoreStats, keys};
use switchboard_sdk::Event;

/// Settings of a [`SledStore`].
#[derive(Clone, Debug)]
pub struct SledOptions {
    /// Page cache size in bytes. sled's own default is 1 GiB; a smaller
    /// cache keeps the server's memory use predictable.
    pub cache_bytes: u64,
}

impl Default for SledOptions {
    fn default() -> Self {
        SledOptions {
            cache_bytes: 128 * 1024 * 1024,
        }
    }
}

/// The trees of one database.
#[derive(Debug)]
pub(crate) struct Trees {
    pub log: sled::Tree,
    pub meta: sled::Tree,
    pub items: sled::Tree,
    pub sources: sled::Tree,
    pub worklist: sled::Tree,
    pub pending: sled::Tree,
    pub dead_letters: sled::Tree,
    pub cursors: sled::Tree,
    pub kv: sled::Tree,
    pub audit: sled::Tree,
    pub activations: sled::Tree,
    pub nudges: sled::Tree,
    pub events: sled::Tree,
    pub metrics: sled::Tree,
}

impl Trees {
    fn open(db: &sled::Db) -> Result<Trees, sled::Error> {
        Ok(Trees {
            log: db.open_tree("log")?,
            meta: db.open_tree("meta")?,
            items: db.open_tree("items")?,
            sources: db.open_tree("sources")?,
            worklist: db.open_tree("worklist")?,
            pending: db.open_tree("pending")?,
            dead_letters: db.open_tree("dead_letters")?,
            cursors: db.open_tree("cursors")?,
            kv: db.open_tree("kv")?,
            audit: db.open_tree("audit")?,
            activations: db.open_tree("activations")?,
            nudges: db.open_tree("nudges")?,
            events: db.open_tree("events")?,
            metrics: db.open_tree("metrics")?,
        })
    }

    /// Returns every tree the log projects into (all but `log` and
    /// `meta`), with its name.
    pub fn projected(&self) -> [(&'static str, &sled::Tree); 12] {
        [
            ("items", &self.items),
            ("sources", &self.sources),
            ("worklist", &self.worklist),
            ("pending", &self.pending),
            ("dead_letters", &self.dead_letters),
            ("cursors", &self.cursors),
            ("kv", &self.kv),
            ("audit", &self.audit),
            ("activations", &self.activations),
            ("nudges", &self.nudges),
            ("events", &self.events),
            ("metrics", &self.metrics),
        ]
    }
}

/// Key of the schema version in `meta`.
const META_SCHEMA: &[u8] = b"schema";
/// Key of the last applied log sequence number in `meta`.
const META_APPLIED: &[u8] = b"applied";

/// State shared by the handle and the committer thread.
#[derive(Debug)]
pub(crate) struct Shared {
    pub path: PathBuf,
    pub db: sled::Db,
    /// sled's main file, synced after every flush (see [`Shared::flush`]).
    db_file: std::fs::File,
    pub trees: Trees,
    pub counters: Mutex<Counters>,
    pub deferred: RwLock<Deferred>,
    next_item: AtomicU64,
    next_seq: AtomicU64,
    failure: Mutex<Option<String>>,
    commits: AtomicU64,
    flushes: AtomicU64,
    conflicts: AtomicU64,
    replayed_at_open: AtomicU64,
}

impl Shared {
    fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Returns the highest sequence number handed out so far.
    fn last_seq(&self) -> u64 {
        self.next_seq.load(Ordering::Relaxed).saturating_sub(1)
    }

    fn deferred(&self) -> std::sync::RwLockReadGuard<'_, Deferred> {
        self.deferred.read().unwrap_or_else(|p| p.into_inner())
    }

    fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_failure(&self, cause: String) {
        let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        failure.get_or_insert(cause);
    }

    fn count_conflict(&self) {
        self.conflicts.fetch_add(1, Ordering::Relaxed);
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.db
            .flush()
            .map_err(|e| io_error(&self.path, "flushing to disk", &e))?;

        // sled's flush ends with `sync_file_range`, which writes the data
        // pages but neither the file's size nor the drive's write cache, so
        // an append could still be lost to a power failure. `fdatasync`
        // covers both.
        self.db_file
            .sync_data()
            .map_err(|e| io_error(&self.path, "syncing the database file", &sled::Error::Io(e)))
    }

    fn count_commits(&self, commits: usize) {
        self.commits.fetch_add(commits as u64, Ordering::Relaxed);
    }

    fn set_applied(&self, seq: u64) -> Result<(), StoreError> {
        self.trees
            .meta
            .insert(META_APPLIED, &seq.to_be_bytes())
            .map(drop)
            .map_err(|e| io_error(&self.path, "recording the applied log position", &e))
    }

    fn applied(&self) -> Result<u64, StoreError> {
        let value = self
            .trees
            .meta
            .get(META_APPLIED)
            .map_err(|e| io_error(&self.path, "reading the applied log position", &e))?;
        Ok(value
            .and_then(|v| v.as_ref().try_into().ok())
            .map_or(0, u64::from_be_bytes))
    }
}

/// The sled store. Cheap to share behind an `Arc`; every method may be
/// called from any thread.
///
/// One process may have a database open at a time: sled holds an exclusive
/// file lock, and [`SledStore::open`] reports [`StoreError::InUse`] when the
/// lock is taken. Dropping the store stops its committer thread after it
/// finishes the queued commits.
#[derive(Debug)]
pub struct SledStore {
    // Fields drop in order: the database first, then the wait for its lock.
    shared: Arc<Shared>,
    jobs: Mutex<Option<Sender<Job>>>,
    committer: Mutex<Option<JoinHandle<()>>>,
    _release: LockRelease,
}

/// How long a dropped store waits for sled's background writers to close
/// the data file. They finish within milliseconds on a healthy disk.
const LOCK_RELEASE_TIMEOUT: Duration = Duration::from_secs(5);

/// Waits, when dropped, until the database's file lock is free again.
///
/// sled 0.34 finishes buffered writes on background threads that keep the
/// data file (and its exclusive lock) open for a moment after the last
/// handle is dropped. Waiting here makes "close, then open again" in one
/// process reliable, as a restart or a test needs.
#[derive(Debug)]
struct LockRelease {
    file: PathBuf,
}

impl Drop for LockRelease {
    fn drop(&mut self) {
        let Ok(file) = std::fs::File::open(&self.file) else {
            return;
        };
        let started = std::time::Instant::now();
        while file.try_lock().is_err() {
            if started.elapsed() > LOCK_RELEASE_TIMEOUT {
                tracing::warn!(file = %self.file.display(), "the database file is still locked after closing the store");
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if let Err(error) = file.unlock() {
            tracing::debug!(%error, "could not unlock the probe of the database file");
        }
    }
}

impl SledStore {
    /// Opens or creates the database in `path` with default options.
    ///
    /// # Errors
    ///
    /// See [`SledStore::open_with`].
    pub fn open(path: impl AsRef<Path>) -> Result<SledStore, StoreError> {
        SledStore::open_with(path, &SledOptions::default())
    }

    /// Opens or creates the database in `path`, checks its schema version,
    /// replays log records that were not applied before a crash and starts
    /// the committer thread.
    ///
    /// # Errors
    ///
    /// [`StoreError::InUse`] when another process has it open (after
    /// waiting up to two seconds for a handle that is closing),
    /// [`StoreError::NotADatabase`] for a folder of other files,
    /// [`StoreError::Corrupted`] for damaged files,
    /// [`StoreError::SchemaMismatch`] for an unknown schema version and
    /// [`StoreError::Io`] when the folder cannot be read or written.
    pub fn open_with(
        path: impl AsRef<Path>,
        options: &SledOptions,
    ) -> Result<SledStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let db = open::open_db(&path, options)?;
        let trees = Trees::open(&db).map_err(|e| open::classify(&path, e))?;
        open::check_schema(&path, &db, &trees)?;

        let db_file = std::fs::File::open(path.join(open::MAIN_FILE)).map_err(|e| {
            io_error(
                &path,
                "opening the database file for syncing",
                &sled::Error::Io(e),
            )
        })?;
        let shared = Shared {
            path: path.clone(),
            db,
            db_file,
            trees,
            counters: Mutex::new(Counters::default()),
            deferred: RwLock::new(Deferred::default()),
            next_item: AtomicU64::new(1),
            next_seq: AtomicU64::new(1),
            failure: Mutex::new(None),
            commits: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
            replayed_at_open: AtomicU64::new(0),
        };
        let replayed = recovery::replay_unapplied(&shared)?;
        shared.replayed_at_open.store(replayed, Ordering::Relaxed);
        recovery::load_positions(&shared)?;
        recovery::load_counters(&shared)?;
        info!(path = %path.display(), replayed, "store opened");

        let shared = Arc::new(shared);
        let (sender, receiver) = channel();
        let worker = Arc::clone(&shared);
        let committer = std::thread::Builder::new()
            .name("store-committer".into())
            .spawn(move || commit::run(&worker, &receiver))
            .map_err(|e| StoreError::Io {
                path: path.clone(),
                operation: "starting the committer thread",
                message: e.to_string(),
            })?;
        Ok(SledStore {
            shared,
            jobs: Mutex::new(Some(sender)),
            committer: Mutex::new(Some(committer)),
            _release: LockRelease {
                file: path.join("db"),
            },
        })
    }

    /// Returns whether `path` contains a store, without opening or
    /// creating anything. [`SledStore::open`] creates a store in an empty
    /// or missing folder, so offline tools call this first to reject a
    /// mistyped path. A folder of another sled database also counts; open
    /// then reports [`StoreError::NotADatabase`].
    pub fn exists(path: impl AsRef<Path>) -> bool {
        open::holds_store(path.as_ref())
    }

    /// Returns the data directory.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Bytes the database files take on disk.
    ///
    /// # Errors
    ///
    /// The storage engine's I/O error.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.shared
            .db
            .size_on_disk()
            .map_err(|e| io_error(&self.shared.path, "measuring the database", &e))
    }

    fn submit(&self, job: Job) -> Result<(), StoreError> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let sender = jobs.as_ref().ok_or(StoreError::Closed)?;
        sender.send(job).map_err(|_| StoreError::Closed)
    }

    /// Runs `task` on the committer thread between two groups, so no commit
    /// overlaps it, and returns its result.
    fn exclusive<T: Send + 'static>(
        &self,
        task: impl FnOnce(&Shared) -> T + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, outcome) = channel();
        self.submit(Job::Exclusive(Box::new(move |shared| {
            if reply.send(task(shared)).is_err() {
                tracing::debug!("the caller of an exclusive store task went away");
            }
        })))?;
        outcome.recv().map_err(|_| StoreError::Closed)
    }

    fn commit_inner(&self, mutations: Vec<Mutation>) -> Result<Committed, StoreError> {
        let (reply, outcome) = channel();
        self.submit(Job::Commit(commit::prepare(mutations, reply)))?;
        outcome.recv().map_err(|_| StoreError::Closed)?
    }

    fn stats_inner(&self) -> StoreStats {
        StoreStats {
            commits: self.shared.commits.load(Ordering::Relaxed),
            flushes: self.shared.flushes.load(Ordering::Relaxed),
            conflicts: self.shared.conflicts.load(Ordering::Relaxed),
            replayed_at_open: self.shared.replayed_at_open.load(Ordering::Relaxed),
        }
    }

    fn allocate(&self) -> ItemId {
        ItemId(self.shared.next_item.fetch_add(1, Ordering::Relaxed))
    }
}

impl SledStore {
    /// Stops the committer, which finishes the queued commits and then
    /// projects the deferred items and records the applied position, and
    /// flushes that last write. Without the flush the applied position
    /// written after the last commit's flush stays in memory only.
    fn close_inner(&self) -> Result<(), StoreError> {
        let sender = self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(sender);

        let handle = self
            .committer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(handle) = handle
            && handle.join().is_err()
        {
            tracing::error!("store committer thread panicked");
        }

        self.shared.flush()
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        if let Err(error) = self.close_inner() {
            tracing::error!(%error, "final flush of the store failed; the log replays on the next open");
        }
    }
}

/// Converts a sled error met during normal operation.
pub(crate) fn io_error(path: &Path, operation: &'static str, error: &sled::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        operation,
        message: error.to_string(),
    }
}

/// `events` key: site, kind, the event's own id and, for chart events, the
/// change and its time. A redelivered event has the same key.
pub(crate) fn event_key(stored: &StoredEvent) -> Vec<u8> {
    let mut key = keys::site_prefix(&stored.site);
    match &stored.event {
        Event::Chart(chart) => {
            key.push(b'c');
            keys::push_str(&mut key, &chart.encounter);
            key.push(chart.change as u8);
            key.extend_from_slice(&keys::time_bytes(Some(chart.at)));
        }
        Event::Claim(claim) => {
            key.push(b'l');
            keys::push_str(&mut key, &claim.claim);
        }
        Event::Appointment(appointment) => {
            key.push(b'a');
            keys::push_str(&mut key, &appointment.external_id);
        }
    }
    key
}
