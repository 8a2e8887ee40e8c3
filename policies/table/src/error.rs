//! Why a rule table is rejected at `configure`.

use std::ops::Range;

use switchboard_sdk::{ConfigError, line_column};

/// A rule table the policy cannot accept, with the place in the config text
/// it refers to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct TableError {
    /// What is wrong.
    pub kind: TableErrorKind,
    /// Byte range in the config text that the error points at, when known.
    pub span: Option<Range<usize>>,
}

/// The kinds of [`TableError`]. Every message names the rule (when there is
/// one), the value at fault and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TableErrorKind {
    /// The text is not valid TOML or does not fit the table's fields.
    #[error("{}{message}", in_rule(rule.as_deref()))]
    Syntax {
        /// The rule the error sits in, when the position is inside one.
        rule: Option<String>,
        /// The parser's message.
        message: String,
    },
    /// `schema` names a version this policy does not read.
    #[error("schema {found} is not supported; this policy reads schema {supported}")]
    UnsupportedSchema {
        /// The version in the file.
        found: u32,
        /// The version this policy reads.
        supported: u32,
    },
    /// The table has no `[[rule]]`.
    #[error(
        "the table has no rules; add [[rule]] entries ending with a catch-all rule without `when`, or leave the config empty to use the defaults"
    )]
    NoRules,
    /// More rules than [`crate::MAX_RULES`].
    #[error(
        "the table has {count} rules, more than the limit of {max}; merge rules with `one_of` or CEL conditions"
    )]
    TooManyRules {
        /// Rules in the file.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A rule name with characters outside letters, digits, `-`, `_`, `.`.
    #[error("rule name {rule:?} is invalid; use 1 to 64 letters, digits, '-', '_' or '.'")]
    InvalidName {
        /// The name as written.
        rule: String,
    },
    /// Two rules share a name.
    #[error(
        "rule {rule:?} is defined twice; rule names must be unique because assignments and reports refer to rules by name"
    )]
    DuplicateName {
        /// The repeated name.
        rule: String,
    },
    /// A rule whose `reason` is empty.
    #[error(
        "rule {rule:?}: `reason` is empty; write the sentence staff read, such as \"normal results go to the RN pool\""
    )]
    EmptyReason {
        /// The rule.
        rule: String,
    },
    /// `role = []`.
    #[error("rule {rule:?}: `role` is empty; name at least one role of the site")]
    NoRole {
        /// The rule.
        rule: String,
    },
    /// A role the site does not define.
    #[error(
        "rule {rule:?}: role {role:?} is not defined by site {site:?} (defined: {defined}); add it to the site's [[roles]] or change the rule"
    )]
    UnknownRole {
        /// The rule.
        rule: String,
        /// The role as written.
        role: String,
        /// The site id.
        site: String,
        /// The roles the site defines, comma-separated.
        defined: String,
    },
    /// `person = "id"` with an id not on the roster.
    #[error(
        "rule {rule:?}: person {person:?} is not on the roster of site {site:?}; use a roster id from the site's [[people]]"
    )]
    UnknownPerson {
        /// The rule.
        rule: String,
        /// The id as written.
        person: String,
        /// The site id.
        site: String,
    },
    /// `person = "id"` naming someone who holds none of the rule's roles.
    #[error(
        "rule {rule:?}: person {person:?} holds none of the rule's roles ({roles}); give them the role in the site file or change `role`"
    )]
    PersonLacksRole {
        /// The rule.
        rule: String,
        /// The person.
        person: String,
        /// The rule's roles, comma-separated.
        roles: String,
    },
    /// A strategy name this policy does not know.
    #[error(
        "rule {rule:?}: unknown strategy {strategy:?}; use pool, ordering, rendering, pcp, attribute:<key>, pod or least-loaded"
    )]
    UnknownStrategy {
        /// The rule.
        rule: String,
        /// The strategy as written.
        strategy: String,
    },
    /// `pool` listed with other strategies.
    #[error(
        "rule {rule:?}: strategy \"pool\" cannot be listed with other strategies; the item stays in the pool anyway when the listed strategies find nobody, so remove \"pool\""
    )]
    PoolInList {
        /// The rule.
        rule: String,
    },
    /// Both `person` and `strategy`.
    #[error("rule {rule:?}: set either `person` or `strategy`, not both")]
    PersonAndStrategy {
        /// The rule.
        rule: String,
    },
    /// `pod_of` without strategy `pod`.
    #[error(
        "rule {rule:?}: `pod_of` applies only to strategy \"pod\"; remove it or add \"pod\" to `strategy`"
    )]
    PodOfWithoutPod {
        /// The rule.
        rule: String,
    },
    /// A `pod_of` entry that is not a person source.
    #[error(
        "rule {rule:?}: `pod_of` entry {value:?} is not a person source; use ordering, rendering, pcp or attribute:<key>"
    )]
    InvalidPodAnchor {
        /// The rule.
        rule: String,
        /// The entry as written.
        value: String,
    },
    /// `require_person = true` on a rule that never picks a person.
    #[error("rule {rule:?}: `require_person` needs a `strategy` or `person` that picks someone")]
    RequirePersonWithoutPick {
        /// The rule.
        rule: String,
    },
    /// Both `set_priority` and `raise_priority`.
    #[error("rule {rule:?}: set either `set_priority` or `raise_priority`, not both")]
    ConflictingPriority {
        /// The rule.
        rule: String,
    },
    /// `when = []`, or an empty table inside a `when` list.
    #[error(
        "rule {rule:?}: `when` has an empty set of conditions; remove `when` entirely to write a catch-all rule"
    )]
    EmptyConditions {
        /// The rule.
        rule: String,
    },
    /// A list condition such as `category = []`, which nothing matches.
    #[error(
        "rule {rule:?}: `{field}` is an empty list, which no item matches; list at least one value or remove the condition"
    )]
    EmptyList {
        /// The rule.
        rule: String,
        /// The condition.
        field: String,
    },
    /// `priority` and `min_priority` that exclude every priority.
    #[error(
        "rule {rule:?}: `priority` and `min_priority` together exclude every priority, so the rule never matches"
    )]
    PriorityNeverMatches {
        /// The rule.
        rule: String,
    },
    /// An attribute condition that does not set exactly one test.
    #[error(
        "rule {rule:?}: attribute {key:?} must set exactly one of `equals`, `present` or `one_of`"
    )]
    AttributeForm {
        /// The rule.
        rule: String,
        /// The attribute key.
        key: String,
    },
    /// `min_age_minutes` not below `max_age_minutes`.
    #[error(
        "rule {rule:?}: min_age_minutes ({min}) must be less than max_age_minutes ({max}); the maximum is exclusive"
    )]
    AgeRange {
        /// The rule.
        rule: String,
        /// The minimum.
        min: u32,
        /// The maximum.
        max: u32,
    },
    /// A CEL expression that does not parse.
    #[error(
        "rule {rule:?}: CEL expression does not compile at line {line}, column {column} of the expression: {message}"
    )]
    CelSyntax {
        /// The rule.
        rule: String,
        /// The CEL parser's message.
        message: String,
        /// 1-based line within the expression.
        line: u32,
        /// 1-based column within the expression.
        column: u32,
    },
    /// A CEL expression that names a variable routing does not provide.
    #[error(
        "rule {rule:?}: CEL expression uses unknown variable {name:?}; the variables are item, age_minutes, roster and absent"
    )]
    CelUnknownVariable {
        /// The rule.
        rule: String,
        /// The identifier.
        name: String,
    },
    /// A CEL expression that calls a standard function this build leaves
    /// out (regular expressions).
    #[error(
        "rule {rule:?}: CEL function {name:?} is not available in this policy, which is built without regular expressions; test strings with startsWith, endsWith, contains or ==, or list the values with `in`"
    )]
    CelUnavailableFunction {
        /// The rule.
        rule: String,
        /// The function.
        name: String,
    },
    /// The last rule has conditions, so some items would match nothing.
    #[error(
        "the last rule {rule:?} has conditions, so some items would match no rule; end the table with a catch-all rule without `when`"
    )]
    MissingCatchAll {
        /// The last rule.
        rule: String,
    },
    /// A rule placed after a catch-all.
    #[error(
        "rule {rule:?} can never match because the catch-all rule {catch_all:?} comes before it; move the catch-all to the end"
    )]
    Unreachable {
        /// The unreachable rule.
        rule: String,
        /// The catch-all before it.
        catch_all: String,
    },
}

