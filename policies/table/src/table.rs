//! A compiled table and the routing of one item through it.

use std::cmp::Ordering;

use switchboard_sdk::host::{self, Level};
use switchboard_sdk::packed::AssignmentRef;
use switchboard_sdk::{RouteContext, RouteError, RouteItem, text};

use crate::cel_condition::CelRuntime;
use crate::index::Index;
use crate::roster::{PersonId, RoleId, Roster};
use crate::rule::{Matcher, Pick, Rule, Strategy};

/// A validated rule table bound to one site's roster.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) site: String,
    pub(crate) roster: Roster,
    pub(crate) rules: Vec<Rule>,
    matchers: Vec<Matcher>,
    index: Index,
    cel: Option<CelRuntime>,
    /// True when some rule balances load, so assignments made earlier in a
    /// batch must count toward later ones.
    uses_load: bool,
}

/// Facts shared by the items of one `route` call, computed on first use.
#[derive(Debug)]
pub(crate) struct Batch<'c> {
    context: &'c RouteContext,
    /// Open items per person, from the context plus this batch's assignments.
    loads: Option<Vec<u32>>,
    /// People assigned in this batch before `loads` was built.
    assigned_early: Vec<PersonId>,
}

impl<'c> Batch<'c> {
    pub(crate) fn new(context: &'c RouteContext) -> Self {
        Batch {
            context,
            loads: None,
            assigned_early: Vec::new(),
        }
    }

    fn load(&mut self, roster: &Roster, person: PersonId) -> u32 {
        let context = self.context;
        let early = &self.assigned_early;
        let loads = self.loads.get_or_insert_with(|| {
            let mut loads = vec![0; roster.people.len()];
            for entry in &context.load {
                if let Some(p) = roster.find(&entry.person) {
                    loads[usize::from(p)] = entry.open_items;
                }
            }
            for p in early {
                let load = &mut loads[usize::from(*p)];
                *load = load.saturating_add(1);
            }
            loads
        });
        loads[usize::from(person)]
    }

    fn count_assignment(&mut self, person: PersonId) {
        match &mut self.loads {
            Some(loads) => {
                let load = &mut loads[usize::from(person)];
                *load = load.saturating_add(1);
            }
            None => self.assigned_early.push(person),
        }
    }
}

impl Table {
    pub(crate) fn new(
        site: String,
        roster: Roster,
        rules: Vec<Rule>,
        matchers: Vec<Matcher>,
        index: Index,
        cel: Option<CelRuntime>,
    ) -> Self {
        let uses_load = rules.iter().any(|r| match &r.pick {
            Pick::Strategies(list) => list
                .iter()
                .any(|s| matches!(s, Strategy::Pod(_) | Strategy::LeastLoaded)),
            Pick::Pool | Pick::Fixed(_) => false,
        });
        Table {
            site,
            roster,
            rules,
            matchers,
            index,
            cel,
            uses_load,
        }
    }

    /// Counts the rules with a CEL condition.
    pub(crate) fn cel_rules(&self) -> usize {
        let mut rules: Vec<u32> = self
            .matchers
            .iter()
            .filter(|m| m.cel.is_some())
            .map(|m| m.rule)
            .collect();
        rules.dedup();
        rules.len()
    }

