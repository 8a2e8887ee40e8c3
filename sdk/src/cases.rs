//! Policy case files: items with the assignment each should get.
//!
//! The same file runs natively through [`crate::testing::PolicyHarness`] and
//! through the built component in the host's tests, so the harness cannot
//! hide a difference between the two. Format (TOML):
//!
//! ```toml
//! site = "../../examples/config/sites/northside.toml"  # relative to this file
//! config = "../rules.toml"                              # policy config, optional
//! now = "2026-03-09T15:00:00Z"
//!
//! [[case]]
//! name = "refill goes to the MA of the PCP's pod"
//! item = { category = "refill", created = "2026-03-09T14:00:00Z", pcp = "dr-lee" }
//! load = { ma-ana = 3 }
//! expect = { role = "ma", person = "ma-ana", rule = "refills" }
//! ```
//!
//! `expect` fields left out are not checked; `unassigned = true` requires that
//! no person be named; `error = "no-match"` expects that routing error kind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::types::{
    Assignment, Attribute, Category, PersonLoad, Priority, ResultFlag, RouteContext, RouteError,
    RouteItem, Timestamp,
};

/// A parsed case file with its site and config text loaded.
#[derive(Clone, Debug)]
pub struct CaseFile {
    /// Where the file was read from.
    pub path: PathBuf,
    /// Site file text.
    pub site_text: String,
    /// Policy config text (empty when the file names none).
    pub config_text: String,
    /// Time the cases run at.
    pub now: Timestamp,
    /// The cases in file order.
    pub cases: Vec<PolicyCase>,
}

/// One item and what routing it should produce.
#[derive(Clone, Debug)]
pub struct PolicyCase {
    /// Behaviour the case checks.
    pub name: String,
    /// The item.
    pub item: RouteItem,
    /// Routing context (time and load).
    pub context: RouteContext,
    /// What to expect.
    pub expect: Expectation,
}

/// Expected outcome. Fields left `None` are not checked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Expected role.
    pub role: Option<String>,
    /// Expected person.
    pub person: Option<String>,
    /// Require no person.
    #[serde(default)]
    pub unassigned: bool,
    /// Expected priority.
    pub priority: Option<Priority>,
    /// Expected rule name.
    pub rule: Option<String>,
    /// Expected due time as minutes after `now`.
    pub due_in_minutes: Option<i64>,
    /// Expected routing error kind: `no-match`, `no-owner`, `invalid-item`.
    pub error: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    site: String,
    #[serde(default)]
    config: Option<String>,
    now: Timestamp,
    #[serde(rename = "case")]
    cases: Vec<RawCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    item: RawItem,
    #[serde(default)]
    load: BTreeMap<String, u32>,
    #[serde(default)]
    now: Option<Timestamp>,
    expect: Expectation,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    category: Category,
    #[serde(default)]
    flag: ResultFlag,
    #[serde(default)]
    priority: Priority,
    created: Timestamp,
    #[serde(default)]
    due: Option<Timestamp>,
    #[serde(default)]
    patient: Option<String>,
    #[serde(default)]
    ordering: Option<String>,
    #[serde(default)]
    rendering: Option<String>,
    #[serde(default)]
    pcp: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

/// Why a case file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CaseFileError {
    /// A file could not be read.
    #[error("failed to read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The case file is not valid.
    #[error("invalid case file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn read(path: &Path) -> Result<String, CaseFileError> {
    std::fs::read_to_string(path).map_err(|source| CaseFileError::Read {
        path: path.to_path_buf(),
        source,
    })
}

impl CaseFile {
    /// Loads a case file and the site and config files it names.
    ///
    /// # Errors
    ///
    /// [`CaseFileError`] naming the file and the problem.
    pub fn load(path: &Path) -> Result<Self, CaseFileError> {
        let text = read(path)?;
        let raw: RawFile = toml::from_str(&text).map_err(|e| CaseFileError::Invalid {
            path: path.to_path_buf(),
            message: crate::types::ConfigError::from_toml(&e, &text).to_string(),
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let site_text = read(&dir.join(&raw.site))?;
        let config_text = match &raw.config {
            Some(config) => read(&dir.join(config))?,
            None => String::new(),
        };

        let cases = raw
            .cases
            .into_iter()
            .enumerate()
            .map(|(index, c)| {
                let now = c.now.unwrap_or(raw.now);
                PolicyCase {
                    name: c.name,
                    item: RouteItem {
                        key: index as u64 + 1,
                        category: c.item.category,
                        flag: c.item.flag,
                        priority: c.item.priority,
                        created: c.item.created,
                        due: c.item.due,
                        patient: c.item.patient,
                        ordering: c.item.ordering,
                        rendering: c.item.rendering,
                        pcp: c.item.pcp,
                        attributes: c
                            .item
                            .attributes
                            .into_iter()
                            .map(|(key, value)| Attribute { key, value })
                            .collect(),
                    },
                    context: RouteContext {
                        now,
                        load: c
                            .load
                            .into_iter()
                            .map(|(person, open_items)| PersonLoad { person, open_items })
                            .collect(),
                    },
                    expect: c.expect,
                }
            })
            .collect();

        Ok(CaseFile {
            path: path.to_path_buf(),
            site_text,
            config_text,
            now: raw.now,
            cases,
        })
    }
}

impl PolicyCase {
    /// Compares an outcome with the expectation.
    ///
    /// # Errors
    ///
    /// A message naming the case, the field, and the expected and actual values.
    pub fn check(&self, outcome: &Result<Assignment, RouteError>) -> Result<(), String> {
        let e = &self.expect;
        let fail = |field: &str, expected: &dyn std::fmt::Debug, actual: &dyn std::fmt::Debug| {
            Err(format!(
                "case {:?}: {field}: expected {expected:?}, got {actual:?}",
                self.name
            ))
        };

        let assignment = match (outcome, &e.error) {
            (Err(error), Some(kind)) => {
                let actual = match error {
                    RouteError::NoMatch(_) => "no-match",
                    RouteError::NoOwner(_) => "no-owner",
                    RouteError::InvalidItem(_) => "invalid-item",
                };
                return if actual == kind {
                    Ok(())
                } else {
                    fail("error", kind, error)
                };
            }
            (Err(error), None) => return fail("outcome", &"an assignment", error),
            (Ok(a), Some(kind)) => return fail("outcome", kind, a),
            (Ok(a), None) => a,
        };

        if let Some(role) = &e.role
            && &assignment.role != role
        {
            return fail("role", role, &assignment.role);
        }
        if let Some(person) = &e.person
            && assignment.person.as_ref() != Some(person)
        {
            return fail("person", person, &assignment.person);
        }
        if e.unassigned && assignment.person.is_some() {
            return fail("person", &None::<String>, &assignment.person);
        }
        if let Some(priority) = e.priority
            && assignment.priority != priority
        {
            return fail("priority", &priority, &assignment.priority);
        }
        if let Some(rule) = &e.rule
            && &assignment.rule != rule
        {
            return fail("rule", rule, &assignment.rule);
        }
        if let Some(minutes) = e.due_in_minutes {
            let expected = self.context.now.plus_minutes(minutes);
            if assignment.due != Some(expected) {
                return fail("due", &Some(expected), &assignment.due);
            }
        }
        Ok(())
    }
}
