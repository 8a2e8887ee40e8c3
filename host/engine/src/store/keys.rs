//! Byte layouts of the tree keys.
//!
//! Strings inside a key are length-prefixed (`u16`, big-endian) so no
//! character needs escaping and a site's keys share a prefix. Numbers are
//! big-endian so byte order is numeric order. Timestamps flip the sign bit
//! so earlier times sort first, and a missing due time sorts last.

use switchboard_sdk::{Priority, Timestamp};

use crate::model::{Item, ItemId};
use crate::worklist::OwnerRef;

/// Kind byte of a role-pool worklist key.
pub const ROLE: u8 = b'r';
/// Kind byte of a person worklist key.
pub const PERSON: u8 = b'p';

/// Appends a length-prefixed string.
pub fn push_str(key: &mut Vec<u8>, text: &str) {
    let len = u16::try_from(text.len()).unwrap_or(u16::MAX);
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(&text.as_bytes()[..usize::from(len)]);
}

/// Encodes a timestamp so byte order is time order. `None` sorts after
/// every time.
pub fn time_bytes(at: Option<Timestamp>) -> [u8; 8] {
    match at {
        Some(t) => ((t.0 as u64) ^ (1 << 63)).to_be_bytes(),
        None => u64::MAX.to_be_bytes(),
    }
}

/// Reads what [`time_bytes`] wrote.
pub fn time_from(bytes: &[u8]) -> Option<Timestamp> {
    let raw = u64::from_be_bytes(bytes.try_into().ok()?);
    (raw != u64::MAX).then_some(Timestamp((raw ^ (1 << 63)) as i64))
}

/// Reads an id from the last eight bytes of a key.
pub fn trailing_id(key: &[u8]) -> Option<ItemId> {
    let start = key.len().checked_sub(8)?;
    Some(ItemId(u64::from_be_bytes(key[start..].try_into().ok()?)))
}

/// `items`: the id.
pub fn item(id: ItemId) -> [u8; 8] {
    id.0.to_be_bytes()
}

/// `sources`: site, connector, external id.
pub fn source(site: &str, connector: &str, external_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(site.len() + connector.len() + external_id.len() + 4);
    push_str(&mut key, site);
    push_str(&mut key, connector);
    key.extend_from_slice(external_id.as_bytes());
    key
}

/// `sources` value: id and version.
pub fn source_value(id: ItemId, version: u64) -> [u8; 16] {
    let mut value = [0; 16];
    value[..8].copy_from_slice(&id.0.to_be_bytes());
    value[8..].copy_from_slice(&version.to_be_bytes());
    value
}

/// Reads what [`source_value`] wrote.
pub fn read_source_value(value: &[u8]) -> Option<(ItemId, u64)> {
    let id = u64::from_be_bytes(value.get(..8)?.try_into().ok()?);
    let version = u64::from_be_bytes(value.get(8..16)?.try_into().ok()?);
    Some((ItemId(id), version))
}

/// Prefix of one owner's worklist keys.
pub fn worklist_prefix(site: &str, owner: &OwnerRef) -> Vec<u8> {
    let mut key = Vec::with_capacity(site.len() + owner.name().len() + 32);
    key.push(match owner {
        OwnerRef::Role(_) => ROLE,
        OwnerRef::Person(_) => PERSON,
    });
    push_str(&mut key, site);
    push_str(&mut key, owner.name());
    key
}

/// Rank byte that sorts higher priorities first.
pub fn priority_rank(priority: Priority) -> u8 {
    u8::MAX - priority as u8
}

/// Reads what [`priority_rank`] wrote.
pub fn priority_from(rank: u8) -> Option<Priority> {
    Priority::ALL.get(usize::from(u8::MAX - rank)).copied()
}

/// `worklist`: owner prefix, due time, priority rank, id.
pub fn worklist(site: &str, owner: &OwnerRef, item: &Item) -> Vec<u8> {
    let mut key = worklist_prefix(site, owner);
    key.extend_from_slice(&time_bytes(item.effective_due()));
    key.push(priority_rank(item.effective_priority()));
    key.extend_from_slice(&item.id.0.to_be_bytes());
    key
}

/// `worklist` value: status and category codes.
pub fn worklist_value(item: &Item) -> [u8; 2] {
    [item.status.index() as u8, item.category as u8]
}

