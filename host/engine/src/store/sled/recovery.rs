//! Recovery: replaying the log after a crash, checking the trees against
//! the log (`verify`) and rebuilding them from it (`rebuild`).

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use tracing::{info, warn};

use super::commit::LogRecord;
use super::log::{self, Records};
use super::project::{
    Counters, Derived, apply_record, decode_item, encode_item, index_trees, nudge_key, status_of,
};
use super::{Shared, event_key, io_error};
use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::store::{
    Mismatch, MismatchKind, Mutation, RebuildProgress, RebuildReport, VerifyReport, keys,
};
use crate::worklist::OwnerRef;

fn decode_record(key: &[u8], value: &[u8]) -> Result<LogRecord, StoreError> {
    decode(value).map_err(|message| StoreError::Decode {
        tree: "log",
        key: keys::printable(key),
        message,
    })
}

/// Applies the log records past the applied position, then rebuilds the
/// index trees when any were found, because a crash may have stopped an
/// item's projection halfway. Returns how many records were replayed.
pub(super) fn replay_unapplied(shared: &Shared) -> Result<u64, StoreError> {
    let applied = shared.applied()?;
    let io = |operation| move |e: sled::Error| io_error(&shared.path, operation, &e);

    let mut replayed = 0;
    let mut last = applied;
    let start = applied.saturating_add(1).to_be_bytes();
    for row in Records::new(shared.trees.log.range(start..)) {
        let (key, value) = row.map_err(io("reading the log"))?;
        let record = decode_record(&key, &value)?;
        apply_record(&shared.trees, record.seq, &record.mutations)
            .map_err(io("replaying the log"))?;
        last = record.seq;
        replayed += 1;
    }
    if replayed == 0 {
        return Ok(0);
    }

    warn!(
        replayed,
        from = applied + 1,
        to = last,
        "replayed log records that were not applied before a stop"
    );
    rebuild_indexes(shared)?;
    shared.set_applied(last)?;
    shared.flush()?;
    Ok(replayed)
}

