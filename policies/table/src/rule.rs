//! Rules in their compiled form: conditions as bit masks and interned
//! strings, assignments with their reasons prebuilt.

use std::cell::Cell;

use switchboard_sdk::{Attribute, Category, Priority, ResultFlag, RouteItem, text};

use crate::cel_condition::CelCondition;
use crate::roster::{PersonId, RoleId};

/// The assignment half of a rule: roles, how to pick a person, priority, due
/// time and the prebuilt reasons.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) name: String,
    /// Roles in the order written; the first is the default pool.
    pub(crate) roles: Vec<RoleId>,
    pub(crate) pick: Pick,
    pub(crate) require_person: bool,
    pub(crate) priority: PriorityChange,
    pub(crate) due_minutes: Option<u32>,
    /// `rule NAME: REASON`, used when the rule's pick succeeded or the rule
    /// assigns a pool by design.
    pub(crate) reason: String,
    /// The reason used when the pick found nobody, one per entry of `roles`,
    /// saying which pool the item was left in.
    pub(crate) pool_reasons: Vec<String>,
    /// Why the pick found nobody, such as `strategy pod found no available
    /// person`, for reasons and errors.
    pub(crate) miss: String,
}

/// A rule's way of choosing a person inside its role pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pick {
    /// Nobody: the item goes to the role pool.
    Pool,
    /// `person = "id"`.
    Fixed(PersonId),
    /// Strategies tried in order until one finds an available person.
    Strategies(Vec<Strategy>),
}

/// One way of finding a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// The person an item field or attribute names.
    From(PersonSource),
    /// The least-loaded role member in the pod of the first source that
    /// names a roster person with a pod.
    Pod(Vec<PersonSource>),
    /// The least-loaded member of the rule's roles.
    LeastLoaded,
}

/// An item field that contains a roster person id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PersonSource {
    Ordering,
    Rendering,
    Pcp,
    /// The value of the item's first attribute with this key.
    Attribute(String),
}

impl PersonSource {
    /// Parses `ordering`, `rendering`, `pcp` or `attribute:<key>`.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "ordering" => Some(PersonSource::Ordering),
            "rendering" => Some(PersonSource::Rendering),
            "pcp" => Some(PersonSource::Pcp),
            _ => {
                let key = text.strip_prefix("attribute:")?;
                (!key.is_empty()).then(|| PersonSource::Attribute(key.to_string()))
            }
        }
    }

    /// Reads the roster id the item gives for this source.
    pub(crate) fn read<'a>(&self, item: &'a RouteItem) -> Option<&'a str> {
        match self {
            PersonSource::Ordering => item.ordering.as_deref(),
            PersonSource::Rendering => item.rendering.as_deref(),
            PersonSource::Pcp => item.pcp.as_deref(),
            PersonSource::Attribute(key) => first_attribute(&item.attributes, key),
        }
    }
}

/// A rule's change to the item's priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PriorityChange {
    Keep,
    Set(Priority),
    /// Raise to at least this priority; a higher one is kept.
    Raise(Priority),
}

impl PriorityChange {
    pub(crate) fn apply(self, priority: Priority) -> Priority {
        match self {
            PriorityChange::Keep => priority,
            PriorityChange::Set(p) => p,
            PriorityChange::Raise(p) => priority.max(p),
        }
    }
}

/// One alternative of a rule's `when`: every condition must hold. A rule
/// with a `when` list has one matcher per entry, adjacent in table order.
#[derive(Debug)]
pub(crate) struct Matcher {
    pub(crate) rule: u32,
    /// Bit `i` set when `Category::ALL[i]` matches.
    pub(crate) categories: u16,
    /// Bit `i` set when `ResultFlag::ALL[i]` matches.
    pub(crate) flags: u8,
    /// Bit `i` set when `Priority::ALL[i]` matches.
    pub(crate) priorities: u8,
    /// Inclusive minimum age in minutes.
    pub(crate) min_age: Option<i64>,
    /// Exclusive maximum age in minutes.
    pub(crate) max_age: Option<i64>,
    pub(crate) attributes: Vec<AttributeTest>,
    pub(crate) cel: Option<CelCondition>,
    /// CEL evaluation failures so far, for rate-limited logging.
    pub(crate) cel_failures: Cell<u64>,
}

pub(crate) const ALL_CATEGORIES: u16 = (1 << Category::ALL.len()) - 1;
pub(crate) const ALL_FLAGS: u8 = (1 << ResultFlag::ALL.len()) - 1;
pub(crate) const ALL_PRIORITIES: u8 = (1 << Priority::ALL.len()) - 1;

impl Matcher {
    /// Tests every condition except the CEL expression, which the router
    /// evaluates last because it costs the most.
    pub(crate) fn matches_plain(&self, item: &RouteItem, age_minutes: i64) -> bool {
        self.priorities & priority_bit(item.priority) != 0
            && self.min_age.is_none_or(|min| age_minutes >= min)
            && self.max_age.is_none_or(|max| age_minutes < max)
            && self
                .attributes
                .iter()
                .all(|test| test.matches(&item.attributes))
    }

    /// True when the matcher has no conditions at all.
    pub(crate) fn is_catch_all(&self) -> bool {
        self.categories == ALL_CATEGORIES
            && self.flags == ALL_FLAGS
            && self.priorities == ALL_PRIORITIES
            && self.min_age.is_none()
            && self.max_age.is_none()
            && self.attributes.is_empty()
            && self.cel.is_none()
    }
}

pub(crate) fn category_bit(category: Category) -> u16 {
    1 << index_of(Category::ALL, category)
}

pub(crate) fn flag_bit(flag: ResultFlag) -> u8 {
    1 << index_of(ResultFlag::ALL, flag)
}

pub(crate) fn priority_bit(priority: Priority) -> u8 {
    1 << index_of(Priority::ALL, priority)
}

fn index_of<T: PartialEq>(all: &[T], value: T) -> usize {
    all.iter().position(|v| *v == value).unwrap_or(0)
}

/// A condition on one attribute. Tests read the first attribute with the key,
/// as `RouteItem::attribute` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttributeTest {
    Equals { key: String, value: String },
    Present { key: String },
    Absent { key: String },
    OneOf { key: String, values: Vec<String> },
}

impl AttributeTest {
    pub(crate) fn matches(&self, attributes: &[Attribute]) -> bool {
        match self {
            AttributeTest::Equals { key, value } => {
                first_attribute(attributes, key).is_some_and(|v| text::eq(v, value))
            }
            AttributeTest::Present { key } => first_attribute(attributes, key).is_some(),
            AttributeTest::Absent { key } => first_attribute(attributes, key).is_none(),
            AttributeTest::OneOf { key, values } => first_attribute(attributes, key)
                .is_some_and(|v| values.iter().any(|candidate| text::eq(candidate, v))),
        }
    }

    /// The key and the values an item must have for this test to pass, for
    /// tests that compare with fixed values.
    pub(crate) fn required_values(&self) -> Option<(&str, &[String])> {
        match self {
            AttributeTest::Equals { key, value } => Some((key, std::slice::from_ref(value))),
            AttributeTest::OneOf { key, values } => Some((key, values)),
            AttributeTest::Present { .. } | AttributeTest::Absent { .. } => None,
        }
    }
}

pub(crate) fn first_attribute<'a>(attributes: &'a [Attribute], key: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|a| text::eq(&a.key, key))
        .map(|a| a.value.as_str())
}
