//! Routing: sending pending items through the site's [`Router`], storing
//! the owners it chose, and keeping failures as dead letters.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use switchboard_sdk::{
    Assignment, PersonLoad, RouteContext, RouteError, RouteItem, Site, Timestamp,
};
use tracing::{debug, warn};

use super::Engine;
use crate::error::EngineError;
use crate::model::{
    Action, AuditEntry, DeadLetter, ENGINE_ACTOR, FailureKind, Item, ItemId, ItemStatus, Owner,
    PolicyRef, RouteFailure,
};
use crate::router::RouterError;
use crate::store::{Expect, Mutation};

/// Items per router call. Large enough to amortize a plugin call, small
/// enough that one call stays well under a plugin's deadline.
pub const ROUTE_BATCH: usize = 256;

/// The outcome of a routing pass.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteReport {
    /// Items given an owner.
    pub routed: u32,
    /// Items kept as dead letters.
    pub dead_lettered: u32,
    /// Items left pending because they changed while the policy ran; the
    /// next pass routes them.
    pub skipped: u32,
    /// The message of a whole-call failure, when one happened.
    pub failure: Option<String>,
}

/// The decision for one item.
enum Decision {
    Assign(Assignment, PolicyRef),
    Fail(FailureKind, String, Option<PolicyRef>),
}

impl Engine {
    /// Routes every pending item of a site, in batches of [`ROUTE_BATCH`],
    /// and stores the owners. Items the policy could not route become dead
    /// letters; none is dropped. Two passes of one site never overlap: a
    /// second caller waits and then routes whatever is still pending.
    ///
    /// # Errors
    ///
    /// [`EngineError::UnknownSite`] and store failures. A failing policy is
    /// not an error: its message is in [`RouteReport::failure`].
    pub fn route_pending(&self, site: &str) -> Result<RouteReport, EngineError> {
        let roster = self.site(site)?;
        let lock = self.routing_lock(site);
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());

        let mut report = RouteReport::default();
        let mut skipped: HashSet<ItemId> = HashSet::new();
        loop {
            let ids = self
                .inner
                .store
                .pending(site, ROUTE_BATCH + skipped.len())?;
            let ids: Vec<ItemId> = ids
                .into_iter()
                .filter(|id| !skipped.contains(id))
                .take(ROUTE_BATCH)
                .collect();
            let items: Vec<Item> = self
                .load_items(&ids)?
                .into_iter()
                .filter(Item::is_pending)
                .collect();
            if items.is_empty() {
                break;
            }

            let decisions = self.decide(&roster, &items, &mut report);
            let left_out = self.store_decisions(items, decisions, &mut report)?;
            report.skipped += left_out.len() as u32;
            skipped.extend(left_out);
        }

