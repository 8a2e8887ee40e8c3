//! The projection: how a logged mutation changes the trees.
//!
//! Applying a mutation is idempotent, so the log can be replayed over trees
//! that already hold some of its effects. The index trees (`sources`,
//! `worklist`, `pending`, `dead_letters`) are a pure function of the
//! `items` tree; [`Derived`] computes an item's entries and applying an
//! item diffs the old entries against the new ones.

use sled::Tree;
use std::collections::HashMap;
use switchboard_sdk::NudgeLevel;

use super::Trees;
use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::model::{DeadLetter, Item, ItemStatus, NudgeRecord};
use crate::store::Mutation;
use crate::store::keys;
use crate::worklist::{OwnerCount, OwnerRef};

/// Encodes an item: its revision (eight bytes, big-endian) then the item,
/// so a precondition check reads the revision without decoding.
pub(super) fn encode_item(item: &Item) -> Vec<u8> {
    let body = encode(item);
    let mut value = Vec::with_capacity(body.len() + 8);
    value.extend_from_slice(&item.revision.to_be_bytes());
    value.extend_from_slice(&body);
    value
}

/// Decodes what [`encode_item`] wrote.
pub(super) fn decode_item(key: &[u8], value: &[u8]) -> Result<Item, StoreError> {
    let body = value.get(8..).ok_or_else(|| StoreError::Decode {
        tree: "items",
        key: keys::printable(key),
        message: "value shorter than its revision prefix".into(),
    })?;
    decode(body).map_err(|message| StoreError::Decode {
        tree: "items",
        key: keys::printable(key),
        message,
    })
}

/// Reads the revision prefix of an encoded item.
pub(super) fn revision_of(value: &[u8]) -> u64 {
    value
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

/// The index entries one item implies.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Derived {
    pub sources: Vec<(Vec<u8>, Vec<u8>)>,
    pub worklist: Vec<(Vec<u8>, Vec<u8>)>,
    pub pending: Vec<(Vec<u8>, Vec<u8>)>,
    pub dead_letters: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Derived {
    /// Computes the entries of `item`; `None` implies none.
    pub fn of(item: Option<&Item>) -> Derived {
        let mut derived = Derived::default();
        let Some(item) = item else {
            return derived;
        };
        let site = item.site.as_str();

        let source = keys::source(site, &item.source.connector, &item.source.external_id);
        let value = keys::source_value(item.id, item.source.version);
        derived.sources.push((source, value.to_vec()));

        if item.status.is_routed_open()
            && let Some(owner) = &item.owner
        {
            let value = keys::worklist_value(item).to_vec();
            let role = OwnerRef::Role(owner.role.clone());
            derived
                .worklist
                .push((keys::worklist(site, &role, item), value.clone()));
            if let Some(person) = &owner.person {
                let person = OwnerRef::Person(person.clone());
                derived
                    .worklist
                    .push((keys::worklist(site, &person, item), value));
            }
        }

        if item.is_pending() {
            derived
                .pending
                .push((keys::site_item(site, item.id), Vec::new()));
        }

        if let Some(failure) = item.failure.as_ref().filter(|_| item.is_dead_letter()) {
            let letter = DeadLetter {
                item: item.id,
                site: item.site.clone(),
                connector: item.source.connector.clone(),
                external_id: item.source.external_id.clone(),
                category: item.category,
                failure: failure.clone(),
            };
            derived
                .dead_letters
                .push((keys::site_item(site, item.id), encode(&letter)));
        }

        derived
    }

    /// Returns the entries per index tree, in the order of [`index_trees`].
    pub fn parts(&self) -> [&Vec<(Vec<u8>, Vec<u8>)>; 4] {
        [
            &self.sources,
            &self.worklist,
            &self.pending,
            &self.dead_letters,
        ]
    }
}

/// In-memory counts of open items per worklist owner, and of pending items
/// and dead letters per site. Rebuilt from the trees on open; kept in step
/// by every applied item.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub owners: HashMap<(String, OwnerRef), OwnerCount>,
    pub pending: HashMap<String, u32>,
    pub dead_letters: HashMap<String, u32>,
}

impl Counters {
    /// Adds (`delta` = 1) or removes (`delta` = -1) an item's contribution.
    pub fn count(&mut self, item: &Item, delta: i64) {
        if item.status.is_routed_open()
            && let Some(owner) = &item.owner
        {
            let role = (item.site.clone(), OwnerRef::Role(owner.role.clone()));
            self.owners.entry(role).or_default().add(item.status, delta);
            if let Some(person) = &owner.person {
                let person = (item.site.clone(), OwnerRef::Person(person.clone()));
                self.owners
                    .entry(person)
                    .or_default()
                    .add(item.status, delta);
            }
        }
        if item.is_pending() {
            bump(self.pending.entry(item.site.clone()).or_default(), delta);
        }
        if item.is_dead_letter() {
            bump(
                self.dead_letters.entry(item.site.clone()).or_default(),
                delta,
            );
        }
    }
}

fn bump(count: &mut u32, delta: i64) {
    *count = (i64::from(*count) + delta).max(0) as u32;
}