fn in_rule(rule: Option<&str>) -> String {
    match rule {
        Some(rule) => format!("rule {rule:?}: "),
        None => String::new(),
    }
}

impl TableError {
    pub(crate) fn new(kind: TableErrorKind, span: Option<Range<usize>>) -> Self {
        TableError { kind, span }
    }

    /// Converts a TOML parse error, naming the rule it sits in when it can.
    pub(crate) fn from_toml(error: &toml::de::Error, text: &str) -> Self {
        let span = error.span();
        let rule = span.as_ref().and_then(|s| enclosing_rule(text, s.start));
        let kind = TableErrorKind::Syntax {
            rule,
            message: error.message().trim_end().to_string(),
        };
        TableError { kind, span }
    }

    /// Converts the error into the SDK's [`ConfigError`], with the 1-based line and
    /// column of the span's start in `text`.
    pub fn to_config_error(&self, text: &str) -> ConfigError {
        let (line, column) = match &self.span {
            Some(span) => {
                let (line, column) = line_column(text, span.start);
                (Some(line), Some(column))
            }
            None => (None, None),
        };
        ConfigError {
            message: self.kind.to_string(),
            line,
            column,
        }
    }
}

/// Finds the `name` of the `[[rule]]` whose block contains byte `offset`, found by
/// scanning the text. Best effort: it reads only `name = "..."` lines.
fn enclosing_rule(text: &str, offset: usize) -> Option<String> {
    let mut name = None;
    let mut in_rule = false;
    let mut position = 0;
    for line in text.split_inclusive('\n') {
        let header = table_header(line);
        if header.is_some() && position > offset {
            break;
        }
        match header.as_deref() {
            Some("[[rule]]") => {
                in_rule = true;
                name = None;
            }
            // `[rule.when]` and the like continue the current rule.
            Some(h) if h.starts_with("[rule.") || h.starts_with("[[rule.") => {}
            Some(_) => {
                in_rule = false;
                name = None;
            }
            None if in_rule && name.is_none() => name = rule_name_of(line.trim()),
            None => {}
        }
        position += line.len();
    }
    name
}

/// Returns the line's table header such as `[[rule]]`, without its comment
/// and spaces. A line of an array value never qualifies because it contains
/// quotes or commas.
fn table_header(line: &str) -> Option<String> {
    let code = line.split('#').next().unwrap_or("").trim();
    let is_header =
        code.starts_with('[') && code.ends_with(']') && !code.contains([',', '"', '\'']);
    is_header.then(|| code.replace([' ', '\t'], ""))
}

fn rule_name_of(line: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct NameLine {
        name: String,
    }

    if !line.starts_with("name") {
        return None;
    }
    toml::from_str::<NameLine>(line).ok().map(|n| n.name)
}