        if report.routed + report.dead_lettered > 0 {
            debug!(
                site,
                routed = report.routed,
                dead_lettered = report.dead_lettered,
                skipped = report.skipped,
                "routed pending items"
            );
        }
        Ok(report)
    }

    /// Releases dead letters for another routing attempt and routes them.
    /// `ids` selects some; `None` releases every dead letter of the site.
    ///
    /// # Errors
    ///
    /// [`EngineError::UnknownSite`], store failures and
    /// [`EngineError::Contended`].
    pub fn retry_dead_letters(
        &self,
        site: &str,
        ids: Option<&[ItemId]>,
        actor: &str,
    ) -> Result<RouteReport, EngineError> {
        self.site(site)?;
        let letters: Vec<DeadLetter> = self
            .inner
            .store
            .dead_letters(Some(site))?
            .into_iter()
            .filter(|letter| ids.is_none_or(|ids| ids.contains(&letter.item)))
            .collect();

        let released = self.commit_with_retry("retry dead letters", || {
            let now = self.now();
            let mut mutations = Vec::new();
            for letter in &letters {
                let Some(mut item) = self.inner.store.item(letter.item)? else {
                    continue;
                };
                if !item.is_dead_letter() {
                    continue;
                }
                let expect = Expect::Revision(item.revision);
                item.failure = None;
                item.record(
                    now,
                    actor,
                    Action::Retried,
                    ItemStatus::Received,
                    "released for another routing attempt".into(),
                );
                mutations.push(Mutation::PutItem {
                    item: Box::new(item),
                    expect,
                });
            }
            let released = mutations.len();
            if released > 0 {
                mutations.push(Mutation::Audit(AuditEntry {
                    at: now,
                    actor: actor.to_string(),
                    action: "dead-letter.retry".into(),
                    target: format!("{released} items"),
                    site: Some(site.to_string()),
                    detail: String::new(),
                }));
            }
            Ok((mutations, released))
        })?;

        debug!(site, released, "released dead letters");
        self.route_pending(site)
    }

    /// Retries every dead letter of a site because its policy changed.
    ///
    /// # Errors
    ///
    /// As [`Engine::retry_dead_letters`].
    pub fn policy_changed(&self, site: &str) -> Result<RouteReport, EngineError> {
        self.retry_dead_letters(site, None, ENGINE_ACTOR)
    }

    /// Lists dead letters of one site or of all.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn dead_letters(&self, site: Option<&str>) -> Result<Vec<DeadLetter>, EngineError> {
        Ok(self.inner.store.dead_letters(site)?)
    }

    /// Calls the router for one batch and checks what it returned.
    fn decide(&self, roster: &Site, items: &[Item], report: &mut RouteReport) -> Vec<Decision> {
        let route_items: Vec<RouteItem> =
            items.iter().map(|item| route_item(roster, item)).collect();
        let context = RouteContext {
            now: self.now(),
            load: self
                .inner
                .store
                .load(&roster.id)
                .into_iter()
                .map(|(person, open_items)| PersonLoad { person, open_items })
                .collect(),
        };

        match self.inner.router.route(roster, &route_items, &context) {
            Ok(outcome) if outcome.results.len() == items.len() => {
                let policy = outcome.policy;
                outcome
                    .results
                    .into_iter()
                    .map(|result| check_result(roster, result, &policy))
                    .collect()
            }
            Ok(outcome) => {
                let message = format!(
                    "policy {} returned {} results for {} items",
                    outcome.policy,
                    outcome.results.len(),
                    items.len()
                );
                whole_call_failure(
                    report,
                    message,
                    Some(outcome.policy),
                    &roster.id,
                    items.len(),
                )
            }
            Err(RouterError { policy, message }) => {
                whole_call_failure(report, message, policy, &roster.id, items.len())
            }
        }
    }

    /// Stores the decisions. Returns the items left out because they
    /// changed since they were read.
    fn store_decisions(
        &self,
        items: Vec<Item>,
        decisions: Vec<Decision>,
        report: &mut RouteReport,
    ) -> Result<Vec<ItemId>, EngineError> {
        let mut batch: Vec<(Item, Decision)> = items.into_iter().zip(decisions).collect();
        let mut left_out = Vec::new();

        for _ in 0..super::MAX_ATTEMPTS {
            let now = self.now();
            let mutations: Vec<Mutation> = batch
                .iter()
                .map(|(item, decision)| decided(item, decision, now))
                .collect();
            if mutations.is_empty() {
                return Ok(left_out);
            }
            match self.inner.store.commit(mutations) {
                Ok(_) => {
                    for (_, decision) in &batch {
                        match decision {
                            Decision::Assign(..) => report.routed += 1,
                            Decision::Fail(..) => report.dead_lettered += 1,
                        }
                    }
                    return Ok(left_out);
                }
                Err(crate::error::StoreError::Conflict { .. }) => {
                    let mut kept = Vec::with_capacity(batch.len());
                    for (item, decision) in batch {
                        match self.inner.store.item(item.id)? {
                            Some(fresh) if fresh.revision == item.revision => {
                                kept.push((item, decision))
                            }
                            _ => left_out.push(item.id),
                        }
                    }
                    batch = kept;
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(EngineError::Contended {
            operation: "store routing decisions",
            attempts: super::MAX_ATTEMPTS,
        })
    }
}

/// The lean view a policy receives, with provider references resolved to
/// roster ids (`None` when no person on the roster matches).
fn route_item(roster: &Site, item: &Item) -> RouteItem {
    RouteItem {
        key: item.id.0,
        category: item.category,
        flag: item.flag,
        priority: item.priority,
        created: item.created,
        due: item.due,
        patient: item.patient.clone(),
        ordering: roster.roster_id(item.ordering.as_deref()),
        rendering: roster.roster_id(item.rendering.as_deref()),
        pcp: roster.roster_id(item.pcp.as_deref()),
        attributes: item.attributes.clone(),
    }
}

fn whole_call_failure(
    report: &mut RouteReport,
    message: String,
    policy: Option<PolicyRef>,
    site: &str,
    count: usize,
) -> Vec<Decision> {
    warn!(site, items = count, error = %message, "routing call failed; keeping the items as dead letters");
    report.failure = Some(message.clone());
    (0..count)
        .map(|_| Decision::Fail(FailureKind::PolicyFailed, message.clone(), policy.clone()))
        .collect()
}

/// Turns a policy result into a decision, checking the owner against the
/// roster.
fn check_result(
    roster: &Site,
    result: Result<Assignment, RouteError>,
    policy: &PolicyRef,
) -> Decision {
    let assignment = match result {
        Ok(assignment) => assignment,
        Err(error) => {
            let (kind, message) = match error {
                RouteError::NoMatch(m) => (FailureKind::NoMatch, m),
                RouteError::NoOwner(m) => (FailureKind::NoOwner, m),
                RouteError::InvalidItem(m) => (FailureKind::InvalidItem, m),
            };
            return Decision::Fail(kind, message, Some(policy.clone()));
        }
    };

    match roster_problem(roster, &assignment) {
        Some(message) => Decision::Fail(
            FailureKind::InvalidAssignment,
            format!("policy {policy} {message}"),
            Some(policy.clone()),
        ),
        None => Decision::Assign(assignment, policy.clone()),
    }
}

/// Explains why an assignment does not fit the roster, or returns `None`
/// when it fits.
fn roster_problem(roster: &Site, assignment: &Assignment) -> Option<String> {
    let site = &roster.id;
    let role = &assignment.role;
    if roster.role(role).is_none() {
        return Some(format!(
            "assigned role {role:?}, which site {site:?} does not define; fix the rule or add the role to the site file"
        ));
    }
    let person_id = assignment.person.as_deref()?;
    match roster.person(person_id) {
        None => Some(format!(
            "assigned person {person_id:?}, who is not on the roster of site {site:?}; fix the rule or the roster"
        )),
        Some(person) if !person.has_role(role) => Some(format!(
            "assigned person {person_id:?} to role {role:?}, which they do not hold; fix the rule or the roster"
        )),
        Some(_) => None,
    }
}

/// Builds the stored change for one decision.
fn decided(item: &Item, decision: &Decision, now: Timestamp) -> Mutation {
    let expect = Expect::Revision(item.revision);
    let mut item = item.clone();
    match decision {
        Decision::Assign(assignment, policy) => {
            item.failure = None;
            item.owner = Some(Owner {
                role: assignment.role.clone(),
                person: assignment.person.clone(),
                priority: assignment.priority,
                due: assignment.due,
                reason: assignment.reason.clone(),
                rule: assignment.rule.clone(),
                policy: Some(policy.clone()),
                routed_at: now,
            });
            let detail = format!(
                "rule {} of {policy}: {}",
                assignment.rule, assignment.reason
            );
            item.record(now, ENGINE_ACTOR, Action::Routed, ItemStatus::Ready, detail);
        }
        Decision::Fail(kind, message, policy) => {
            let attempts = item
                .history
                .iter()
                .filter(|h| h.action == Action::RouteFailed)
                .count() as u32
                + 1;
            item.failure = Some(RouteFailure {
                kind: *kind,
                message: message.clone(),
                policy: policy.clone(),
                at: now,
                attempts,
            });
            let detail = format!("{}: {message}", kind.as_str());
            item.record(
                now,
                ENGINE_ACTOR,
                Action::RouteFailed,
                ItemStatus::Received,
                detail,
            );
        }
    }
    Mutation::PutItem {
        item: Box::new(item),
        expect,
    }
}
