//! The durable store behind the engine.
//!
//! The engine reads through the [`Store`] trait and writes only by
//! [`Store::commit`]: a list of [`Mutation`]s that is applied atomically and
//! is durable when the call returns. The sled implementation is
//! [`SledStore`]; a PostgreSQL one can implement the same trait.
//!
//! Writers use optimistic concurrency. An item put names the revision it was
//! computed from. If another commit changed the item first, the whole commit
//! fails with [`StoreError::Conflict`], and the writer re-reads and retries.

mod keys;
mod sled;

use serde::{Deserialize, Serialize};
use switchboard_sdk::Timestamp;

pub use self::sled::{SledOptions, SledStore};
use crate::error::StoreError;
use crate::model::{
    Activation, AuditEntry, DeadLetter, Item, ItemId, MetricSnapshot, NudgeRecord, StoredEvent,
};
use crate::worklist::{IndexPage, SiteCounts, WorklistQuery};

/// The schema version this build writes. Stored at creation and checked on
/// every open. Version 2 keys sent nudges by recipient as well as by item
/// and level; a version 1 store is migrated when opened.
pub const SCHEMA_VERSION: u32 = 2;

/// Maximum kv key length in bytes, from the WIT `kv` interface.
pub const KV_MAX_KEY_BYTES: usize = 256;

/// Maximum kv value length in bytes, from the WIT `kv` interface.
pub const KV_MAX_VALUE_BYTES: usize = 64 * 1024;

/// A commit's precondition on an item it writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expect {
    /// The item and its source key must not exist yet.
    New,
    /// The stored item must have this revision.
    Revision(u64),
}

/// One change in a commit. Every mutation is recorded in the log; the trees
/// are derived from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Mutation {
    /// Stores an item's new state. The store sets its revision.
    PutItem {
        /// The new state.
        item: Box<Item>,
        /// The precondition.
        expect: Expect,
    },
    /// Sets or clears a connector's poll cursor.
    SetCursor {
        /// Site id.
        site: String,
        /// Connector instance.
        connector: String,
        /// The cursor, `None` to clear it.
        cursor: Option<String>,
    },
    /// Sets a plugin's kv entry.
    KvSet {
        /// Site id.
        site: String,
        /// Plugin name.
        plugin: String,
        /// Key, at most [`KV_MAX_KEY_BYTES`].
        key: String,
        /// Value, at most [`KV_MAX_VALUE_BYTES`].
        value: Vec<u8>,
    },
    /// Deletes a plugin's kv entry.
    KvDelete {
        /// Site id.
        site: String,
        /// Plugin name.
        plugin: String,
        /// Key.
        key: String,
    },
    /// Appends to the audit trail.
    Audit(AuditEntry),
    /// Records a plugin activation.
    Activation(Activation),
    /// Stores a chart, claim or appointment event; a redelivered event
    /// replaces the stored copy.
    Event(StoredEvent),
    /// Records a sent nudge; the commit fails with a conflict if this level
    /// of the item was already sent to the same recipient.
    Nudge(NudgeRecord),
    /// Stores a daily metric snapshot, replacing one of the same date.
    Metric(MetricSnapshot),
}

/// The outcome of a successful commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Committed {
    /// Sequence number of the log record.
    pub seq: u64,
}

/// The findings of [`Store::verify`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Log records read.
    pub log_records: u64,
    /// Items checked.
    pub items: u64,
    /// Tree entries checked.
    pub entries: u64,
    /// How many mismatches were found in total.
    pub mismatch_count: u64,
    /// The first mismatches, at most [`VerifyReport::MAX_LISTED`].
    pub mismatches: Vec<Mismatch>,
}

impl VerifyReport {
    /// How many mismatches a report lists; the rest are only counted.
    pub const MAX_LISTED: usize = 100;

    /// True when the trees match the log.
    pub fn is_healthy(&self) -> bool {
        self.mismatch_count == 0
    }
}

/// One difference between a tree and what the log implies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// Tree name.
    pub tree: String,
    /// The key, printable.
    pub key: String,
    /// The kind of difference.
    pub problem: MismatchKind,
}

/// The ways a tree entry can differ from the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MismatchKind {
    /// The log implies the entry, the tree lacks it.
    Missing,
    /// The tree has an entry the log does not imply.
    Unexpected,
    /// Both have the key with different values.
    Different,
}

/// The outcome of [`Store::rebuild`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildReport {
    /// Log records replayed.
    pub log_records: u64,
    /// Items in the rebuilt store.
    pub items: u64,
}

/// How far a rebuild has come, passed to the callback of
/// [`SledStore::rebuild_with_progress`] after each log record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RebuildProgress {
    /// Log records replayed so far.
    pub replayed: u64,
    /// Log records in the log when the rebuild started.
    pub total: u64,
}

/// Counters of the write path, for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreStats {
    /// Commits written.
    pub commits: u64,
    /// Disk flushes; below `commits` when group commit shared flushes.
    pub flushes: u64,
    /// Commits rejected by a failed precondition.
    pub conflicts: u64,
    /// Log records that opening the store replayed because they were not
    /// applied to the trees before the last stop; 0 after a clean close.
    #[serde(default)]
    pub replayed_at_open: u64,
}

