//! Deferred projection of pending items.
//!
//! An item that waits for routing is usually routed a moment later, which
//! writes it again. Projecting both states costs six sled inserts
//! per item (item twice, dedupe key, pending entry and its removal,
//! worklist). Projecting only the routed state costs three, and tree
//! inserts are what limits the write path. So the committer keeps a
//! pending item's newest state in memory, after its log record is durable,
//! and projects it only when a later commit changes the item again, when
//! too many wait, or when the store closes.
//!
//! Reads of items, dedupe keys and pending lists look here first. The
//! worklist, deadline and dead-letter reads need not: a pending item is in
//! none of them. The applied log position stays below the oldest record
//! with a deferred item, so a crash replays that record.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use super::Shared;
use super::project::{apply_item, apply_item_over, apply_mutation, read_item};
use crate::error::StoreError;
use crate::model::{Item, ItemId};
use crate::store::{Mutation, keys};

/// Maximum number of items kept deferred. Beyond it the oldest are
/// projected. At a few hundred bytes per item this bounds the memory to a
/// few megabytes (an estimate from the encoded sizes of the bench items).
const MAX_DEFERRED_ITEMS: usize = 20_000;

/// Maximum number of log records a deferred item may wait behind before
/// it is projected, which bounds what a restart after a crash replays.
const MAX_DEFERRED_RECORDS: u64 = 2_000;

/// Pending items whose newest state is durable in the log but not yet in
/// the trees.
#[derive(Debug, Default)]
pub(crate) struct Deferred {
    items: HashMap<ItemId, (u64, Arc<Item>)>,
    sources: HashMap<Vec<u8>, ItemId>,
    pending: HashMap<String, BTreeSet<ItemId>>,
    records: BTreeMap<u64, usize>,
    /// Deferred items with an older state in the `items` tree. The others
    /// were never projected, so applying them needs no tree read.
    in_tree: HashSet<ItemId>,
}

impl Deferred {
    /// Returns the deferred state of an item.
    pub fn item(&self, id: ItemId) -> Option<Arc<Item>> {
        self.items.get(&id).map(|(_, item)| Arc::clone(item))
    }

    /// Returns the item id of a deferred source key.
    pub fn source(&self, key: &[u8]) -> Option<ItemId> {
        self.sources.get(key).copied()
    }

    /// Deferred pending items of a site, in id order.
    pub fn pending(&self, site: &str) -> impl Iterator<Item = ItemId> + '_ {
        self.pending.get(site).into_iter().flatten().copied()
    }

    /// Deferred items of a site with ids after `after`, in id order.
    pub fn site_items(&self, site: &str, after: Option<ItemId>) -> Vec<Arc<Item>> {
        let start = after.map_or(ItemId(0), |id| ItemId(id.0 + 1));
        self.pending(site)
            .filter(|id| *id >= start)
            .filter_map(|id| self.item(id))
            .collect()
    }

    /// Returns whether the `items` tree contains an older state of a
    /// deferred item.
    pub fn in_tree(&self, id: ItemId) -> bool {
        self.in_tree.contains(&id)
    }

    /// Returns the lowest log sequence number a deferred item comes from.
    pub fn oldest_record(&self) -> Option<u64> {
        self.records.keys().next().copied()
    }

    fn insert(&mut self, seq: u64, item: Item, in_tree: bool) {
        self.remove(item.id);
        if in_tree {
            self.in_tree.insert(item.id);
        }
        let source = keys::source(&item.site, &item.source.connector, &item.source.external_id);
        self.sources.insert(source, item.id);
        self.pending
            .entry(item.site.clone())
            .or_default()
            .insert(item.id);
        *self.records.entry(seq).or_default() += 1;
        self.items.insert(item.id, (seq, Arc::new(item)));
    }

    fn remove(&mut self, id: ItemId) -> Option<Arc<Item>> {
        let (seq, item) = self.items.remove(&id)?;
        self.in_tree.remove(&id);
        let source = keys::source(&item.site, &item.source.connector, &item.source.external_id);
        self.sources.remove(&source);
        if let Some(ids) = self.pending.get_mut(&item.site) {
            ids.remove(&id);
        }
        if let Some(count) = self.records.get_mut(&seq) {
            *count -= 1;
            if *count == 0 {
                self.records.remove(&seq);
            }
        }
        Some(item)
    }

    /// Lists the items to project now, oldest record first: those beyond
    /// [`MAX_DEFERRED_ITEMS`] and those from records before `before_seq`.
    fn oldest(&self, before_seq: u64) -> Vec<ItemId> {
        let mut waiting: Vec<(u64, ItemId)> = self
            .items
            .iter()
            .map(|(id, (seq, _))| (*seq, *id))
            .collect();
        waiting.sort_unstable();
        let over = self.items.len().saturating_sub(MAX_DEFERRED_ITEMS);
        waiting
            .into_iter()
            .enumerate()
            .take_while(|(index, (seq, _))| *index < over || *seq < before_seq)
            .map(|(_, (_, id))| id)
            .collect()
    }
}

