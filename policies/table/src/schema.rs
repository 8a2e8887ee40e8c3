//! The rule table as written in TOML, before validation.
//!
//! Values that a later check may reject carry their [`Spanned`] position so
//! the error can point at them.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, StrDeserializer};
use serde::de::{self, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use switchboard_sdk::{Category, Priority, ResultFlag};
use toml::Spanned;

/// The schema version this crate reads.
pub(crate) const SCHEMA: u32 = 1;

/// A whole table file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TableFile {
    #[serde(default)]
    pub(crate) schema: Option<Spanned<u32>>,
    #[serde(default, rename = "rule")]
    pub(crate) rules: Vec<RuleEntry>,
}

/// One `[[rule]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleEntry {
    pub(crate) name: Spanned<String>,
    pub(crate) reason: Spanned<String>,
    #[serde(default)]
    pub(crate) when: Option<Spanned<When>>,
    pub(crate) role: Spanned<OneOrMany<String>>,
    #[serde(default)]
    pub(crate) strategy: Option<Spanned<OneOrMany<String>>>,
    #[serde(default)]
    pub(crate) person: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) pod_of: Option<Spanned<OneOrMany<String>>>,
    #[serde(default)]
    pub(crate) require_person: bool,
    #[serde(default)]
    pub(crate) set_priority: Option<Spanned<Priority>>,
    #[serde(default)]
    pub(crate) raise_priority: Option<Spanned<Priority>>,
    #[serde(default)]
    pub(crate) due_minutes: Option<u32>,
}

/// The conditions of a rule: one table, or a list of tables of which any
/// may match.
#[derive(Debug)]
pub(crate) struct When {
    pub(crate) alternatives: Vec<Conditions>,
    /// True when written as a list, even of one table.
    pub(crate) is_list: bool,
}

/// One set of conditions, all of which must hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Conditions {
    #[serde(default)]
    pub(crate) category: Option<OneOrMany<Category>>,
    #[serde(default)]
    pub(crate) flag: Option<OneOrMany<ResultFlag>>,
    #[serde(default)]
    pub(crate) priority: Option<OneOrMany<Priority>>,
    #[serde(default)]
    pub(crate) min_priority: Option<Priority>,
    #[serde(default)]
    pub(crate) attributes: BTreeMap<String, Spanned<AttributeCondition>>,
    #[serde(default)]
    pub(crate) min_age_minutes: Option<u32>,
    #[serde(default)]
    pub(crate) max_age_minutes: Option<u32>,
    #[serde(default)]
    pub(crate) expr: Option<Spanned<String>>,
}

impl Conditions {
    /// True when the table sets no condition at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.category.is_none()
            && self.flag.is_none()
            && self.priority.is_none()
            && self.min_priority.is_none()
            && self.attributes.is_empty()
            && self.min_age_minutes.is_none()
            && self.max_age_minutes.is_none()
            && self.expr.is_none()
    }
}

/// A condition on one attribute: a bare string means `equals`. Exactly one
/// field must be set; the compiler checks that.
#[derive(Debug, Default)]
pub(crate) struct AttributeCondition {
    pub(crate) equals: Option<String>,
    pub(crate) present: Option<bool>,
    pub(crate) one_of: Option<Vec<String>>,
}

/// A value written either alone or as a list: `"ma"` or `["physician", "np"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OneOrMany<T>(pub(crate) Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
            type Value = OneOrMany<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                let deserializer: StrDeserializer<'_, E> = value.into_deserializer();
                T::deserialize(deserializer).map(|one| OneOrMany(vec![one]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut many = Vec::new();
                while let Some(value) = seq.next_element()? {
                    many.push(value);
                }
                Ok(OneOrMany(many))
            }
        }

        deserializer.deserialize_any(OneOrManyVisitor(PhantomData))
    }
}

impl<'de> Deserialize<'de> for When {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct WhenVisitor;

        impl<'de> Visitor<'de> for WhenVisitor {
            type Value = When;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of conditions or a list of such tables")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Conditions::deserialize(MapAccessDeserializer::new(map)).map(|one| When {
                    alternatives: vec![one],
                    is_list: false,
                })
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut many = Vec::new();
                while let Some(conditions) = seq.next_element()? {
                    many.push(conditions);
                }
                Ok(When {
                    alternatives: many,
                    is_list: true,
                })
            }
        }

        deserializer.deserialize_any(WhenVisitor)
    }
}

impl<'de> Deserialize<'de> for AttributeCondition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AttributeVisitor;

        impl<'de> Visitor<'de> for AttributeVisitor {
            type Value = AttributeCondition;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string to compare with, or a table with one of `equals`, `present` or `one_of`")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Ok(AttributeCondition {
                    equals: Some(value.to_string()),
                    ..AttributeCondition::default()
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                AttributeTable::deserialize(MapAccessDeserializer::new(map)).map(|t| {
                    AttributeCondition {
                        equals: t.equals,
                        present: t.present,
                        one_of: t.one_of,
                    }
                })
            }
        }

        deserializer.deserialize_any(AttributeVisitor)
    }
}

/// The table form of [`AttributeCondition`]; a separate type so that serde's
/// derive handles unknown keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttributeTable {
    #[serde(default)]
    equals: Option<String>,
    #[serde(default)]
    present: Option<bool>,
    #[serde(default)]
    one_of: Option<Vec<String>>,
}
