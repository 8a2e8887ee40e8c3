//! Validation of a parsed table and its translation into [`Table`].

use std::collections::HashSet;
use std::ops::Range;

use switchboard_sdk::{Priority, Site};
use toml::Spanned;

use crate::MAX_RULES;
use crate::cel_condition::{CelCondition, CelRuntime, CompileError};
use crate::error::{TableError, TableErrorKind};
use crate::index::Index;
use crate::roster::{RoleId, Roster};
use crate::rule::{
    ALL_CATEGORIES, ALL_FLAGS, ALL_PRIORITIES, AttributeTest, Matcher, PersonSource, Pick,
    PriorityChange, Rule, Strategy, category_bit, flag_bit, priority_bit,
};
use crate::schema::{Conditions, OneOrMany, RuleEntry, SCHEMA, TableFile};
use crate::table::Table;

/// Maximum rule name length in bytes. Names appear in every assignment and
/// report.
const MAX_NAME_BYTES: usize = 64;

/// Parses, validates and compiles the table text for `site`.
pub(crate) fn compile(site: &Site, text: &str) -> Result<Table, TableError> {
    let file: TableFile = toml::from_str(text).map_err(|e| TableError::from_toml(&e, text))?;
    check_schema(&file)?;
    check_rule_count(&file)?;

    let roster = Roster::new(site);
    let mut compiler = Compiler {
        site,
        text,
        roster: &roster,
        names: HashSet::new(),
    };
    let mut rules = Vec::with_capacity(file.rules.len());
    let mut matchers = Vec::new();
    for (index, entry) in file.rules.iter().enumerate() {
        rules.push(compiler.rule(entry)?);
        matchers.extend(compiler.matchers(entry, index as u32)?);
    }
    check_catch_all(&file.rules, &matchers)?;

    let index = Index::build(&matchers);
    let cel = matchers
        .iter()
        .any(|m| m.cel.is_some())
        .then(|| CelRuntime::new(site, &roster));
    Ok(Table::new(
        site.id.clone(),
        roster,
        rules,
        matchers,
        index,
        cel,
    ))
}

fn check_schema(file: &TableFile) -> Result<(), TableError> {
    match &file.schema {
        Some(schema) if *schema.get_ref() != SCHEMA => Err(TableError::new(
            TableErrorKind::UnsupportedSchema {
                found: *schema.get_ref(),
                supported: SCHEMA,
            },
            Some(schema.span()),
        )),
        _ => Ok(()),
    }
}

fn check_rule_count(file: &TableFile) -> Result<(), TableError> {
    if file.rules.is_empty() {
        return Err(TableError::new(TableErrorKind::NoRules, None));
    }
    if file.rules.len() > MAX_RULES {
        return Err(TableError::new(
            TableErrorKind::TooManyRules {
                count: file.rules.len(),
                max: MAX_RULES,
            },
            None,
        ));
    }
    Ok(())
}

/// The table must end with exactly one catch-all: a rule without conditions,
/// placed last. A catch-all earlier would hide every rule after it.
fn check_catch_all(rules: &[RuleEntry], matchers: &[Matcher]) -> Result<(), TableError> {
    let first_catch_all = matchers
        .iter()
        .find(|m| m.is_catch_all())
        .map(|m| m.rule as usize);
    let last = rules.len() - 1;
    match first_catch_all {
        Some(index) if index == last => Ok(()),
        Some(index) => {
            let next = &rules[index + 1];
            let kind = TableErrorKind::Unreachable {
                rule: next.name.get_ref().clone(),
                catch_all: rules[index].name.get_ref().clone(),
            };
            Err(TableError::new(kind, Some(next.name.span())))
        }
        None => {
            let kind = TableErrorKind::MissingCatchAll {
                rule: rules[last].name.get_ref().clone(),
            };
            Err(TableError::new(kind, Some(rules[last].name.span())))
        }
    }
}

struct Compiler<'a> {
    site: &'a Site,
    text: &'a str,
    roster: &'a Roster,
    names: HashSet<String>,
}

