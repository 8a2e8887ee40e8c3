//! The engine's [`Router`], backed by each site's routing policy plugin,
//! with the shadow policy run beside it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use switchboard_engine::{PolicyRef, RouteOutcome, Router, RouterError};
use switchboard_sdk::{Assignment, Category, RouteContext, RouteError, RouteItem, Site};

use crate::runtime::PolicyPlugin;
use crate::sites::{SiteState, Sites, SlotKey, SlotKind};

/// Routes through the site's active routing policy.
#[derive(Debug)]
pub struct PluginRouter {
    sites: Arc<Sites>,
    shadow: Arc<ShadowLog>,
}

impl PluginRouter {
    /// A router over `sites` that records shadow disagreements in `shadow`.
    pub fn new(sites: Arc<Sites>, shadow: Arc<ShadowLog>) -> Self {
        PluginRouter { sites, shadow }
    }
}

/// The policy reference of a slot's active plugin.
pub fn policy_ref(state: &SiteState, kind: SlotKind) -> Option<PolicyRef> {
    let slot = state.slots.get(&SlotKey {
        kind,
        instance: String::new(),
    })?;
    let plugin = &slot.source.plugin;
    Some(PolicyRef {
        name: plugin.name.clone(),
        version: plugin.version.clone(),
        sha256: plugin.sha256.clone(),
    })
}

impl Router for PluginRouter {
    fn route(
        &self,
        site: &Site,
        items: &[RouteItem],
        context: &RouteContext,
    ) -> Result<RouteOutcome, RouterError> {
        let handle = self.sites.get(&site.id).ok_or_else(|| RouterError {
            policy: None,
            message: format!("site {} is not loaded", site.id),
        })?;
        let state = handle.state();
        let policy = state.routing().ok_or_else(|| RouterError {
            policy: None,
            message: format!(
                "site {} has no active routing policy; add [routing] to its site file",
                site.id
            ),
        })?;
        let reference = policy_ref(&state, SlotKind::Routing).expect("a routing slot has a source");

        let results = policy.route(items, context).map_err(|error| RouterError {
            policy: Some(reference.clone()),
            message: error.to_string(),
        })?;

        if let Some(shadow) = state.shadow() {
            self.shadow.compare(
                &site.id,
                shadow,
                items,
                context,
                &results,
                policy_ref(&state, SlotKind::Shadow),
            );
        }
        Ok(RouteOutcome {
            policy: reference,
            results,
        })
    }
}

/// One item on which the shadow policy decided differently.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Disagreement {
    /// Host item key.
    pub item: u64,
    /// Item category.
    pub category: Category,
    /// Active decision: `role/person` and rule, or the error.
    pub active: String,
    /// Rule of the active decision.
    pub active_rule: String,
    /// Shadow decision.
    pub shadow: String,
    /// Rule of the shadow decision.
    pub shadow_rule: String,
}

/// Shadow-mode results for one site.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ShadowReport {
    /// The candidate policy compared.
    pub candidate: Option<PolicyRef>,
    /// Items both policies routed.
    pub compared: u64,
    /// Items where they differed.
    pub disagreements: u64,
    /// Counts by active rule.
    pub by_rule: BTreeMap<String, u64>,
    /// Counts by category.
    pub by_category: BTreeMap<String, u64>,
    /// The most recent disagreements, newest last.
    pub recent: Vec<Disagreement>,
    /// Shadow calls that failed as a whole (trap, deadline).
    pub shadow_failures: u64,
}

/// Disagreements kept per site for the most recent comparisons.
const RECENT_DISAGREEMENTS: usize = 200;

/// Shadow comparisons per site, since the candidate became active.
///
/// NOTE: kept in memory, so a restart starts the comparison over; the
/// counts describe the running candidate only.
#[derive(Debug, Default)]
pub struct ShadowLog {
    reports: Mutex<BTreeMap<String, ShadowReport>>,
}

impl ShadowLog {
    /// The report for `site`.
    pub fn report(&self, site: &str) -> ShadowReport {
        self.lock().get(site).cloned().unwrap_or_default()
    }

    /// Forgets the comparisons of `site` (after a promotion or a new candidate).
    pub fn reset(&self, site: &str) {
        self.lock().remove(site);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ShadowReport>> {
        self.reports.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn compare(
        &self,
        site: &str,
        shadow: &PolicyPlugin,
        items: &[RouteItem],
        context: &RouteContext,
        active: &[Result<Assignment, RouteError>],
        candidate: Option<PolicyRef>,
    ) {
        let shadow_results = shadow.route(items, context);
        let mut reports = self.lock();
        let report = reports.entry(site.to_string()).or_default();
        if report.candidate != candidate {
            *report = ShadowReport {
                candidate,
                ..ShadowReport::default()
            };
        }
        let shadow_results = match shadow_results {
            Ok(results) => results,
            Err(error) => {
                report.shadow_failures += 1;
                tracing::warn!(site, %error, "shadow policy call failed; the active policy's routing is unaffected");
                return;
            }
        };
        for ((item, a), s) in items.iter().zip(active).zip(&shadow_results) {
            report.compared += 1;
            if same_decision(a, s) {
                continue;
            }
            report.disagreements += 1;
            let active_rule = rule_of(a);
            *report.by_rule.entry(active_rule.clone()).or_default() += 1;
            *report
                .by_category
                .entry(item.category.as_str().to_string())
                .or_default() += 1;
            report.recent.push(Disagreement {
                item: item.key,
                category: item.category,
                active: describe(a),
                active_rule,
                shadow: describe(s),
                shadow_rule: rule_of(s),
            });
            if report.recent.len() > RECENT_DISAGREEMENTS {
                report.recent.remove(0);
            }
        }
    }
}

/// Two decisions agree when they give the same owner and priority; the
/// reason text and rule name may differ between versions.
fn same_decision(a: &Result<Assignment, RouteError>, b: &Result<Assignment, RouteError>) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => a.role == b.role && a.person == b.person && a.priority == b.priority,
        (Err(a), Err(b)) => std::mem::discriminant(a) == std::mem::discriminant(b),
        _ => false,
    }
}

fn rule_of(r: &Result<Assignment, RouteError>) -> String {
    match r {
        Ok(a) => a.rule.clone(),
        Err(_) => "(error)".to_string(),
    }
}

fn describe(r: &Result<Assignment, RouteError>) -> String {
    match r {
        Ok(a) => format!(
            "{}/{} {}",
            a.role,
            a.person.as_deref().unwrap_or("-"),
            a.priority.as_str()
        ),
        Err(e) => e.to_string(),
    }
}