/// Sets the next item id and log sequence number from the stored maxima.
pub(super) fn load_positions(shared: &Shared) -> Result<(), StoreError> {
    let io = |e: sled::Error| io_error(&shared.path, "reading the last keys", &e);
    let last_item = shared.trees.items.last().map_err(io)?;
    let last_seq = shared.trees.log.last().map_err(io)?;

    let next_item = last_item
        .and_then(|(k, _)| keys::trailing_id(&k))
        .map_or(1, |id| id.0 + 1);
    let next_seq = last_seq
        .and_then(|(k, _)| log::seq_of(&k))
        .map_or(1, |seq| seq + 1);
    shared
        .next_item
        .store(next_item, std::sync::atomic::Ordering::Relaxed);
    shared
        .next_seq
        .store(next_seq, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// Counts open items per owner, pending items and dead letters from the
/// index trees.
pub(super) fn load_counters(shared: &Shared) -> Result<(), StoreError> {
    let io = |e: sled::Error| io_error(&shared.path, "counting open items", &e);
    let mut counters = Counters::default();

    for row in shared.trees.worklist.iter() {
        let (key, value) = row.map_err(io)?;
        if let (Some((site, owner)), Some(status)) = (parse_owner(&key), status_of(&value)) {
            counters
                .owners
                .entry((site, owner))
                .or_default()
                .add(status, 1);
        }
    }
    for (tree, counts) in [
        (&shared.trees.pending, &mut counters.pending),
        (&shared.trees.dead_letters, &mut counters.dead_letters),
    ] {
        for row in tree.iter().keys() {
            let key = row.map_err(io)?;
            if let Some((site, _)) = read_str(&key) {
                *counts.entry(site).or_default() += 1;
            }
        }
    }

    *shared.counters.lock().unwrap_or_else(|p| p.into_inner()) = counters;
    Ok(())
}

fn read_str(bytes: &[u8]) -> Option<(String, &[u8])> {
    let len = usize::from(u16::from_be_bytes(bytes.get(..2)?.try_into().ok()?));
    let text = bytes.get(2..2 + len)?;
    Some((
        String::from_utf8_lossy(text).into_owned(),
        &bytes[2 + len..],
    ))
}

fn parse_owner(key: &[u8]) -> Option<(String, OwnerRef)> {
    let (&kind, rest) = key.split_first()?;
    let (site, rest) = read_str(rest)?;
    let (name, _) = read_str(rest)?;
    match kind {
        keys::ROLE => Some((site, OwnerRef::Role(name))),
        keys::PERSON => Some((site, OwnerRef::Person(name))),
        _ => None,
    }
}

/// Clears the index trees and derives them again from `items`.
fn rebuild_indexes(shared: &Shared) -> Result<(), StoreError> {
    let io = |e: sled::Error| io_error(&shared.path, "rebuilding the indexes", &e);
    for (_, tree) in index_trees(&shared.trees) {
        tree.clear().map_err(io)?;
    }
    for row in shared.trees.items.iter() {
        let (key, value) = row.map_err(io)?;
        let item = decode_item(&key, &value)?;
        let derived = Derived::of(Some(&item));
        for ((_, tree), entries) in index_trees(&shared.trees).iter().zip(derived.parts()) {
            for (key, value) in entries {
                tree.insert(key.as_slice(), value.as_slice()).map_err(io)?;
            }
        }
    }
    Ok(())
}

/// Clears every projected tree and replays the whole log into it, calling
/// `progress` after each record. Counting the records for `progress` takes
/// one extra pass over the log.
pub(super) fn rebuild(
    shared: &Shared,
    progress: &mut dyn FnMut(RebuildProgress),
) -> Result<RebuildReport, StoreError> {
    let io = |operation| move |e: sled::Error| io_error(&shared.path, operation, &e);
    for (_, tree) in shared.trees.projected() {
        tree.clear().map_err(io("clearing a tree"))?;
    }

    let total = Records::new(shared.trees.log.iter()).count() as u64;
    let mut report = RebuildReport::default();
    let mut last = 0;
    for row in Records::new(shared.trees.log.iter()) {
        let (key, value) = row.map_err(io("reading the log"))?;
        let record = decode_record(&key, &value)?;
        apply_record(&shared.trees, record.seq, &record.mutations)
            .map_err(io("replaying the log"))?;
        last = record.seq;
        report.log_records += 1;
        progress(RebuildProgress {
            replayed: report.log_records,
            total,
        });
    }
    report.items = shared.trees.items.len() as u64;

    shared.set_applied(last)?;
    shared.flush()?;
    load_counters(shared)?;
    load_positions(shared)?;
    info!(
        records = report.log_records,
        items = report.items,
        "rebuilt the store from its log"
    );
    Ok(report)
}

fn fingerprint(value: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// Expected contents of one tree: key to value fingerprint.
type Expected = HashMap<Vec<u8>, u64>;

/// Replays the log in memory into the expected contents of the primary
/// trees (everything but the indexes).
fn expected_from_log(
    shared: &Shared,
    report: &mut VerifyReport,
) -> Result<HashMap<&'static str, Expected>, StoreError> {
    let io = |e: sled::Error| io_error(&shared.path, "reading the log", &e);
    let mut expected: HashMap<&'static str, Expected> = HashMap::new();

    for row in Records::new(shared.trees.log.iter()) {
        let (key, value) = row.map_err(io)?;
        let record = decode_record(&key, &value)?;
        report.log_records += 1;
        for (position, mutation) in record.mutations.iter().enumerate() {
            let (tree, key, value) = match mutation {
                Mutation::PutItem { item, .. } => (
                    "items",
                    keys::item(item.id).to_vec(),
                    Some(encode_item(item)),
                ),
                Mutation::SetCursor {
                    site,
                    connector,
                    cursor,
                } => (
                    "cursors",
                    keys::cursor(site, connector),
                    cursor.as_ref().map(|c| c.as_bytes().to_vec()),
                ),
                Mutation::KvSet {
                    site,
                    plugin,
                    key,
                    value,
                } => ("kv", keys::kv(site, plugin, key), Some(value.clone())),
                Mutation::KvDelete { site, plugin, key } => {
                    ("kv", keys::kv(site, plugin, key), None)
                }
                Mutation::Audit(entry) => (
                    "audit",
                    keys::journal(entry.at, record.seq, position as u32).to_vec(),
                    Some(encode(entry)),
                ),
                Mutation::Activation(entry) => (
                    "activations",
                    keys::journal(entry.at, record.seq, position as u32).to_vec(),
                    Some(encode(entry)),
                ),
                Mutation::Event(event) => ("events", event_key(event), Some(encode(event))),
                Mutation::Nudge(nudge) => ("nudges", nudge_key(nudge), Some(encode(nudge))),
                Mutation::Metric(snapshot) => (
                    "metrics",
                    keys::metric(&snapshot.site, &snapshot.date),
                    Some(encode(snapshot)),
                ),
            };
            let map = expected.entry(tree).or_default();
            match value {
                Some(value) => map.insert(key, fingerprint(&value)),
                None => map.remove(&key),
            };
        }
    }
    Ok(expected)
}

/// Compares one tree with its expected contents.
fn compare(
    name: &'static str,
    tree: &sled::Tree,
    expected: &Expected,
    shared: &Shared,
    report: &mut VerifyReport,
) -> Result<(), StoreError> {
    let io = |e: sled::Error| io_error(&shared.path, "reading a tree", &e);
    let mut seen = 0usize;
    for row in tree.iter() {
        let (key, value) = row.map_err(io)?;
        report.entries += 1;
        match expected.get(key.as_ref()) {
            Some(&print) if print == fingerprint(&value) => seen += 1,
            Some(_) => {
                seen += 1;
                mismatch(report, name, &key, MismatchKind::Different);
            }
            None => mismatch(report, name, &key, MismatchKind::Unexpected),
        }
    }
    if seen < expected.len() {
        for key in expected.keys() {
            if !tree.contains_key(key).map_err(io)? {
                mismatch(report, name, key, MismatchKind::Missing);
            }
        }
    }
    Ok(())
}

fn mismatch(report: &mut VerifyReport, tree: &str, key: &[u8], problem: MismatchKind) {
    report.mismatch_count += 1;
    if report.mismatches.len() < VerifyReport::MAX_LISTED {
        report.mismatches.push(Mismatch {
            tree: tree.to_string(),
            key: keys::printable(key),
            problem,
        });
    }
}

/// Checks the primary trees against a replay of the log, and the index
/// trees against the items.
pub(super) fn verify(shared: &Shared) -> Result<VerifyReport, StoreError> {
    let mut report = VerifyReport::default();
    let expected = expected_from_log(shared, &mut report)?;
    let empty = Expected::new();

    let primary = [
        ("items", &shared.trees.items),
        ("cursors", &shared.trees.cursors),
        ("kv", &shared.trees.kv),
        ("audit", &shared.trees.audit),
        ("activations", &shared.trees.activations),
        ("nudges", &shared.trees.nudges),
        ("events", &shared.trees.events),
        ("metrics", &shared.trees.metrics),
    ];
    for (name, tree) in primary {
        compare(
            name,
            tree,
            expected.get(name).unwrap_or(&empty),
            shared,
            &mut report,
        )?;
    }

    let mut derived: [Expected; 4] = Default::default();
    let io = |e: sled::Error| io_error(&shared.path, "reading items", &e);
    for row in shared.trees.items.iter() {
        let (key, value) = row.map_err(io)?;
        report.items += 1;
        let Ok(item) = decode_item(&key, &value) else {
            mismatch(&mut report, "items", &key, MismatchKind::Different);
            continue;
        };
        let entries = Derived::of(Some(&item));
        for (map, list) in derived.iter_mut().zip(entries.parts()) {
            for (key, value) in list {
                map.insert(key.clone(), fingerprint(value));
            }
        }
    }
    for ((name, tree), expected) in index_trees(&shared.trees).into_iter().zip(&derived) {
        compare(name, tree, expected, shared, &mut report)?;
    }

    Ok(report)
}
