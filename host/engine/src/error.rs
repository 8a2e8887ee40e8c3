//! Error types: [`StoreError`] for the durable store, [`EngineError`] for
//! the engine's operations (which wrap store errors).

use std::path::PathBuf;

use crate::model::{ItemId, ItemStatus};

/// An error of a store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (or another handle in this one) has the database open.
    #[error(
        "database {} is in use by another process; send commands to the running \
         server's API instead of opening the store directly",
        .path.display()
    )]
    InUse {
        /// The data directory.
        path: PathBuf,
    },

    /// The directory contains something other than a Switchboard database.
    #[error(
        "{} is not a Switchboard database: {reason}; point the data directory at an \
         empty folder or at an existing store",
        .path.display()
    )]
    NotADatabase {
        /// The data directory.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },

    /// The database files exist but cannot be read.
    #[error(
        "database {} is corrupted: {detail}; restore the folder from a backup",
        .path.display()
    )]
    Corrupted {
        /// The data directory.
        path: PathBuf,
        /// What the storage engine reported.
        detail: String,
    },

    /// The database was written by a build with another schema version.
    #[error(
        "database {} has schema version {found}, but this build reads version {expected} \
         and knows no migration from it; run a Switchboard release that matches version {found}",
        .path.display()
    )]
    SchemaMismatch {
        /// The data directory.
        path: PathBuf,
        /// The version stored in the database.
        found: u32,
        /// The version this build writes.
        expected: u32,
    },

    /// Reading or writing the disk failed.
    #[error(
        "storage failed while {operation} in {}: {message}; check free disk space and \
         the folder's permissions",
        .path.display()
    )]
    Io {
        /// The data directory.
        path: PathBuf,
        /// What the store was doing.
        operation: &'static str,
        /// The storage engine's message.
        message: String,
    },

    /// An earlier write failed, so the store rejects writes until restarted.
    #[error(
        "the store rejects writes after an earlier failure ({cause}); fix the cause and \
         restart the server, which replays the log"
    )]
    Failed {
        /// The first failure.
        cause: String,
    },

    /// A precondition of a commit is no longer true because another writer
    /// changed the same record first. The caller re-reads and retries.
    #[error("conflicting concurrent change to {target}; retry with fresh data")]
    Conflict {
        /// The record, such as `item 42`.
        target: String,
    },

    /// A stored value could not be decoded.
    #[error("record {key} in tree {tree} cannot be decoded: {message}; run verify and rebuild")]
    Decode {
        /// Tree name.
        tree: &'static str,
        /// The key, printable.
        key: String,
        /// The decoder's message.
        message: String,
    },

    /// A key-value entry is over its size limit.
    #[error("kv {what} of {size} bytes is over the limit of {max} bytes")]
    TooLarge {
        /// `key` or `value`.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },

    /// The store was shut down.
    #[error("the store is closed")]
    Closed,
}

/// An error of an engine operation.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),

    /// No roster is loaded for the site.
    #[error("site {site:?} is not configured; add its site file and reload")]
    UnknownSite {
        /// The site id.
        site: String,
    },

    /// No item has this id at this site.
    #[error("item {id} not found at site {site:?}")]
    ItemNotFound {
        /// The site id.
        site: String,
        /// The item id.
        id: ItemId,
    },

    /// The action is not allowed from the item's status.
    #[error("cannot {verb} item {id}: it is {status}, expected {}", list(.expected))]
    InvalidTransition {
        /// The action's verb, such as `claim`.
        verb: &'static str,
        /// The item id.
        id: ItemId,
        /// Its current status.
        status: ItemStatus,
        /// The statuses the action starts from.
        expected: Vec<ItemStatus>,
    },

    /// The person does not hold the role the action needs.
    #[error("cannot {verb} item {id}: person {person:?} does not hold role {role:?}")]
    NotInRole {
        /// The action's verb.
        verb: &'static str,
        /// The item id.
        id: ItemId,
        /// The acting or target person.
        person: String,
        /// The role needed.
        role: String,
    },

    /// The item belongs to another person.
    #[error("cannot {verb} item {id}: it is owned by {owner:?}, not {person:?}")]
    NotOwner {
        /// The action's verb.
        verb: &'static str,
        /// The item id.
        id: ItemId,
        /// The acting person.
        person: String,
        /// The current owner.
        owner: String,
    },

    /// A person id the site's roster lacks.
    #[error("person {person:?} is not on the roster of site {site:?}")]
    UnknownPerson {
        /// The site id.
        site: String,
        /// The person id.
        person: String,
    },

    /// A role the site's roster does not define.
    #[error("role {role:?} is not defined by site {site:?}")]
    UnknownRole {
        /// The site id.
        site: String,
        /// The role name.
        role: String,
    },

    /// A request argument is invalid.
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// Concurrent writers kept changing the same records.
    #[error(
        "{operation} gave up after {attempts} attempts because other writers kept changing \
         the same items; retry the request"
    )]
    Contended {
        /// What was attempted.
        operation: &'static str,
        /// How many times.
        attempts: u32,
    },
}

fn list(statuses: &[ItemStatus]) -> String {
    let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    match names.len() {
        0 => "nothing".to_string(),
        1 => names[0].to_string(),
        n => format!("{} or {}", names[..n - 1].join(", "), names[n - 1]),
    }
}
