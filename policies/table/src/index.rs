//! The lookup structure that keeps routing fast with hundreds of rules.
//!
//! Matchers are sorted into one bucket per (category, flag) pair, keeping
//! table order, so an item only meets matchers that can accept its category
//! and flag. Inside a bucket, a run of consecutive matchers that all compare
//! the same attribute with fixed values (`equals` or `one_of`) becomes a
//! switch: the item's value selects the few matchers that can still match,
//! found by binary search, and the rest of the run is skipped. First match
//! still wins because both kinds of segment keep table order.

use std::collections::BTreeMap;

use switchboard_sdk::{Category, ResultFlag, RouteItem, text};

use crate::rule::{Matcher, category_bit, first_attribute, flag_bit};

/// Runs shorter than this stay linear: a binary search does not pay off for
/// a handful of string comparisons.
const MIN_SWITCH_RUN: usize = 4;

/// Matcher indexes in table order, per bucket.
#[derive(Debug)]
pub(crate) struct Index {
    buckets: Vec<Vec<Segment>>,
}

#[derive(Debug)]
enum Segment {
    /// Matchers to test one after another.
    Linear(Vec<u32>),
    Switch(Switch),
}

/// A run of matchers that each require attribute `key` to have one of a few
/// fixed values.
#[derive(Debug)]
struct Switch {
    key: String,
    /// Sorted by value; each list holds matcher indexes in table order.
    cases: Vec<(String, Vec<u32>)>,
}

impl Index {
    pub(crate) fn build(matchers: &[Matcher]) -> Self {
        let mut buckets = Vec::with_capacity(Category::ALL.len() * ResultFlag::ALL.len());
        for category in Category::ALL {
            for flag in ResultFlag::ALL {
                let ids: Vec<u32> = matchers
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| {
                        m.categories & category_bit(*category) != 0
                            && m.flags & flag_bit(*flag) != 0
                    })
                    .map(|(i, _)| i as u32)
                    .collect();
                buckets.push(segments(&ids, matchers));
            }
        }
        Index { buckets }
    }

    /// Calls `test` on the candidate matchers for `item` in table order and
    /// returns the first for which it returns true.
    pub(crate) fn first_match(
        &self,
        item: &RouteItem,
        mut test: impl FnMut(u32) -> bool,
    ) -> Option<u32> {
        for segment in &self.buckets[bucket_of(item.category, item.flag)] {
            let candidates: &[u32] = match segment {
                Segment::Linear(ids) => ids,
                Segment::Switch(switch) => switch.candidates(item),
            };
            if let Some(found) = candidates.iter().copied().find(|id| test(*id)) {
                return Some(found);
            }
        }
        None
    }
}

impl Switch {
    fn candidates(&self, item: &RouteItem) -> &[u32] {
        let Some(value) = first_attribute(&item.attributes, &self.key) else {
            return &[];
        };
        match self
            .cases
            .binary_search_by(|(case, _)| text::cmp(case, value))
        {
            Ok(i) => &self.cases[i].1,
            Err(_) => &[],
        }
    }
}

fn bucket_of(category: Category, flag: ResultFlag) -> usize {
    let category = category_bit(category).trailing_zeros() as usize;
    let flag = flag_bit(flag).trailing_zeros() as usize;
    category * ResultFlag::ALL.len() + flag
}

/// Splits one bucket's matchers into linear runs and switches.
fn segments(ids: &[u32], matchers: &[Matcher]) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut linear = Vec::new();
    let mut start = 0;
    while start < ids.len() {
        match longest_run(&ids[start..], matchers) {
            Some((key, length)) if length >= MIN_SWITCH_RUN => {
                if !linear.is_empty() {
                    segments.push(Segment::Linear(std::mem::take(&mut linear)));
                }
                segments.push(Segment::Switch(switch(
                    key,
                    &ids[start..start + length],
                    matchers,
                )));
                start += length;
            }
            _ => {
                linear.push(ids[start]);
                start += 1;
            }
        }
    }
    if !linear.is_empty() {
        segments.push(Segment::Linear(linear));
    }
    segments
}

/// The attribute key of the first matcher that the most following matchers
/// also compare with fixed values, and the length of that run.
fn longest_run<'a>(ids: &[u32], matchers: &'a [Matcher]) -> Option<(&'a str, usize)> {
    let first = &matchers[ids[0] as usize];
    first
        .attributes
        .iter()
        .filter_map(|test| test.required_values())
        .map(|(key, _)| {
            let length = ids
                .iter()
                .take_while(|id| fixed_values(&matchers[**id as usize], key).is_some())
                .count();
            (key, length)
        })
        .max_by_key(|(_, length)| *length)
}

fn fixed_values<'a>(matcher: &'a Matcher, key: &str) -> Option<&'a [String]> {
    matcher
        .attributes
        .iter()
        .filter_map(|test| test.required_values())
        .find(|(k, _)| *k == key)
        .map(|(_, values)| values)
}

fn switch(key: &str, ids: &[u32], matchers: &[Matcher]) -> Switch {
    let mut cases: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for id in ids {
        for value in fixed_values(&matchers[*id as usize], key).unwrap_or_default() {
            let list = cases.entry(value.as_str()).or_default();
            // `one_of` may list a value twice; keep one entry per matcher.
            if list.last() != Some(id) {
                list.push(*id);
            }
        }
    }
    let cases = cases
        .into_iter()
        .map(|(value, list)| (value.to_string(), list))
        .collect();
    Switch {
        key: key.to_string(),
        cases,
    }
}

#[cfg(test)]
mod tests {
    use switchboard_sdk::{Attribute, Priority, Timestamp};