/// Prefix of a site's keys in `pending`, `dead_letters`,
/// `cursors`, `events`, `metrics` and `kv`.
pub fn site_prefix(site: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(site.len() + 18);
    push_str(&mut key, site);
    key
}

/// `pending` and `dead_letters`: site, id.
pub fn site_item(site: &str, id: ItemId) -> Vec<u8> {
    let mut key = site_prefix(site);
    key.extend_from_slice(&id.0.to_be_bytes());
    key
}

/// `cursors`: site, connector.
pub fn cursor(site: &str, connector: &str) -> Vec<u8> {
    let mut key = site_prefix(site);
    key.extend_from_slice(connector.as_bytes());
    key
}

/// `kv`: site, plugin, key.
pub fn kv(site: &str, plugin: &str, entry: &str) -> Vec<u8> {
    let mut key = site_prefix(site);
    push_str(&mut key, plugin);
    key.extend_from_slice(entry.as_bytes());
    key
}

/// `audit` and `activations`: time, log sequence, position in the record,
/// so entries sort by time and never collide.
pub fn journal(at: Timestamp, seq: u64, position: u32) -> [u8; 20] {
    let mut key = [0; 20];
    key[..8].copy_from_slice(&time_bytes(Some(at)));
    key[8..16].copy_from_slice(&seq.to_be_bytes());
    key[16..].copy_from_slice(&position.to_be_bytes());
    key
}

/// Recipient tag in a `nudges` key for a nudge to a role pool.
const POOL_RECIPIENT: u8 = 0;
/// Recipient tag in a `nudges` key for a nudge to one person.
const PERSON_RECIPIENT: u8 = 1;

/// `nudges`: item id, level, recipient role, then a tag byte and the
/// person for a nudge to one person. Each recipient thus has one key per
/// level, and an item's nudges share the item id as a prefix.
pub fn nudge(id: ItemId, level: u8, role: &str, person: Option<&str>) -> Vec<u8> {
    let mut key = Vec::with_capacity(9 + role.len() + person.map_or(0, str::len) + 5);
    key.extend_from_slice(&id.0.to_be_bytes());
    key.push(level);
    push_str(&mut key, role);
    match person {
        Some(person) => {
            key.push(PERSON_RECIPIENT);
            push_str(&mut key, person);
        }
        None => key.push(POOL_RECIPIENT),
    }
    key
}

/// `metrics`: site and `YYYY-MM-DD` date.
pub fn metric(site: &str, date: &str) -> Vec<u8> {
    let mut key = site_prefix(site);
    key.extend_from_slice(date.as_bytes());
    key
}

/// Renders a key for reports: printable ASCII as is, other bytes as hex.
pub fn printable(key: &[u8]) -> String {
    let mut text = String::with_capacity(key.len() * 2);
    for &byte in key {
        if byte.is_ascii_graphic() {
            text.push(char::from(byte));
        } else {
            text.push_str(&format!("\\x{byte:02x}"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_sort_numerically() {
        let early = time_bytes(Some(Timestamp(-5)));
        let late = time_bytes(Some(Timestamp(1_000)));
        let never = time_bytes(None);

        assert!(early < late);
        assert!(late < never);
        assert_eq!(time_from(&early), Some(Timestamp(-5)));
        assert_eq!(time_from(&never), None);
    }

    #[test]
    fn higher_priority_sorts_first() {
        assert!(priority_rank(Priority::Stat) < priority_rank(Priority::Routine));
        assert_eq!(
            priority_from(priority_rank(Priority::Asap)),
            Some(Priority::Asap)
        );
    }

    #[test]
    fn nudge_keys_differ_by_recipient() {
        let pool = nudge(ItemId(7), 2, "medical-director", None);
        let lee = nudge(ItemId(7), 2, "medical-director", Some("dr-lee"));
        let patel = nudge(ItemId(7), 2, "medical-director", Some("dr-patel"));
        let empty_person = nudge(ItemId(7), 2, "medical-director", Some(""));

        assert_ne!(pool, lee);
        assert_ne!(lee, patel);
        assert_ne!(pool, empty_person);
        assert!(lee.starts_with(&item(ItemId(7))));
        assert_eq!(lee, nudge(ItemId(7), 2, "medical-director", Some("dr-lee")));
    }

    #[test]
    fn source_value_round_trips() {
        let value = source_value(ItemId(42), 7);

        assert_eq!(read_source_value(&value), Some((ItemId(42), 7)));
    }
}