/// Applies one logged record's mutations to the trees, in order.
///
/// `seq` and each mutation's position make the keys of journal entries.
/// Counters are not touched: the caller keeps them (the committer) or
/// recounts from the trees afterwards (replay and rebuild).
pub(super) fn apply_record(
    trees: &Trees,
    seq: u64,
    mutations: &[Mutation],
) -> Result<(), sled::Error> {
    for (position, mutation) in mutations.iter().enumerate() {
        apply_mutation(trees, seq, position as u32, mutation)?;
    }
    Ok(())
}

/// Applies one mutation; `position` is its index in the record.
pub(super) fn apply_mutation(
    trees: &Trees,
    seq: u64,
    position: u32,
    mutation: &Mutation,
) -> Result<(), sled::Error> {
    match mutation {
        Mutation::PutItem { item, .. } => apply_item(trees, item).map(drop),
        Mutation::SetCursor {
            site,
            connector,
            cursor,
        } => {
            let key = keys::cursor(site, connector);
            match cursor {
                Some(cursor) => trees.cursors.insert(key, cursor.as_bytes()).map(drop),
                None => trees.cursors.remove(key).map(drop),
            }
        }
        Mutation::KvSet {
            site,
            plugin,
            key,
            value,
        } => trees
            .kv
            .insert(keys::kv(site, plugin, key), value.as_slice())
            .map(drop),
        Mutation::KvDelete { site, plugin, key } => {
            trees.kv.remove(keys::kv(site, plugin, key)).map(drop)
        }
        Mutation::Audit(entry) => {
            let key = keys::journal(entry.at, seq, position);
            trees.audit.insert(key, encode(entry)).map(drop)
        }
        Mutation::Activation(activation) => {
            let key = keys::journal(activation.at, seq, position);
            trees.activations.insert(key, encode(activation)).map(drop)
        }
        Mutation::Event(event) => {
            let key = super::event_key(event);
            trees.events.insert(key, encode(event)).map(drop)
        }
        Mutation::Nudge(record) => {
            let key = nudge_key(record);
            trees.nudges.insert(key, encode(record)).map(drop)
        }
        Mutation::Metric(snapshot) => {
            let key = keys::metric(&snapshot.site, &snapshot.date);
            trees.metrics.insert(key, encode(snapshot)).map(drop)
        }
    }
}

/// Returns the `nudges` key of a sent nudge: one per item, level and
/// recipient.
pub(super) fn nudge_key(record: &NudgeRecord) -> Vec<u8> {
    keys::nudge(
        record.item,
        nudge_code(record.level),
        &record.role,
        record.person.as_deref(),
    )
}

/// Returns the code of a nudge level in `nudges` keys.
fn nudge_code(level: NudgeLevel) -> u8 {
    level as u8
}

/// Stores an item and moves its index entries from its old state to the new.
///
/// The index entries are written before the item, so a crash between the
/// two leaves the old item beside the new entries. The replay after the
/// crash then diffs from that old item and finishes the change. Returns the
/// item the tree held before.
pub(super) fn apply_item(trees: &Trees, item: &Item) -> Result<Option<Item>, sled::Error> {
    let old = read_item(trees, item.id)?;
    apply_item_over(trees, item, old.as_ref())?;
    Ok(old)
}

/// Reads an item from the tree. A stored item that no longer decodes
/// reads as absent: the next write replaces it, and its stale index entries
/// are what `verify` reports and `rebuild` fixes.
pub(super) fn read_item(
    trees: &Trees,
    id: crate::model::ItemId,
) -> Result<Option<Item>, sled::Error> {
    let key = keys::item(id);
    Ok(match trees.items.get(key)? {
        Some(value) => decode_item(&key, &value).ok(),
        None => None,
    })
}

/// Stores an item whose current tree state is `old`, moving its index
/// entries from `old` to the new state.
pub(super) fn apply_item_over(
    trees: &Trees,
    item: &Item,
    old: Option<&Item>,
) -> Result<(), sled::Error> {
    let key = keys::item(item.id);
    let before = Derived::of(old);
    let after = Derived::of(Some(item));
    for (((_, tree), old_entries), new_entries) in index_trees(trees)
        .iter()
        .zip(before.parts())
        .zip(after.parts())
    {
        move_entries(tree, old_entries, new_entries)?;
    }
    trees.items.insert(key, encode_item(item))?;
    Ok(())
}

fn move_entries(
    tree: &Tree,
    old: &[(Vec<u8>, Vec<u8>)],
    new: &[(Vec<u8>, Vec<u8>)],
) -> Result<(), sled::Error> {
    for (key, _) in old {
        if !new.iter().any(|(k, _)| k == key) {
            tree.remove(key)?;
        }
    }
    for (key, value) in new {
        if !old.iter().any(|(k, v)| k == key && v == value) {
            tree.insert(key.as_slice(), value.as_slice())?;
        }
    }
    Ok(())
}

/// Returns the index trees derived from `items`, with their names.
pub(super) fn index_trees(trees: &Trees) -> [(&'static str, &Tree); 4] {
    [
        ("sources", &trees.sources),
        ("worklist", &trees.worklist),
        ("pending", &trees.pending),
        ("dead_letters", &trees.dead_letters),
    ]
}

/// The stored status of an index value is open, for counting.
pub(super) fn status_of(value: &[u8]) -> Option<ItemStatus> {
    value
        .first()
        .and_then(|&b| ItemStatus::from_index(usize::from(b)))
}