impl Compiler<'_> {
    fn rule(&mut self, entry: &RuleEntry) -> Result<Rule, TableError> {
        let name = self.name(entry)?;
        let fail =
            |kind: TableErrorKind, span: Range<usize>| Err(TableError::new(kind, Some(span)));

        let reason = entry.reason.get_ref().trim();
        if reason.is_empty() {
            return fail(
                TableErrorKind::EmptyReason { rule: name },
                entry.reason.span(),
            );
        }

        let roles = self.roles(&name, &entry.role)?;
        let pick = self.pick(&name, entry, &roles)?;
        if entry.require_person && pick == Pick::Pool {
            return fail(
                TableErrorKind::RequirePersonWithoutPick { rule: name },
                entry.name.span(),
            );
        }

        let priority = match (&entry.set_priority, &entry.raise_priority) {
            (Some(_), Some(raise)) => {
                return fail(
                    TableErrorKind::ConflictingPriority { rule: name },
                    raise.span(),
                );
            }
            (Some(set), None) => PriorityChange::Set(*set.get_ref()),
            (None, Some(raise)) => PriorityChange::Raise(*raise.get_ref()),
            (None, None) => PriorityChange::Keep,
        };

        let miss = miss_text(entry, &pick);
        let pool_reasons = roles
            .iter()
            .map(|role| {
                let role = self.roster.role_name(*role);
                format!("rule {name}: {reason} ({miss}, so it stays in the {role} pool)")
            })
            .collect();

        Ok(Rule {
            reason: format!("rule {name}: {reason}"),
            pool_reasons,
            miss,
            name,
            roles,
            pick,
            require_person: entry.require_person,
            priority,
            due_minutes: entry.due_minutes,
        })
    }

    fn name(&mut self, entry: &RuleEntry) -> Result<String, TableError> {
        let name = entry.name.get_ref();
        let valid = !name.is_empty()
            && name.len() <= MAX_NAME_BYTES
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(TableError::new(
                TableErrorKind::InvalidName { rule: name.clone() },
                Some(entry.name.span()),
            ));
        }
        if !self.names.insert(name.clone()) {
            return Err(TableError::new(
                TableErrorKind::DuplicateName { rule: name.clone() },
                Some(entry.name.span()),
            ));
        }
        Ok(name.clone())
    }

    fn roles(
        &self,
        rule: &str,
        written: &Spanned<OneOrMany<String>>,
    ) -> Result<Vec<RoleId>, TableError> {
        let span = Some(written.span());
        if written.get_ref().0.is_empty() {
            return Err(TableError::new(
                TableErrorKind::NoRole {
                    rule: rule.to_string(),
                },
                span,
            ));
        }

        let mut roles = Vec::new();
        for name in &written.get_ref().0 {
            let Some(role) = self.roster.role(name) else {
                let defined = self
                    .site
                    .roles
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                let kind = TableErrorKind::UnknownRole {
                    rule: rule.to_string(),
                    role: name.clone(),
                    site: self.site.id.clone(),
                    defined,
                };
                return Err(TableError::new(kind, span));
            };
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        Ok(roles)
    }

    fn pick(&self, rule: &str, entry: &RuleEntry, roles: &[RoleId]) -> Result<Pick, TableError> {
        let rule_name = || rule.to_string();
        if let (Some(person), Some(_)) = (&entry.person, &entry.strategy) {
            return Err(TableError::new(
                TableErrorKind::PersonAndStrategy { rule: rule_name() },
                Some(person.span()),
            ));
        }

        if let Some(person) = &entry.person {
            let span = Some(person.span());
            let id = person.get_ref();
            let Some(found) = self.roster.find(id) else {
                let kind = TableErrorKind::UnknownPerson {
                    rule: rule_name(),
                    person: id.clone(),
                    site: self.site.id.clone(),
                };
                return Err(TableError::new(kind, span));
            };
            if !roles.iter().any(|r| self.roster.member(found).holds(*r)) {
                let roles = roles
                    .iter()
                    .map(|r| self.roster.role_name(*r))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(TableError::new(
                    TableErrorKind::PersonLacksRole {
                        rule: rule_name(),
                        person: id.clone(),
                        roles,
                    },
                    span,
                ));
            }
            return self.no_pod_of(rule, entry).map(|()| Pick::Fixed(found));
        }

        let Some(strategy) = &entry.strategy else {
            return self.no_pod_of(rule, entry).map(|()| Pick::Pool);
        };
        let span = Some(strategy.span());
        let names = &strategy.get_ref().0;
        if names.is_empty() {
            return Err(TableError::new(
                TableErrorKind::EmptyList {
                    rule: rule_name(),
                    field: "strategy".into(),
                },
                span,
            ));
        }
        if names.len() == 1 && names[0] == "pool" {
            return self.no_pod_of(rule, entry).map(|()| Pick::Pool);
        }

        let mut strategies = Vec::with_capacity(names.len());
        for name in names {
            let parsed = match name.as_str() {
                "pool" => {
                    return Err(TableError::new(
                        TableErrorKind::PoolInList { rule: rule_name() },
                        span,
                    ));
                }
                "pod" => Strategy::Pod(self.pod_anchors(rule, entry)?),
                "least-loaded" => Strategy::LeastLoaded,
                other => match PersonSource::parse(other) {
                    Some(source) => Strategy::From(source),
                    None => {
                        return Err(TableError::new(
                            TableErrorKind::UnknownStrategy {
                                rule: rule_name(),
                                strategy: other.to_string(),
                            },
                            span,
                        ));
                    }
                },
            };
            strategies.push(parsed);
        }
        if !strategies.iter().any(|s| matches!(s, Strategy::Pod(_))) {
            self.no_pod_of(rule, entry)?;
        }
        Ok(Pick::Strategies(strategies))
    }

    fn no_pod_of(&self, rule: &str, entry: &RuleEntry) -> Result<(), TableError> {
        match &entry.pod_of {
            Some(pod_of) => Err(TableError::new(
                TableErrorKind::PodOfWithoutPod {
                    rule: rule.to_string(),
                },
                Some(pod_of.span()),
            )),
            None => Ok(()),
        }
    }

    /// Resolves `pod_of`: the sources whose person's pod the `pod` strategy
    /// uses, or the PCP when `pod_of` is not set.
    fn pod_anchors(&self, rule: &str, entry: &RuleEntry) -> Result<Vec<PersonSource>, TableError> {
        let Some(pod_of) = &entry.pod_of else {
            return Ok(vec![PersonSource::Pcp]);
        };
        let span = Some(pod_of.span());
        if pod_of.get_ref().0.is_empty() {
            return Err(TableError::new(
                TableErrorKind::EmptyList {
                    rule: rule.to_string(),
                    field: "pod_of".into(),
                },
                span,
            ));
        }
        pod_of
            .get_ref()
            .0
            .iter()
            .map(|value| {
                PersonSource::parse(value).ok_or_else(|| {
                    TableError::new(
                        TableErrorKind::InvalidPodAnchor {
                            rule: rule.to_string(),
                            value: value.clone(),
                        },
                        span.clone(),
                    )
                })
            })
            .collect()
    }

    /// Builds one matcher per alternative of the rule's `when`. A rule without
    /// `when` (or with `when = {}`) gets one catch-all matcher.
    fn matchers(&self, entry: &RuleEntry, rule: u32) -> Result<Vec<Matcher>, TableError> {
        let name = entry.name.get_ref();
        let Some(when) = &entry.when else {
            return Ok(vec![self.matcher(
                name,
                &Conditions::default(),
                rule,
                entry.name.span(),
            )?]);
        };

        let alternatives = &when.get_ref().alternatives;
        if !when.get_ref().is_list && alternatives[0].is_empty() {
            return Ok(vec![self.matcher(
                name,
                &alternatives[0],
                rule,
                when.span(),
            )?]);
        }
        if alternatives.is_empty() || alternatives.iter().any(Conditions::is_empty) {
            return Err(TableError::new(
                TableErrorKind::EmptyConditions { rule: name.clone() },
                Some(when.span()),
            ));
        }
        alternatives
            .iter()
            .map(|conditions| self.matcher(name, conditions, rule, when.span()))
            .collect()
    }

    fn matcher(
        &self,
        rule: &str,
        conditions: &Conditions,
        index: u32,
        span: Range<usize>,
    ) -> Result<Matcher, TableError> {
        let fail = |kind: TableErrorKind| Err(TableError::new(kind, Some(span.clone())));
        let empty_list = |field: &str| TableErrorKind::EmptyList {
            rule: rule.to_string(),
            field: field.to_string(),
        };

        let categories = match &conditions.category {
            None => ALL_CATEGORIES,
            Some(list) if list.0.is_empty() => return fail(empty_list("category")),
            Some(list) => list.0.iter().fold(0, |mask, c| mask | category_bit(*c)),
        };
        let flags = match &conditions.flag {
            None => ALL_FLAGS,
            Some(list) if list.0.is_empty() => return fail(empty_list("flag")),
            Some(list) => list.0.iter().fold(0, |mask, f| mask | flag_bit(*f)),
        };
        let priorities = match &conditions.priority {
            None => ALL_PRIORITIES,
            Some(list) if list.0.is_empty() => return fail(empty_list("priority")),
            Some(list) => list.0.iter().fold(0, |mask, p| mask | priority_bit(*p)),
        };
        let at_least = conditions.min_priority.map_or(ALL_PRIORITIES, |min| {
            Priority::ALL
                .iter()
                .filter(|p| **p >= min)
                .fold(0, |mask, p| mask | priority_bit(*p))
        });
        let priorities = priorities & at_least;
        if priorities == 0 {
            return fail(TableErrorKind::PriorityNeverMatches {
                rule: rule.to_string(),
            });
        }

        if let (Some(min), Some(max)) = (conditions.min_age_minutes, conditions.max_age_minutes)
            && min >= max
        {
            return fail(TableErrorKind::AgeRange {
                rule: rule.to_string(),
                min,
                max,
            });
        }

        let mut attributes = Vec::with_capacity(conditions.attributes.len());
        for (key, condition) in &conditions.attributes {
            attributes.push(attribute_test(rule, key, condition)?);
        }

        let cel = match &conditions.expr {
            Some(expr) => Some(self.cel(rule, expr)?),
            None => None,
        };

        Ok(Matcher {
            rule: index,
            categories,
            flags,
            priorities,
            min_age: conditions.min_age_minutes.map(i64::from),
            max_age: conditions.max_age_minutes.map(i64::from),
            attributes,
            cel,
            cel_failures: Default::default(),
        })
    }

    fn cel(&self, rule: &str, expr: &Spanned<String>) -> Result<CelCondition, TableError> {
        CelCondition::compile(expr.get_ref()).map_err(|error| {
            let (line, column) = error.position();
            let offset = expression_offset(self.text, expr.span(), expr.get_ref(), line, column);
            let kind = match error {
                CompileError::Syntax {
                    message,
                    line,
                    column,
                } => TableErrorKind::CelSyntax {
                    rule: rule.to_string(),
                    message,
                    line,
                    column,
                },
                CompileError::UnknownVariable { name, .. } => TableErrorKind::CelUnknownVariable {
                    rule: rule.to_string(),
                    name,
                },
                CompileError::UnavailableFunction { name, .. } => {
                    TableErrorKind::CelUnavailableFunction {
                        rule: rule.to_string(),
                        name,
                    }
                }
            };
            TableError::new(kind, Some(offset..offset))
        })
    }
}

