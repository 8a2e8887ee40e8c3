//! Group commit: one thread writes every commit.
//!
//! Callers queue their mutations and block. The committer takes everything
//! queued, checks each commit's preconditions in order (later commits see
//! the effects of earlier ones in the same group), inserts one log record
//! per accepted commit, flushes once for the whole group, then applies the
//! records to the trees and wakes the callers. A caller therefore returns
//! only after its change is both durable and visible.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};

use serde::{Deserialize, Serialize};
use tracing::{debug, error};

use super::project::{apply_record, revision_of};
use super::{Shared, io_error};
use crate::codec::encode;
use crate::error::StoreError;
use crate::model::ItemId;
use crate::store::keys;
use crate::store::{Committed, Expect, Mutation};

/// The most commits that share one flush. Bounds the time a caller waits
/// behind others and the memory a group holds.
const MAX_GROUP: usize = 512;

/// The log record: one commit's mutations under its sequence number.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct LogRecord {
    pub seq: u64,
    pub mutations: Vec<Mutation>,
}

/// Work for the committer thread.
pub(super) enum Job {
    /// A commit and where to send its outcome.
    Commit {
        mutations: Vec<Mutation>,
        reply: Sender<Result<Committed, StoreError>>,
    },
    /// A task that must not overlap commits, such as `rebuild`.
    Exclusive(Box<dyn FnOnce(&Shared) + Send>),
}

/// Runs the committer until every sender is gone.
pub(super) fn run(shared: &Shared, jobs: &Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut group = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Commit { mutations, reply } => group.push((mutations, reply)),
                Job::Exclusive(task) => {
                    commit_group(shared, std::mem::take(&mut group));
                    task(shared);
                }
            }
            if group.len() < MAX_GROUP {
                match jobs.try_recv() {
                    Ok(job) => next = Some(job),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => {}
                }
            }
        }
        commit_group(shared, group);
    }
    debug!("store committer stopped");
}

type Pending = (Vec<Mutation>, Sender<Result<Committed, StoreError>>);

/// What earlier commits of the group changed, for checking later ones.
#[derive(Default)]
struct Overlay {
    revisions: HashMap<ItemId, u64>,
    sources: HashSet<Vec<u8>>,
    nudges: HashSet<[u8; 9]>,
}

fn commit_group(shared: &Shared, group: Vec<Pending>) {
    if group.is_empty() {
        return;
    }
    if let Some(cause) = shared.failure() {
        for (_, reply) in group {
            send(&reply, Err(StoreError::Failed { cause: cause.clone() }));
        }
        return;
    }

    let accepted = check_group(shared, group);
    if accepted.is_empty() {
        return;
    }

    if let Err(error) = write_log(shared, &accepted) {
        fail_all(shared, accepted, &error);
        return;
    }

    if let Err(error) = apply_all(shared, &accepted) {
        fail_all(shared, accepted, &error);
        return;
    }

    shared.count_commits(accepted.len());
    for (record, reply) in accepted {
        send(&reply, Ok(Committed { seq: record.seq }));
    }
}

/// Checks preconditions, assigns revisions and sequence numbers, and
/// answers rejected commits at once.
fn check_group(shared: &Shared, group: Vec<Pending>) -> Vec<(LogRecord, Sender<Result<Committed, StoreError>>)> {
    let mut overlay = Overlay::default();
    let mut accepted = Vec::with_capacity(group.len());
    for (mut mutations, reply) in group {
        match check(shared, &overlay, &mut mutations) {
            Ok(changes) => {
                overlay.revisions.extend(changes.revisions);
                overlay.sources.extend(changes.sources);
                overlay.nudges.extend(changes.nudges);
                let seq = shared.next_seq();
                accepted.push((LogRecord { seq, mutations }, reply));
            }
            Err(error) => {
                shared.count_conflict();
                send(&reply, Err(error));
            }
        }
    }
    accepted
}

