//! The `log` tree's layout: one record per commit, split into chunks.
//!
//! sled 0.34.7 writes any value larger than about a quarter of a segment
//! (128 KiB with the default 512 KiB segments) to a file of its own in
//! `blobs/`. Its `write_blob` (`src/pagecache/blob_io.rs`) never syncs that
//! file, and `Db::flush` syncs only the main file. A commit of a few
//! hundred routed items encodes to more than 128 KiB, so a record written
//! whole could be lost by a power failure after it was acknowledged.
//! Chunks of at most [`CHUNK_BYTES`] stay in the main file. sled splits a
//! leaf after 16 entries whatever their size (`Node::should_split`) and a
//! leaf page over the same limit also goes to `blobs/`, so 17 chunks must
//! fit below it.
//!
//! A record's first chunk is stored under its sequence number (eight bytes,
//! big-endian) and any further chunk under the sequence number followed by
//! the chunk's index (four bytes, big-endian, from 1). sled orders keys
//! bytewise, so a record's chunks follow its first chunk and precede the
//! next record. Stores written before chunking hold only first chunks and
//! read the same way.

use sled::{Batch, IVec};

/// Largest chunk of a log record: 17 chunks, one full leaf, make about
/// 100 KiB, below sled's 128 KiB limit for keeping a page in the main file.
pub(super) const CHUNK_BYTES: usize = 6 * 1024;

/// Length of a first chunk's key.
const HEAD_KEY_BYTES: usize = 8;

/// Adds a record's chunks to `batch` and returns their keys, so a commit
/// whose flush fails can withdraw them. Applying the batch with
/// `Tree::apply_batch` writes every chunk or none, so a failed write (a
/// full disk) never leaves part of a record behind.
pub(super) fn add(batch: &mut Batch, seq: u64, value: &[u8]) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    for (index, chunk) in value.chunks(CHUNK_BYTES).enumerate() {
        let key = chunk_key(seq, index as u32);
        batch.insert(key.as_slice(), chunk);
        keys.push(key);
    }
    if value.is_empty() {
        let key = chunk_key(seq, 0);
        batch.insert(key.as_slice(), value);
        keys.push(key);
    }
    keys
}

/// Returns the key of chunk `index` of record `seq`.
fn chunk_key(seq: u64, index: u32) -> Vec<u8> {
    let mut key = seq.to_be_bytes().to_vec();
    if index > 0 {
        key.extend_from_slice(&index.to_be_bytes());
    }
    key
}

/// Returns the sequence number of any chunk key of the log.
pub(super) fn seq_of(key: &[u8]) -> Option<u64> {
    let head: [u8; HEAD_KEY_BYTES] = key.get(..HEAD_KEY_BYTES)?.try_into().ok()?;
    Some(u64::from_be_bytes(head))
}

/// Reassembles whole records from an iterator over the log tree. Yields
/// each record's first-chunk key and its joined value. Continuation
/// chunks without a first chunk (left by a damaged store) are skipped,
/// and the records around them still read.
pub(super) struct Records<I: Iterator<Item = sled::Result<(IVec, IVec)>>> {
    rows: std::iter::Peekable<I>,
}

impl<I: Iterator<Item = sled::Result<(IVec, IVec)>>> Records<I> {
    pub fn new(rows: I) -> Self {
        Records {
            rows: rows.peekable(),
        }
    }
}

impl<I: Iterator<Item = sled::Result<(IVec, IVec)>>> Iterator for Records<I> {
    type Item = sled::Result<(IVec, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        let (key, first) = loop {
            match self.rows.next()? {
                Err(error) => return Some(Err(error)),
                Ok((key, value)) if key.len() == HEAD_KEY_BYTES => break (key, value),
                Ok(_) => continue,
            }
        };

        let mut value = first.to_vec();
        while let Some(Ok((next, _))) = self.rows.peek() {
            let continues = next.len() > HEAD_KEY_BYTES && next.starts_with(&key);
            if !continues {
                break;
            }
            if let Some(Ok((_, chunk))) = self.rows.next() {
                value.extend_from_slice(&chunk);
            }
        }
        Some(Ok((key, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use sled::Tree;

    fn tree() -> (tempfile::TempDir, Tree) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let tree = db.open_tree("log").unwrap();
        (dir, tree)
    }

    fn append(tree: &Tree, seq: u64, value: &[u8]) -> Vec<Vec<u8>> {
        let mut batch = Batch::default();
        let keys = add(&mut batch, seq, value);
        tree.apply_batch(batch).unwrap();
        keys
    }

    #[test]
    fn large_record_splits_and_joins() {
        let (_dir, tree) = tree();
        let small = vec![7u8; 10];
        let large: Vec<u8> = (0..(2 * CHUNK_BYTES + 5)).map(|n| n as u8).collect();

        let keys = append(&tree, 1, &small);
        assert_eq!(keys, vec![1u64.to_be_bytes().to_vec()]);
        let keys = append(&tree, 2, &large);
        assert_eq!(keys.len(), 3);
        append(&tree, 3, &small);

        let records: Vec<(u64, Vec<u8>)> = Records::new(tree.iter())
            .map(|r| r.unwrap())
            .map(|(key, value)| (seq_of(&key).unwrap(), value))
            .collect();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0], (1, small.clone()));
        assert_eq!(records[1], (2, large));
        assert_eq!(records[2], (3, small));
    }

    #[test]
    fn last_key_names_the_last_record() {
        let (_dir, tree) = tree();
        let large = vec![1u8; CHUNK_BYTES + 1];

        append(&tree, 4, &large);

        let (last, _) = tree.last().unwrap().unwrap();
        assert_eq!(last.len(), 12);
        assert_eq!(seq_of(&last), Some(4));
    }

    #[test]
    fn range_from_a_record_starts_at_its_head() {
        let (_dir, tree) = tree();
        let large = vec![2u8; CHUNK_BYTES * 2];
        append(&tree, 5, &large);
        append(&tree, 6, &[9u8; 3]);

        let records: Vec<u64> = Records::new(tree.range(6u64.to_be_bytes()..))
            .map(|r| seq_of(&r.unwrap().0).unwrap())
            .collect();

        assert_eq!(records, vec![6]);
    }

    #[test]
    fn orphan_chunk_is_skipped() {
        let (_dir, tree) = tree();
        tree.insert(chunk_key(8, 1), &[1u8][..]).unwrap();
        append(&tree, 9, &[3u8; 4]);

        let records: Vec<(u64, Vec<u8>)> = Records::new(tree.iter())
            .map(|r| r.unwrap())
            .map(|(key, value)| (seq_of(&key).unwrap(), value))
            .collect();

        assert_eq!(records, vec![(9, vec![3u8; 4])]);
    }
}