/// Durable storage of items and everything kept beside them.
///
/// Implementations are shared between threads; every method may be called
/// concurrently. Reads see every commit that returned before them.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Applies `mutations` atomically and durably: when this returns `Ok`,
    /// the change survives a crash and is visible to reads.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when a precondition failed (nothing was
    /// written); [`StoreError::Io`] or [`StoreError::Failed`] when the disk
    /// failed. Nothing was acknowledged then, but the change may reappear
    /// after a restart, which is harmless because every mutation is
    /// idempotent.
    fn commit(&self, mutations: Vec<Mutation>) -> Result<Committed, StoreError>;

    /// Reserves a new item id. Ids that are never committed leave gaps.
    fn allocate_item_id(&self) -> ItemId;

    /// Reads an item.
    ///
    /// # Errors
    ///
    /// I/O or decode failures.
    fn item(&self, id: ItemId) -> Result<Option<Item>, StoreError>;

    /// Finds the item and stored version of a source identity.
    ///
    /// # Errors
    ///
    /// I/O or decode failures.
    fn find_source(
        &self,
        site: &str,
        connector: &str,
        external_id: &str,
    ) -> Result<Option<(ItemId, u64)>, StoreError>;

    /// Reads a site's items in id order, starting after `after`.
    ///
    /// # Errors
    ///
    /// I/O or decode failures.
    fn items(
        &self,
        site: &str,
        after: Option<ItemId>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError>;

    /// Reads one page of a worklist index. `now` decides the overdue filter.
    ///
    /// # Errors
    ///
    /// An invalid cursor, I/O or decode failures.
    fn worklist(&self, query: &WorklistQuery, now: Timestamp) -> Result<IndexPage, StoreError>;

    /// Counts a site's open items per role and person.
    ///
    /// # Errors
    ///
    /// I/O or decode failures.
    fn counts(&self, site: &str, now: Timestamp) -> Result<SiteCounts, StoreError>;

    /// Open items per person of a site, for `RouteContext.load`. People
    /// without open items are left out.
    fn load(&self, site: &str) -> Vec<(String, u32)>;

    /// Lists up to `limit` items of a site waiting for routing, oldest first.
    ///
    /// # Errors
    ///
    /// I/O failures.
    fn pending(&self, site: &str, limit: usize) -> Result<Vec<ItemId>, StoreError>;

    /// Lists dead letters, of one site or of all.
    ///
    /// # Errors
    ///
    /// I/O or decode failures.
    fn dead_letters(&self, site: Option<&str>) -> Result<Vec<DeadLetter>, StoreError>;

    /// Lists routed open items of a site whose due time is before `until`,
    /// soonest first, for the nudge scheduler. Items waiting for routing
    /// have no owner to nudge and are not listed.
    ///
    /// # Errors
    ///
    /// I/O failures.
    fn deadlines(
        &self,
        site: &str,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<(Timestamp, ItemId)>, StoreError>;

    /// Reads a connector's poll cursor.
    ///
    /// # Errors
    ///
    /// I/O failures.
    fn cursor(&self, site: &str, connector: &str) -> Result<Option<String>, StoreError>;

    /// Reads a plugin's kv entry.
    ///
    /// # Errors
    ///
    /// I/O failures.
    fn kv_get(&self, site: &str, plugin: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Lists audit entries, newest first, optionally of one site.
    ///
    /// # Errors
    ///
    /// I/O or decode failures.
    fn audit(&self, site: Option<&str>, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;

    /// Lists plugin activations, newest first, optionally of one site.
    ///
    /// # Errors
    ///
    /// I/O or decode failures.
    fn activations(&self, site: Option<&str>, limit: usize) -> Result<Vec<Activation>, StoreError>;

    /// Lists the nudges sent for an item.
    ///
    /// # Errors
    ///
    /// I/O or decode failures.
    fn nudges(&self, item: ItemId) -> Result<Vec<NudgeRecord>, StoreError>;

    /// Lists a site's chart, claim and appointment events.
    ///
    /// # Errors
    ///
    /// I/O or decode failures.
    fn events(&self, site: &str) -> Result<Vec<StoredEvent>, StoreError>;

    /// Lists a site's metric snapshots with dates in `from..=to`
    /// (`YYYY-MM-DD`).
    ///
    /// # Errors
    ///
    /// I/O or decode failures.
    fn metric_snapshots(
        &self,
        site: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<MetricSnapshot>, StoreError>;

    /// Checks every tree against the log and reports mismatches.
    ///
    /// # Errors
    ///
    /// I/O failures or an undecodable log record.
    fn verify(&self) -> Result<VerifyReport, StoreError>;

    /// Rebuilds every tree from the log. Writers must be idle: commits that
    /// arrive meanwhile wait until it finishes.
    ///
    /// # Errors
    ///
    /// I/O failures or an undecodable log record.
    fn rebuild(&self) -> Result<RebuildReport, StoreError>;

    /// Write-path counters.
    fn stats(&self) -> StoreStats;

    /// Closes the store cleanly: finishes the queued commits, projects
    /// what is still deferred, records the applied log position and
    /// flushes, so the next open replays nothing. Later commits fail with
    /// [`StoreError::Closed`] while reads keep working. A second call only
    /// flushes again.
    ///
    /// Call it on a clean stop instead of relying on drop, because a
    /// handle that is still shared when the process exits is never dropped.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the final flush fails; the next open then
    /// replays the log records whose projection was not flushed.
    fn close(&self) -> Result<(), StoreError>;
}