/// Checks one commit against the store and the group's overlay, setting
/// each put item's new revision.
fn check(shared: &Shared, overlay: &Overlay, mutations: &mut [Mutation]) -> Result<Overlay, StoreError> {
    let mut changes = Overlay::default();
    for mutation in mutations.iter_mut() {
        match mutation {
            Mutation::PutItem { item, expect } => {
                let current = match changes.revisions.get(&item.id).or(overlay.revisions.get(&item.id)) {
                    Some(&revision) => Some(revision),
                    None => shared
                        .trees
                        .items
                        .get(keys::item(item.id))
                        .map_err(|e| io_error(&shared.path, "checking an item", &e))?
                        .map(|v| revision_of(&v)),
                };
                let conflict = || StoreError::Conflict {
                    target: format!("item {}", item.id),
                };
                let revision = match (*expect, current) {
                    (Expect::New, None) => {
                        let source = keys::source(&item.site, &item.source.connector, &item.source.external_id);
                        let taken = changes.sources.contains(&source)
                            || overlay.sources.contains(&source)
                            || shared
                                .trees
                                .sources
                                .contains_key(&source)
                                .map_err(|e| io_error(&shared.path, "checking a source key", &e))?;
                        if taken {
                            return Err(StoreError::Conflict {
                                target: format!(
                                    "source {}/{} of site {}",
                                    item.source.connector, item.source.external_id, item.site
                                ),
                            });
                        }
                        changes.sources.insert(source);
                        1
                    }
                    (Expect::Revision(expected), Some(stored)) if expected == stored => stored + 1,
                    _ => return Err(conflict()),
                };
                item.revision = revision;
                changes.revisions.insert(item.id, revision);
            }
            Mutation::Nudge(record) => {
                let key = keys::nudge(record.item, super::project::nudge_code(record.level));
                let sent = changes.nudges.contains(&key)
                    || overlay.nudges.contains(&key)
                    || shared
                        .trees
                        .nudges
                        .contains_key(key)
                        .map_err(|e| io_error(&shared.path, "checking a nudge", &e))?;
                if sent {
                    return Err(StoreError::Conflict {
                        target: format!("{} nudge of item {}", record.level, record.item),
                    });
                }
                changes.nudges.insert(key);
            }
            Mutation::KvSet { key, value, .. } => {
                check_kv_size("key", key.len(), crate::store::KV_MAX_KEY_BYTES)?;
                check_kv_size("value", value.len(), crate::store::KV_MAX_VALUE_BYTES)?;
            }
            _ => {}
        }
    }
    Ok(changes)
}

fn check_kv_size(what: &'static str, size: usize, max: usize) -> Result<(), StoreError> {
    if size > max {
        return Err(StoreError::TooLarge { what, size, max });
    }
    Ok(())
}

/// Inserts the group's log records and flushes once. On failure the
/// records are removed again, so no later flush can persist a commit whose
/// caller was told it failed.
fn write_log(shared: &Shared, accepted: &[(LogRecord, Sender<Result<Committed, StoreError>>)]) -> Result<(), StoreError> {
    let mut inserted = Vec::with_capacity(accepted.len());
    let mut outcome = Ok(());
    for (record, _) in accepted {
        let key = record.seq.to_be_bytes();
        match shared.trees.log.insert(key, encode(record)) {
            Ok(_) => inserted.push(key),
            Err(e) => {
                outcome = Err(io_error(&shared.path, "appending to the log", &e));
                break;
            }
        }
    }
    if outcome.is_ok() {
        outcome = shared.flush();
    }
    if outcome.is_err() {
        for key in inserted {
            if let Err(e) = shared.trees.log.remove(key) {
                error!(error = %e, "could not withdraw a failed log record");
            }
        }
    }
    outcome
}

fn apply_all(shared: &Shared, accepted: &[(LogRecord, Sender<Result<Committed, StoreError>>)]) -> Result<(), StoreError> {
    let mut last = 0;
    for (record, _) in accepted {
        apply_record(&shared.trees, &shared.counters, record.seq, &record.mutations)
            .map_err(|e| io_error(&shared.path, "applying a log record", &e))?;
        last = record.seq;
    }
    shared.set_applied(last)
}

/// Marks the store failed and answers every caller with the error.
fn fail_all(shared: &Shared, accepted: Vec<(LogRecord, Sender<Result<Committed, StoreError>>)>, error: &StoreError) {
    error!(error = %error, commits = accepted.len(), "store write failed; rejecting writes until restart");
    shared.set_failure(error.to_string());
    for (_, reply) in accepted {
        send(&reply, Err(StoreError::Failed { cause: error.to_string() }));
    }
}

fn send(reply: &Sender<Result<Committed, StoreError>>, outcome: Result<Committed, StoreError>) {
    if reply.send(outcome).is_err() {
        debug!("a committing caller went away before its outcome");
    }
}