/// Projects the group's records: pending items are deferred, everything
/// else goes to the trees, and the counters follow every change.
///
/// Only the committer thread changes the deferred set, and it takes the
/// lock per item, so readers wait at most for one map update. A routed
/// item is written to the trees before its deferred copy is dropped, so a
/// reader sees the older state or the newer one, never neither.
pub(super) fn project_group(
    shared: &Shared,
    records: Vec<(u64, Vec<Mutation>)>,
) -> Result<(), StoreError> {
    let io = |e: sled::Error| super::io_error(&shared.path, "applying a log record", &e);

    let last = records.last().map_or(0, |(seq, _)| *seq);
    for (seq, mutations) in records {
        for (position, mutation) in mutations.into_iter().enumerate() {
            let Mutation::PutItem { item, expect } = mutation else {
                apply_mutation(&shared.trees, seq, position as u32, &mutation).map_err(io)?;
                continue;
            };
            let earlier = shared.deferred().item(item.id);
            let tree_may_hold = earlier.is_none() || shared.deferred().in_tree(item.id);
            let in_tree = match expect {
                crate::store::Expect::Revision(_) if tree_may_hold => {
                    read_item(&shared.trees, item.id).map_err(io)?
                }
                _ => None,
            };
            count_change(shared, earlier.as_deref().or(in_tree.as_ref()), &item);

            if item.is_pending() {
                let in_tree = in_tree.is_some();
                write(shared).insert(seq, *item, in_tree);
            } else {
                apply_item_over(&shared.trees, &item, in_tree.as_ref()).map_err(io)?;
                if earlier.is_some() {
                    write(shared).remove(item.id);
                }
            }
        }
    }

    let overdue = shared
        .deferred()
        .oldest(last.saturating_sub(MAX_DEFERRED_RECORDS));
    project_deferred(shared, &overdue)
}

/// Projects every deferred item, for a clean close or an exclusive task
/// that reads the trees directly.
pub(super) fn project_all(shared: &Shared) -> Result<(), StoreError> {
    let all: Vec<ItemId> = shared.deferred().items.keys().copied().collect();
    project_deferred(shared, &all)?;
    shared.set_applied(shared.last_seq())?;
    Ok(())
}

/// Writes deferred items to the trees, then drops them from the set.
fn project_deferred(shared: &Shared, ids: &[ItemId]) -> Result<(), StoreError> {
    let io = |e: sled::Error| super::io_error(&shared.path, "projecting a deferred item", &e);
    for &id in ids {
        let Some(item) = shared.deferred().item(id) else {
            continue;
        };
        apply_item(&shared.trees, &item).map_err(io)?;
        write(shared).remove(id);
    }
    Ok(())
}

fn count_change(shared: &Shared, previous: Option<&Item>, next: &Item) {
    let mut counters = shared.counters.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(previous) = previous {
        counters.count(previous, -1);
    }
    counters.count(next, 1);
}

fn write(shared: &Shared) -> std::sync::RwLockWriteGuard<'_, Deferred> {
    shared.deferred.write().unwrap_or_else(|p| p.into_inner())
}
