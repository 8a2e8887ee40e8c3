//! Group commit: one thread writes every commit.
//!
//! Callers encode their mutations on their own thread, queue them and
//! block. The committer takes everything queued and checks each commit's
//! preconditions in order, so later commits see the effects of earlier
//! ones in the same group. It inserts one log record per accepted commit
//! and flushes once for the whole group. Then it projects the records into
//! the trees and wakes the callers. A caller therefore returns only after its change is
//! both durable and visible.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};

use serde::{Deserialize, Serialize};
use tracing::{debug, error};

use super::project::revision_of;
use super::{Shared, deferred, io_error};
use crate::codec::encode;
use crate::error::StoreError;
use crate::model::ItemId;
use crate::store::keys;
use crate::store::{Committed, Expect, Mutation};

/// Maximum number of commits that share one flush. It bounds the time a
/// caller waits behind others and the memory a group uses.
const MAX_GROUP: usize = 512;

/// The log record: one commit's mutations under its sequence number.
///
/// Its postcard form is the sequence number followed by the encoded
/// mutation list, which lets callers encode the list before the committer
/// assigns the number.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct LogRecord {
    pub seq: u64,
    pub mutations: Vec<Mutation>,
}

type Reply = Sender<Result<Committed, StoreError>>;

/// One caller's commit on its way through the committer.
pub(super) struct Request {
    pub mutations: Vec<Mutation>,
    /// The postcard form of `mutations`.
    pub encoded: Vec<u8>,
    pub reply: Reply,
}

/// Work for the committer thread.
pub(super) enum Job {
    /// A commit.
    Commit(Request),
    /// A task that must not overlap commits, such as `rebuild`. Deferred
    /// items are projected before it runs.
    Exclusive(Box<dyn FnOnce(&Shared) + Send>),
}

/// Sets each put item's revision to the one the store will hold and encodes
/// the mutations, on the caller's thread.
pub(super) fn prepare(mut mutations: Vec<Mutation>, reply: Reply) -> Request {
    for mutation in &mut mutations {
        if let Mutation::PutItem { item, expect } = mutation {
            item.revision = match expect {
                Expect::New => 1,
                Expect::Revision(revision) => *revision + 1,
            };
        }
    }
    let encoded = encode(&mutations);
    Request {
        mutations,
        encoded,
        reply,
    }
}