fn attribute_test(
    rule: &str,
    key: &str,
    condition: &Spanned<crate::schema::AttributeCondition>,
) -> Result<AttributeTest, TableError> {
    let span = Some(condition.span());
    let written = condition.get_ref();
    let test = match (&written.equals, written.present, &written.one_of) {
        (Some(value), None, None) => AttributeTest::Equals {
            key: key.to_string(),
            value: value.clone(),
        },
        (None, Some(true), None) => AttributeTest::Present {
            key: key.to_string(),
        },
        (None, Some(false), None) => AttributeTest::Absent {
            key: key.to_string(),
        },
        (None, None, Some(values)) if values.is_empty() => {
            let kind = TableErrorKind::EmptyList {
                rule: rule.to_string(),
                field: format!("attributes.{key}.one_of"),
            };
            return Err(TableError::new(kind, span));
        }
        (None, None, Some(values)) => AttributeTest::OneOf {
            key: key.to_string(),
            values: values.clone(),
        },
        _ => {
            return Err(TableError::new(
                TableErrorKind::AttributeForm {
                    rule: rule.to_string(),
                    key: key.to_string(),
                },
                span,
            ));
        }
    };
    Ok(test)
}

/// Says why the rule's pick found nobody, for reasons and errors.
fn miss_text(entry: &RuleEntry, pick: &Pick) -> String {
    match (pick, &entry.person, &entry.strategy) {
        (Pick::Fixed(_), Some(person), _) => format!("{} is absent", person.get_ref()),
        (_, _, Some(strategy)) if strategy.get_ref().0.len() == 1 => {
            format!(
                "strategy {} found no available person",
                strategy.get_ref().0[0]
            )
        }
        (_, _, Some(strategy)) => format!(
            "strategies {} found no available person",
            strategy.get_ref().0.join(", ")
        ),
        _ => "the rule picks nobody".to_string(),
    }
}