    /// Routes one item: the first matching rule decides. The assignment
    /// borrows its names from the table.
    pub(crate) fn route(
        &self,
        item: &RouteItem,
        batch: &mut Batch<'_>,
    ) -> Result<AssignmentRef<'_>, RouteError> {
        let Some(matcher) = self.find(item, batch) else {
            // Unreachable with a validated table, which ends with a catch-all.
            return Err(RouteError::NoMatch(format!(
                "no rule matched item {} ({} / {})",
                item.key, item.category, item.flag
            )));
        };
        self.assign(&self.rules[matcher.rule as usize], item, batch)
    }

    fn find(&self, item: &RouteItem, batch: &Batch<'_>) -> Option<&Matcher> {
        let now = batch.context.now;
        let age = item.age_minutes(now);
        let mut scope = None;
        let found = self.index.first_match(item, |id| {
            let matcher = &self.matchers[id as usize];
            if !matcher.matches_plain(item, age) {
                return false;
            }
            let (Some(condition), Some(runtime)) = (&matcher.cel, &self.cel) else {
                return true;
            };

            // Built on the item's first CEL condition and reused by the rest.
            let scope = scope.get_or_insert_with(|| runtime.scope(item, age, &self.roster, now));
            match condition.evaluate(scope) {
                Ok(result) => result,
                Err(failure) => {
                    self.report_cel_failure(matcher, item, &failure);
                    false
                }
            }
        });
        found.map(|id| &self.matchers[id as usize])
    }

    /// Logs a failed CEL evaluation, which counts as no match. Repeats are
    /// logged at 1, 10, 100, ... failures of the same rule.
    fn report_cel_failure(&self, matcher: &Matcher, item: &RouteItem, failure: &str) {
        let count = matcher.cel_failures.get() + 1;
        matcher.cel_failures.set(count);
        if !is_power_of_ten(count) {
            return;
        }
        let rule = &self.rules[matcher.rule as usize].name;
        host::log(
            Level::Warn,
            &format!("CEL condition failed, treated as no match: {failure}"),
            &[
                ("rule", rule),
                ("item", &item.key.to_string()),
                ("failures", &count.to_string()),
            ],
        );
    }

    fn assign<'t>(
        &'t self,
        rule: &'t Rule,
        item: &RouteItem,
        batch: &mut Batch<'_>,
    ) -> Result<AssignmentRef<'t>, RouteError> {
        let now = batch.context.now;
        let (role, person, reason) = match self.pick(rule, item, batch) {
            Some(person) => {
                let role = rule
                    .roles
                    .iter()
                    .copied()
                    .find(|r| self.roster.member(person).holds(*r))
                    .unwrap_or(rule.roles[0]);
                (role, Some(person), &rule.reason)
            }
            None if rule.require_person => {
                return Err(RouteError::NoOwner(format!(
                    "rule {}: {}, and the rule requires a person",
                    rule.name, rule.miss
                )));
            }
            None => {
                let Some(position) = rule
                    .roles
                    .iter()
                    .position(|r| self.has_available_member(*r, now))
                else {
                    return Err(self.empty_pool_error(rule));
                };
                let reason = if rule.pick == Pick::Pool {
                    &rule.reason
                } else {
                    &rule.pool_reasons[position]
                };
                (rule.roles[position], None, reason)
            }
        };

        if let Some(person) = person
            && self.uses_load
        {
            batch.count_assignment(person);
        }

        Ok(AssignmentRef {
            role: self.roster.role_name(role),
            person: person.map(|p| self.roster.id_of(p)),
            priority: rule.priority.apply(item.priority),
            due: rule
                .due_minutes
                .map(|minutes| now.plus_minutes(i64::from(minutes))),
            reason,
            rule: &rule.name,
        })
    }

    fn pick(&self, rule: &Rule, item: &RouteItem, batch: &mut Batch<'_>) -> Option<PersonId> {
        match &rule.pick {
            Pick::Pool => None,
            Pick::Fixed(person) => self
                .is_eligible(*person, &rule.roles, batch)
                .then_some(*person),
            Pick::Strategies(strategies) => strategies
                .iter()
                .find_map(|s| self.apply(s, rule, item, batch)),
        }
    }

    fn apply(
        &self,
        strategy: &Strategy,
        rule: &Rule,
        item: &RouteItem,
        batch: &mut Batch<'_>,
    ) -> Option<PersonId> {
        match strategy {
            Strategy::From(source) => {
                let person = self.roster.find(source.read(item)?)?;
                self.is_eligible(person, &rule.roles, batch)
                    .then_some(person)
            }
            Strategy::Pod(anchors) => {
                let pod = anchors.iter().find_map(|a| {
                    a.read(item)
                        .and_then(|id| self.roster.find(id))
                        .and_then(|p| self.roster.member(p).pod)
                })?;
                self.least_loaded(&rule.roles, batch, |person| {
                    self.roster.member(person).pod == Some(pod)
                })
            }
            Strategy::LeastLoaded => self.least_loaded(&rule.roles, batch, |_| true),
        }
    }

    /// Checks that `person` can take an item of the rule: present, and
    /// holding one of its roles.
    fn is_eligible(&self, person: PersonId, roles: &[RoleId], batch: &Batch<'_>) -> bool {
        let member = self.roster.member(person);
        !member.is_absent(batch.context.now) && roles.iter().any(|r| member.holds(*r))
    }

    /// Finds the present member of `roles` accepted by `filter` with the
    /// fewest open items. Ties go to the smallest person id.
    fn least_loaded(
        &self,
        roles: &[RoleId],
        batch: &mut Batch<'_>,
        filter: impl Fn(PersonId) -> bool,
    ) -> Option<PersonId> {
        let now = batch.context.now;
        let mut best: Option<(u32, &str, PersonId)> = None;
        for role in roles {
            for person in self.roster.members(*role).iter().copied() {
                if self.roster.member(person).is_absent(now) || !filter(person) {
                    continue;
                }
                let candidate = (
                    batch.load(&self.roster, person),
                    self.roster.id_of(person),
                    person,
                );
                let better = |b: &(u32, &str, PersonId)| {
                    candidate
                        .0
                        .cmp(&b.0)
                        .then_with(|| text::cmp(candidate.1, b.1))
                        == Ordering::Less
                };
                if best.as_ref().is_none_or(better) {
                    best = Some(candidate);
                }
            }
        }
        best.map(|(_, _, person)| person)
    }

    fn has_available_member(&self, role: RoleId, now: switchboard_sdk::Timestamp) -> bool {
        self.roster
            .members(role)
            .iter()
            .any(|p| !self.roster.member(*p).is_absent(now))
    }

    /// Describes why none of the rule's roles has an available member.
    fn empty_pool_error(&self, rule: &Rule) -> RouteError {
        let roles = rule
            .roles
            .iter()
            .map(|r| self.roster.role_name(*r))
            .collect::<Vec<_>>()
            .join(" or ");
        let held = rule
            .roles
            .iter()
            .any(|r| !self.roster.members(*r).is_empty());
        let why = if held {
            format!("everyone holding role {roles} is absent")
        } else {
            format!(
                "nobody on the roster holds role {roles}; add the role to people in the site file"
            )
        };
        RouteError::NoOwner(format!("rule {}: {why}", rule.name))
    }
}

fn is_power_of_ten(mut n: u64) -> bool {
    while n >= 10 && n.is_multiple_of(10) {
        n /= 10;
    }
    n == 1
}