/// Runs the committer until every sender is gone, then projects what is
/// still deferred so a clean close needs no replay.
pub(super) fn run(shared: &Shared, jobs: &Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut group = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Commit(request) => group.push(request),
                Job::Exclusive(task) => {
                    commit_group(shared, std::mem::take(&mut group));
                    if let Err(error) = deferred::project_all(shared) {
                        error!(error = %error, "could not project deferred items before an exclusive task");
                        shared.set_failure(error.to_string());
                    }
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

    if shared.failure().is_none()
        && let Err(error) = deferred::project_all(shared)
    {
        error!(error = %error, "could not project deferred items at close; the log replays on the next open");
    }
    debug!("store committer stopped");
}

/// A commit that passed its checks, with its sequence number.
struct Accepted {
    seq: u64,
    request: Request,
}

/// Changes made by earlier commits of the group, for checking later ones.
#[derive(Default)]
struct Overlay {
    revisions: HashMap<ItemId, u64>,
    sources: HashSet<Vec<u8>>,
    nudges: HashSet<Vec<u8>>,
}

fn commit_group(shared: &Shared, group: Vec<Request>) {
    if group.is_empty() {
        return;
    }
    if let Some(cause) = shared.failure() {
        for request in group {
            send(
                &request.reply,
                Err(StoreError::Failed {
                    cause: cause.clone(),
                }),
            );
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

    let mut replies = Vec::with_capacity(accepted.len());
    let mut records = Vec::with_capacity(accepted.len());
    for Accepted { seq, request } in accepted {
        replies.push((seq, request.reply));
        records.push((seq, request.mutations));
    }
    if let Err(error) = apply_all(shared, records) {
        error!(error = %error, commits = replies.len(), "store projection failed; rejecting writes until restart");
        shared.set_failure(error.to_string());
        for (_, reply) in replies {
            send(
                &reply,
                Err(StoreError::Failed {
                    cause: error.to_string(),
                }),
            );
        }
        return;
    }

    shared.count_commits(replies.len());
    for (seq, reply) in replies {
        send(&reply, Ok(Committed { seq }));
    }
}

/// Checks preconditions and assigns sequence numbers. A rejected commit
/// gets its error at once.
fn check_group(shared: &Shared, group: Vec<Request>) -> Vec<Accepted> {
    let mut overlay = Overlay::default();
    let mut accepted = Vec::with_capacity(group.len());
    for request in group {
        match check(shared, &overlay, &request.mutations) {
            Ok(changes) => {
                overlay.revisions.extend(changes.revisions);
                overlay.sources.extend(changes.sources);
                overlay.nudges.extend(changes.nudges);
                let seq = shared.next_seq();
                accepted.push(Accepted { seq, request });
            }
            Err(error) => {
                shared.count_conflict();
                send(&request.reply, Err(error));
            }
        }
    }
    accepted
}

/// Returns an item's current revision, looked up in this commit, the
/// group, the deferred items and the tree, in that order.
fn current_revision(
    shared: &Shared,
    overlay: &Overlay,
    changes: &Overlay,
    id: ItemId,
) -> Result<Option<u64>, StoreError> {
    if let Some(&revision) = changes.revisions.get(&id).or(overlay.revisions.get(&id)) {
        return Ok(Some(revision));
    }
    if let Some(deferred) = shared.deferred().item(id) {
        return Ok(Some(deferred.revision));
    }
    let stored = shared
        .trees
        .items
        .get(keys::item(id))
        .map_err(|e| io_error(&shared.path, "checking an item", &e))?;
    Ok(stored.map(|value| revision_of(&value)))
}

/// True when a source key already names an item.
fn source_taken(
    shared: &Shared,
    overlay: &Overlay,
    changes: &Overlay,
    source: &[u8],
) -> Result<bool, StoreError> {
    if changes.sources.contains(source)
        || overlay.sources.contains(source)
        || shared.deferred().source(source).is_some()
    {
        return Ok(true);
    }
    shared
        .trees
        .sources
        .contains_key(source)
        .map_err(|e| io_error(&shared.path, "checking a source key", &e))
}

/// Checks one commit against the store and the group's overlay.
fn check(
    shared: &Shared,
    overlay: &Overlay,
    mutations: &[Mutation],
) -> Result<Overlay, StoreError> {
    let mut changes = Overlay::default();
    for mutation in mutations {
        match mutation {
            Mutation::PutItem { item, expect } => {
                let current = current_revision(shared, overlay, &changes, item.id)?;
                let fits = match (*expect, current) {
                    (Expect::New, None) => {
                        let source = keys::source(
                            &item.site,
                            &item.source.connector,
                            &item.source.external_id,
                        );
                        if source_taken(shared, overlay, &changes, &source)? {
                            return Err(StoreError::Conflict {
                                target: format!(
                                    "source {}/{} of site {}",
                                    item.source.connector, item.source.external_id, item.site
                                ),
                            });
                        }
                        changes.sources.insert(source);
                        true
                    }
                    (Expect::Revision(expected), Some(stored)) => expected == stored,
                    _ => false,
                };
                if !fits {
                    return Err(StoreError::Conflict {
                        target: format!("item {}", item.id),
                    });
                }
                changes.revisions.insert(item.id, item.revision);
            }
            Mutation::Nudge(record) => {
                let key = super::project::nudge_key(record);
                let sent = changes.nudges.contains(&key)
                    || overlay.nudges.contains(&key)
                    || shared
                        .trees
                        .nudges
                        .contains_key(&key)
                        .map_err(|e| io_error(&shared.path, "checking a nudge", &e))?;
                if sent {
                    return Err(StoreError::Conflict {
                        target: format!(
                            "{} nudge of item {} to {}",
                            record.level,
                            record.item,
                            record.recipient()
                        ),
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
/// caller received an error.
fn write_log(shared: &Shared, accepted: &[Accepted]) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    let mut keys = Vec::with_capacity(accepted.len());
    for Accepted { seq, request } in accepted {
        let mut value = encode(seq);
        value.extend_from_slice(&request.encoded);
        keys.extend(super::log::add(&mut batch, *seq, &value));
    }
    shared
        .trees
        .log
        .apply_batch(batch)
        .map_err(|e| io_error(&shared.path, "appending to the log", &e))?;

    let flushed = shared.flush();
    if flushed.is_err() {
        for key in keys {
            if let Err(e) = shared.trees.log.remove(key) {
                error!(error = %e, "could not withdraw a failed log record");
            }
        }
    }
    flushed
}

/// Projects the group and records how far the trees are complete: up to
/// the record before the oldest one with a deferred item.
fn apply_all(shared: &Shared, records: Vec<(u64, Vec<Mutation>)>) -> Result<(), StoreError> {
    let last = records.last().map_or(0, |(seq, _)| *seq);
    deferred::project_group(shared, records)?;

    let applied = match shared.deferred().oldest_record() {
        Some(oldest) => (oldest - 1).min(last),
        None => last,
    };
    shared.set_applied(applied)
}

/// Marks the store failed and sends the error to every caller.
fn fail_all(shared: &Shared, accepted: Vec<Accepted>, error: &StoreError) {
    error!(error = %error, commits = accepted.len(), "store write failed; rejecting writes until restart");
    shared.set_failure(error.to_string());
    for Accepted { request, .. } in accepted {
        send(
            &request.reply,
            Err(StoreError::Failed {
                cause: error.to_string(),
            }),
        );
    }
}

fn send(reply: &Reply, outcome: Result<Committed, StoreError>) {
    if reply.send(outcome).is_err() {
        debug!("a committing caller went away before its outcome");
    }
}