/// Finds the byte offset in the config text of `line` and `column`
/// (1-based) inside the expression whose TOML string literal spans `span`.
///
/// The literal may be basic or literal, single- or multi-line. Escapes in a
/// basic string are walked so that the offset points at the raw text.
fn expression_offset(
    text: &str,
    span: Range<usize>,
    expression: &str,
    line: u32,
    column: u32,
) -> usize {
    let target = decoded_char_index(expression, line, column);
    let raw = &text[span.clone()];
    let (delimiter, basic) = if raw.starts_with("\"\"\"") {
        (3, true)
    } else if raw.starts_with("'''") {
        (3, false)
    } else {
        (1, raw.starts_with('"'))
    };
    let mut body = span.start + delimiter;
    if delimiter == 3 {
        // TOML drops a newline right after the opening delimiter.
        if text[body..].starts_with("\r\n") {
            body += 2;
        } else if text[body..].starts_with('\n') {
            body += 1;
        }
    }

    let mut decoded = 0;
    let mut chars = text[body..span.end].char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        if decoded == target {
            return body + offset;
        }
        if basic && c == '\\' {
            match chars.peek().map(|(_, next)| *next) {
                Some('u') => skip(&mut chars, 5),
                Some('U') => skip(&mut chars, 9),
                Some(next) if next.is_whitespace() => {
                    // A line-ending backslash drops the whitespace after it.
                    while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                        chars.next();
                    }
                    continue;
                }
                _ => skip(&mut chars, 1),
            }
        }
        decoded += 1;
    }
    // The position is just past the last character: point at the closing
    // delimiter.
    span.end.saturating_sub(delimiter).max(span.start)
}

fn skip(chars: &mut impl Iterator<Item = (usize, char)>, count: usize) {
    for _ in 0..count {
        chars.next();
    }
}

/// Converts 1-based `line` and `column` into a character index in
/// `expression`.
fn decoded_char_index(expression: &str, line: u32, column: u32) -> usize {
    let mut index = 0;
    for (number, text) in expression.split_inclusive('\n').enumerate() {
        if number + 1 == line as usize {
            return index + (column as usize).saturating_sub(1);
        }
        index += text.chars().count();
    }
    index
}
