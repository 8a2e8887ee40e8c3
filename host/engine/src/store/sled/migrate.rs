//! Migrations from older schema versions, run by open before anything else
//! reads the trees.
//!
//! Each migration is idempotent: a crash after it ran and before the new
//! schema version was written runs it again on the next open.

use std::path::Path;

use super::Trees;
use super::project::nudge_key;
use crate::codec::decode;
use crate::error::StoreError;
use crate::model::NudgeRecord;
use crate::store::keys;

/// Schema version 1 keyed `nudges` by item and level, so only the first of
/// several recipients of one level (such as two medical directors) was
/// recorded. Version 2 adds the recipient to the key. This rewrites each
/// entry under its new key, in one atomic batch; the values are unchanged.
///
/// # Errors
///
/// [`StoreError::Decode`] for an entry that is not a nudge record, and
/// [`StoreError::Io`] when reading or writing the tree fails.
pub(super) fn nudges_by_recipient(path: &Path, trees: &Trees) -> Result<(), StoreError> {
    let io = |e: sled::Error| super::io_error(path, "migrating the nudges tree", &e);
    let mut batch = sled::Batch::default();
    let mut moved = 0usize;

    for row in trees.nudges.iter() {
        let (key, value) = row.map_err(io)?;
        let record: NudgeRecord = decode(&value).map_err(|message| StoreError::Decode {
            tree: "nudges",
            key: keys::printable(&key),
            message,
        })?;
        let new_key = nudge_key(&record);
        if new_key.as_slice() != key.as_ref() {
            batch.remove(key);
            batch.insert(new_key, value);
            moved += 1;
        }
    }

    trees.nudges.apply_batch(batch).map_err(io)?;
    tracing::info!(path = %path.display(), moved, "nudges keyed by recipient");
    Ok(())
}
