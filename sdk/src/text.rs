//! String comparisons that stay fast inside a component.
//!
//! In a `wasm32-wasip2` build, `==` and `cmp` on strings of equal length
//! call wasi-libc's `memcmp`, which compares one byte per loop turn. In the
//! table policy each such call cost about 140 instructions through
//! wasmtime, for roster ids and attribute values of 10 to 20 bytes. These
//! functions compare up to eight bytes per turn with plain loads and give
//! the same results as the operators.

use std::cmp::Ordering;

/// Returns true when `a` and `b` are the same string, as `a == b` does.
#[inline]
pub fn eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && first_difference(a, b, a.len()).is_none()
}

/// Orders `a` and `b` byte by byte, as `a.cmp(b)` does.
#[inline]
pub fn cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let common = a.len().min(b.len());
    match first_difference(a, b, common) {
        Some(at) => a[at].cmp(&b[at]),
        None => a.len().cmp(&b.len()),
    }
}

/// A 64-bit hash of `text` for lookup tables inside a policy, such as
/// roster ids: a few instructions per eight bytes, where std's `HashMap`
/// hashes byte by byte with SipHash. It does not resist chosen collisions,
/// so use it only for tables whose keys come from the policy's own
/// configuration. A lookup key from an item can then only miss or probe
/// further.
#[inline]
pub fn hash(text: &str) -> u64 {
    const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

    let bytes = text.as_bytes();
    let mut hash = (bytes.len() as u64).wrapping_mul(MULTIPLIER);
    for_each_word(bytes, |word| {
        hash = (hash.rotate_left(23) ^ word).wrapping_mul(MULTIPLIER);
    });
    hash ^ hash >> 29
}

/// The first position below `len` where `a` and `b` differ. Both must be
/// at least `len` bytes long.
///
/// Reads words of up to eight bytes, the widest that fits in `len`. When
/// the last word would run past `len`, it is moved back to end at `len`,
/// overlapping bytes already known to be equal. In a word that differs,
/// the lowest set bit of the XOR marks the first differing byte.
#[inline]
fn first_difference(a: &[u8], b: &[u8], len: usize) -> Option<usize> {
    match len {
        0 => None,
        1 => (a[0] != b[0]).then_some(0),
        2..=3 => scan::<2>(a, b, len),
        4..=7 => scan::<4>(a, b, len),
        _ => scan::<8>(a, b, len),
    }
}

/// Finds the first difference as [`first_difference`] does, with words of
/// `W` bytes. `len` must be at least `W`.
#[inline(always)]
fn scan<const W: usize>(a: &[u8], b: &[u8], len: usize) -> Option<usize> {
    let mut at = 0;
    loop {
        let diff = word::<W>(a, at) ^ word::<W>(b, at);
        if diff != 0 {
            return Some(at + diff.trailing_zeros() as usize / 8);
        }
        if at + W == len {
            return None;
        }
        at = (at + W).min(len - W);
    }
}

/// Calls `f` with `bytes` in words as [`first_difference`] reads them.
/// Texts that differ only in length can give the same words, so
/// [`hash`] starts from the length.
#[inline(always)]
fn for_each_word(bytes: &[u8], mut f: impl FnMut(u64)) {
    let len = bytes.len();
    let mut walk = |width: usize, read: fn(&[u8], usize) -> u64| {
        let mut at = 0;
        loop {
            f(read(bytes, at));
            if at + width == len {
                break;
            }
            at = (at + width).min(len - width);
        }
    };
    match len {
        0 => {}
        1 => f(u64::from(bytes[0])),
        2..=3 => walk(2, word::<2>),
        4..=7 => walk(4, word::<4>),
        _ => walk(8, word::<8>),
    }
}

/// Reads the `W` bytes at `at` as one little-endian integer.
#[inline(always)]
fn word<const W: usize>(bytes: &[u8], at: usize) -> u64 {
    let mut chunk = [0; 8];
    chunk[..W].copy_from_slice(&bytes[at..at + W]);
    u64::from_le_bytes(chunk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn agrees_with_the_operators_on_edge_cases() {
        let cases = [
            ("", ""),
            ("", "a"),
            ("a", ""),
            ("abcdefgh", "abcdefgh"),
            ("abcdefgh", "abcdefgi"),
            ("abcdefghi", "abcdefgh"),
            ("abcdefgh-1", "abcdefgh-2"),
            ("dr-patel", "dr-patek"),
            ("Patient/é-1", "Patient/e-1"),
            ("0123456789abcdef0", "0123456789abcdef1"),
            ("x0123456789abcdef", "y0123456789abcdef"),
        ];
        for (a, b) in cases {
            assert_eq!(eq(a, b), a == b, "eq({a:?}, {b:?})");
            assert_eq!(cmp(a, b), a.cmp(b), "cmp({a:?}, {b:?})");
            assert_eq!(cmp(b, a), b.cmp(a), "cmp({b:?}, {a:?})");
        }
    }

    proptest! {
        #[test]
        fn agrees_with_the_operators(a in "[a-c\u{e9}]{0,20}", b in "[a-c\u{e9}]{0,20}") {
            prop_assert_eq!(eq(&a, &b), a == b);
            prop_assert_eq!(cmp(&a, &b), a.cmp(&b));
        }

        #[test]
        fn equal_texts_hash_alike_and_near_misses_apart(text in "[a-z0-9-]{0,30}", at in 0usize..30) {
            prop_assert_eq!(hash(&text), hash(&text.clone()));
            if !text.is_empty() {
                let at = at % text.len();
                let mut changed = text.clone().into_bytes();
                changed[at] ^= 1;
                let changed = String::from_utf8(changed).unwrap();
                prop_assert_ne!(hash(&text), hash(&changed));
            }
            let longer = format!("{text}a");
            prop_assert_ne!(hash(&text), hash(&longer));
        }

        #[test]
        fn finds_a_single_changed_byte(text in "[a-z]{1,40}", at in 0usize..40) {
            let at = at % text.len();
            let mut changed = text.clone().into_bytes();
            changed[at] = b'A';
            let changed = String::from_utf8(changed).unwrap();
            prop_assert_eq!(eq(&text, &changed), false);
            prop_assert_eq!(cmp(&text, &changed), text.cmp(&changed));
        }
    }
}