    use super::*;
    use crate::rule::{ALL_CATEGORIES, ALL_FLAGS, ALL_PRIORITIES, AttributeTest};

    /// A small deterministic generator (a linear congruential one), so the
    /// test sees the same tables and items on every run.
    struct Sequence(u64);

    impl Sequence {
        fn below(&mut self, bound: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % bound
        }
    }

    const CODES: [&str; 6] = ["2160-0", "2345-7", "4548-4", "718-7", "2093-3", "1-1"];

    fn matcher(rule: u32, categories: u16, attributes: Vec<AttributeTest>) -> Matcher {
        Matcher {
            rule,
            categories,
            flags: ALL_FLAGS,
            priorities: ALL_PRIORITIES,
            min_age: None,
            max_age: None,
            attributes,
            cel: None,
            cel_failures: Default::default(),
        }
    }

    fn random_matchers(sequence: &mut Sequence) -> Vec<Matcher> {
        let mut matchers = Vec::new();
        for rule in 0..80u32 {
            let categories = if sequence.below(3) == 0 {
                ALL_CATEGORIES
            } else {
                category_bit(Category::ALL[sequence.below(3) as usize])
            };
            let code = || CODES[0].to_string();
            let mut attributes = Vec::new();
            match sequence.below(5) {
                0 | 1 => attributes.push(AttributeTest::Equals {
                    key: "loinc".into(),
                    value: CODES[sequence.below(6) as usize].into(),
                }),
                2 => attributes.push(AttributeTest::OneOf {
                    key: "loinc".into(),
                    values: vec![code(), CODES[sequence.below(6) as usize].into()],
                }),
                3 => attributes.push(AttributeTest::Present { key: "lab".into() }),
                _ => {}
            }
            if sequence.below(4) == 0 {
                attributes.push(AttributeTest::Equals {
                    key: "lab".into(),
                    value: ["main", "outside"][sequence.below(2) as usize].into(),
                });
            }
            matchers.push(matcher(rule, categories, attributes));
        }
        matchers
    }

    fn random_item(sequence: &mut Sequence, key: u64) -> RouteItem {
        let mut attributes = Vec::new();
        for _ in 0..sequence.below(4) {
            let (name, value) = match sequence.below(3) {
                0 => ("loinc", CODES[sequence.below(6) as usize]),
                1 => ("lab", ["main", "outside"][sequence.below(2) as usize]),
                _ => ("loinc", "9999-9"),
            };
            attributes.push(Attribute {
                key: name.into(),
                value: value.into(),
            });
        }
        RouteItem {
            key,
            category: Category::ALL[sequence.below(3) as usize],
            flag: ResultFlag::ALL[sequence.below(5) as usize],
            priority: Priority::Routine,
            created: Timestamp(0),
            due: None,
            patient: None,
            ordering: None,
            rendering: None,
            pcp: None,
            attributes,
        }
    }

    /// The first match by testing every matcher in table order.
    fn linear_first_match(matchers: &[Matcher], item: &RouteItem) -> Option<u32> {
        matchers
            .iter()
            .position(|m| {
                m.categories & category_bit(item.category) != 0
                    && m.flags & flag_bit(item.flag) != 0
                    && m.matches_plain(item, 0)
            })
            .map(|i| i as u32)
    }

    #[test]
    fn index_agrees_with_linear_scan() {
        let mut sequence = Sequence(7);
        let matchers = random_matchers(&mut sequence);
        let index = Index::build(&matchers);
        let switches = index
            .buckets
            .iter()
            .flatten()
            .filter(|s| matches!(s, Segment::Switch(_)))
            .count();
        assert!(
            switches > 0,
            "the random table should produce switches to test"
        );

        for key in 0..2000 {
            let item = random_item(&mut sequence, key);

            let indexed =
                index.first_match(&item, |id| matchers[id as usize].matches_plain(&item, 0));

            assert_eq!(
                indexed,
                linear_first_match(&matchers, &item),
                "item {item:?}"
            );
        }
    }

    #[test]
    fn long_equality_run_becomes_a_switch() {
        let matchers: Vec<Matcher> = CODES
            .iter()
            .enumerate()
            .map(|(i, code)| {
                matcher(
                    i as u32,
                    ALL_CATEGORIES,
                    vec![AttributeTest::Equals {
                        key: "loinc".into(),
                        value: code.to_string(),
                    }],
                )
            })
            .chain([matcher(CODES.len() as u32, ALL_CATEGORIES, Vec::new())])
            .collect();

        let index = Index::build(&matchers);

        let bucket = &index.buckets[bucket_of(Category::Result, ResultFlag::Normal)];
        assert!(
            matches!(bucket.as_slice(), [Segment::Switch(switch), Segment::Linear(rest)] if switch.cases.len() == CODES.len() && rest == &[6]),
            "{bucket:?}"
        );
    }

    #[test]
    fn short_run_stays_linear() {
        let matchers: Vec<Matcher> = CODES[..3]
            .iter()
            .enumerate()
            .map(|(i, code)| {
                matcher(
                    i as u32,
                    ALL_CATEGORIES,
                    vec![AttributeTest::Equals {
                        key: "loinc".into(),
                        value: code.to_string(),
                    }],
                )
            })
            .collect();

        let index = Index::build(&matchers);

        let bucket = &index.buckets[bucket_of(Category::Refill, ResultFlag::None)];
        assert!(
            matches!(bucket.as_slice(), [Segment::Linear(ids)] if ids == &[0, 1, 2]),
            "{bucket:?}"
        );
    }
}
