//! The domain model: work items as Switchboard stores them, their owners,
//! status and history, and the records kept beside them (dead letters,
//! audit entries, plugin activations, metric events).
//!
//! Every type here is stored in the log and the trees, so fields are only
//! ever added at the end of a struct together with a schema migration.

use std::fmt;

use serde::{Deserialize, Serialize};
use switchboard_sdk::{
    Attribute, Category, EhrState, Event, NudgeLevel, Priority, ResultFlag, Timestamp,
};

/// The host's number for an item, unique across the store and never reused.
///
/// Policies see it as `route-item.key`; staff see it in worklists and URLs.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub struct ItemId(pub u64);

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where an item came from: its identity within a site.
///
/// `(site, connector, external_id)` names one item; `version` orders the
/// versions the connector reported, larger being newer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Source {
    /// Name of the connector instance in the site's configuration.
    pub connector: String,
    /// The EHR's id for the work, stable across versions.
    pub external_id: String,
    /// The newest version stored.
    pub version: u64,
}

/// An item's lifecycle state, using the FHIR R4 `Task.status` codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemStatus {
    /// Stored but not yet routed (or waiting for a retry as a dead letter).
    Received,
    /// Routed to a role pool, possibly with a suggested person.
    Ready,
    /// Claimed by a person, who now owns it.
    Accepted,
    /// Its owner has started the work.
    InProgress,
    /// Finished, in Switchboard or in the EHR.
    Completed,
    /// Withdrawn, in Switchboard or in the EHR.
    Cancelled,
}

impl ItemStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [ItemStatus; 6] = [
        ItemStatus::Received,
        ItemStatus::Ready,
        ItemStatus::Accepted,
        ItemStatus::InProgress,
        ItemStatus::Completed,
        ItemStatus::Cancelled,
    ];

    /// The FHIR code, such as `in-progress`.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Received => "received",
            ItemStatus::Ready => "ready",
            ItemStatus::Accepted => "accepted",
            ItemStatus::InProgress => "in-progress",
            ItemStatus::Completed => "completed",
            ItemStatus::Cancelled => "cancelled",
        }
    }

    /// True for `completed` and `cancelled`, which no action leaves.
    pub fn is_terminal(self) -> bool {
        matches!(self, ItemStatus::Completed | ItemStatus::Cancelled)
    }

    /// True for the statuses that put an item in a worklist.
    pub fn is_routed_open(self) -> bool {
        matches!(
            self,
            ItemStatus::Ready | ItemStatus::Accepted | ItemStatus::InProgress
        )
    }

    /// Position in [`ItemStatus::ALL`], used as a compact code on disk.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The status at position `index` of [`ItemStatus::ALL`].
    pub fn from_index(index: usize) -> Option<ItemStatus> {
        ItemStatus::ALL.get(index).copied()
    }
}

impl fmt::Display for ItemStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ItemStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        ItemStatus::ALL
            .iter()
            .copied()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "unknown status {text:?} (expected one of: received, ready, accepted, \
                     in-progress, completed, cancelled)"
                )
            })
    }
}

/// The policy plugin that made a decision: its name, version and the
/// SHA-256 of its component file, so an audit can name the exact build.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PolicyRef {
    /// Plugin name from its manifest.
    pub name: String,
    /// Plugin version from its manifest.
    pub version: String,
    /// Lowercase hex SHA-256 of the component.
    pub sha256: String,
}

impl fmt::Display for PolicyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = self.sha256.get(..12).unwrap_or(&self.sha256);
        write!(f, "{}@{} ({short})", self.name, self.version)
    }
}

/// The owner of an item and the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Role pool, a role the site's roster defines.
    pub role: String,
    /// Person within the pool: suggested by the policy, set by a claim, or
    /// `None` while the item waits in the pool.
    pub person: Option<String>,
    /// Priority the policy or a reassignment gave.
    pub priority: Priority,
    /// Due time the policy gave; `None` keeps the item's own due time.
    #[serde(with = "crate::codec::timestamp_opt")]
    pub due: Option<Timestamp>,
    /// Human-readable reason naming the rule, or the reassignment reason.
    pub reason: String,
    /// Name of the rule that decided, empty for manual reassignment.
    pub rule: String,
    /// The policy that decided, `None` for a manual reassignment.
    pub policy: Option<PolicyRef>,
    /// When the owner was set.
    #[serde(with = "crate::codec::timestamp")]
    pub routed_at: Timestamp,
}

/// The kind of change one history entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// First stored from a connector batch.
    Received,
    /// A newer version from the EHR changed the item's data.
    Updated,
    /// Routed by a policy.
    Routed,
    /// Routing failed; the item is a dead letter.
    RouteFailed,
    /// A newer version changed what routing depends on, so it routes again.
    Rerouted,
    /// A dead letter was released for another routing attempt.
    Retried,
    /// A person took the item from the pool.
    Claimed,
    /// The owner started the work.
    Started,
    /// The owner returned the item to the pool.
    HandedBack,
    /// Moved to another role or person.
    Reassigned,
    /// Finished.
    Completed,
    /// Withdrawn.
    Cancelled,
    /// A newer open version reopened an item the EHR had closed.
    Reopened,
}

impl Action {
    /// The verb used in messages, such as `hand back`.
    pub fn verb(self) -> &'static str {
        match self {
            Action::Received => "receive",
            Action::Updated => "update",
            Action::Routed => "route",
            Action::RouteFailed => "fail routing of",
            Action::Rerouted => "reroute",
            Action::Retried => "retry",
            Action::Claimed => "claim",
            Action::Started => "start",
            Action::HandedBack => "hand back",
            Action::Reassigned => "reassign",
            Action::Completed => "complete",
            Action::Cancelled => "cancel",
            Action::Reopened => "reopen",
        }
    }
}

/// The actor name used for changes that come from the EHR itself.
pub const EHR_ACTOR: &str = "ehr";

/// The actor name used for routing decisions of the engine.
pub const ENGINE_ACTOR: &str = "switchboard";

/// One line of an item's status history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When it happened.
    #[serde(with = "crate::codec::timestamp")]
    pub at: Timestamp,
    /// Who acted: a roster person id, [`EHR_ACTOR`] or [`ENGINE_ACTOR`].
    pub actor: String,
    /// What happened.
    pub action: Action,
    /// Status before.
    pub from: ItemStatus,
    /// Status after.
    pub to: ItemStatus,
    /// Ids and reasons only, never patient details.
    pub detail: String,
}

/// The cause of a routing failure, kept while the item is a dead letter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteFailure {
    /// The class of failure.
    pub kind: FailureKind,
    /// The policy's or the engine's message.
    pub message: String,
    /// The policy that was called, when one was.
    pub policy: Option<PolicyRef>,
    /// When it failed.
    #[serde(with = "crate::codec::timestamp")]
    pub at: Timestamp,
    /// How many routing attempts have failed so far.
    pub attempts: u32,
}

/// The class of a routing failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The policy's `no-match` error.
    NoMatch,
    /// The policy's `no-owner` error.
    NoOwner,
    /// The policy's `invalid-item` error.
    InvalidItem,
    /// The whole policy call failed: a trap, a breached limit, no policy.
    PolicyFailed,
    /// The policy returned an owner that the roster does not have.
    InvalidAssignment,
}

impl FailureKind {
    /// The kebab-case name used in APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::NoMatch => "no-match",
            FailureKind::NoOwner => "no-owner",
            FailureKind::InvalidItem => "invalid-item",
            FailureKind::PolicyFailed => "policy-failed",
            FailureKind::InvalidAssignment => "invalid-assignment",
        }
    }
}

/// A work item as Switchboard stores it: the connector's latest data plus
/// the owner, status and history Switchboard keeps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The host's item number.
    pub id: ItemId,
    /// Site id.
    pub site: String,
    /// Connector, external id and newest version.
    pub source: Source,
    /// Store revision, increased by every stored change; writers use it to
    /// detect a concurrent change (optimistic concurrency).
    pub revision: u64,
    /// Kind of work.
    pub category: Category,
    /// Result interpretation.
    pub flag: ResultFlag,
    /// Priority as the EHR gave it.
    pub priority: Priority,
    /// Whether the EHR still considers the work open.
    pub ehr_state: EhrState,
    /// Short label, never a patient name or note text.
    pub title: String,
    /// EHR patient reference.
    pub patient: Option<String>,
    /// EHR encounter reference.
    pub encounter: Option<String>,
    /// EHR reference of the ordering provider.
    pub ordering: Option<String>,
    /// EHR reference of the rendering clinician.
    pub rendering: Option<String>,
    /// EHR reference of the patient's primary-care provider.
    pub pcp: Option<String>,
    /// When the work appeared in the EHR.
    #[serde(with = "crate::codec::timestamp")]
    pub created: Timestamp,
    /// When the EHR wants it done.
    #[serde(with = "crate::codec::timestamp_opt")]
    pub due: Option<Timestamp>,
    /// Free-form attributes from the connector.
    pub attributes: Vec<Attribute>,
    /// True for history read by a backfill: counted in metrics, never routed.
    pub backfill: bool,
    /// Lifecycle state.
    pub status: ItemStatus,
    /// Current owner; kept after closing so metrics can see who closed it.
    pub owner: Option<Owner>,
    /// The last routing failure while the item is a dead letter.
    pub failure: Option<RouteFailure>,
    /// Every change, oldest first.
    pub history: Vec<HistoryEntry>,
    /// When Switchboard first stored it.
    #[serde(with = "crate::codec::timestamp")]
    pub received_at: Timestamp,
    /// When it reached `completed` or `cancelled`.
    #[serde(with = "crate::codec::timestamp_opt")]
    pub closed_at: Option<Timestamp>,
}

impl Item {
    /// The due time that orders worklists: the owner's, else the EHR's.
    pub fn effective_due(&self) -> Option<Timestamp> {
        self.owner.as_ref().and_then(|o| o.due).or(self.due)
    }

    /// The priority that orders worklists: the owner's, else the EHR's.
    pub fn effective_priority(&self) -> Priority {
        self.owner.as_ref().map_or(self.priority, |o| o.priority)
    }

    /// True while the item waits for routing: received, live, and not a
    /// dead letter.
    pub fn is_pending(&self) -> bool {
        self.status == ItemStatus::Received && !self.backfill && self.failure.is_none()
    }

    /// True while the item is a dead letter waiting for a retry.
    pub fn is_dead_letter(&self) -> bool {
        self.status == ItemStatus::Received && self.failure.is_some()
    }

    /// True when `due` has passed at `now`.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        !self.status.is_terminal() && self.effective_due().is_some_and(|due| due < now)
    }

    /// The person who currently owns or is suggested for the item.
    pub fn person(&self) -> Option<&str> {
        self.owner.as_ref().and_then(|o| o.person.as_deref())
    }

    /// The role pool that currently owns the item.
    pub fn role(&self) -> Option<&str> {
        self.owner.as_ref().map(|o| o.role.as_str())
    }

    /// Appends a history entry and moves to status `to`.
    pub(crate) fn record(
        &mut self,
        at: Timestamp,
        actor: &str,
        action: Action,
        to: ItemStatus,
        detail: String,
    ) {
        self.history.push(HistoryEntry {
            at,
            actor: actor.to_string(),
            action,
            from: self.status,
            to,
            detail,
        });
        self.status = to;
        if to.is_terminal() {
            self.closed_at = Some(at);
        } else {
            self.closed_at = None;
        }
    }
}

/// A dead letter as listed for administrators: the item and its failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The item.
    pub item: ItemId,
    /// Its site.
    pub site: String,
    /// Connector and external id, for tracing the input.
    pub connector: String,
    /// The EHR's id.
    pub external_id: String,
    /// Kind of work.
    pub category: Category,
    /// The last failure.
    pub failure: RouteFailure,
}

/// One entry of the audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When it happened.
    #[serde(with = "crate::codec::timestamp")]
    pub at: Timestamp,
    /// Who acted: a user, `admin`, or a subsystem such as `reload`.
    pub actor: String,
    /// What was done, such as `plugin.activate` or `dead-letter.retry`.
    pub action: String,
    /// What it was done to, such as a plugin name or an item id.
    pub target: String,
    /// The site, when the action concerns one.
    pub site: Option<String>,
    /// Ids, hashes and outcomes only.
    pub detail: String,
}

/// The result of a plugin load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActivationOutcome {
    /// The plugin now serves calls.
    Activated,
    /// The candidate failed; the previous version stays.
    Rejected,
    /// An administrator returned to an earlier version.
    RolledBack,
    /// The plugin was removed.
    Removed,
}

/// A record of one plugin load, kept for the audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activation {
    /// When it happened.
    #[serde(with = "crate::codec::timestamp")]
    pub at: Timestamp,
    /// The site, or `None` for a plugin shared by every site.
    pub site: Option<String>,
    /// The plugin.
    pub plugin: PolicyRef,
    /// The result.
    pub outcome: ActivationOutcome,
    /// Why, for a rejection or rollback.
    pub message: String,
}

/// A chart, claim or appointment event kept for the backlog metrics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Site id.
    pub site: String,
    /// Connector instance that reported it.
    pub connector: String,
    /// True when it came from a backfill.
    pub backfill: bool,
    /// The event.
    #[serde(with = "crate::codec::event")]
    pub event: Event,
}

/// A nudge that was sent. The store keys it by item, level and recipient (a
/// person, or a role pool when `person` is `None`) and rejects a repeat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NudgeRecord {
    /// The item.
    pub item: ItemId,
    /// The level sent.
    pub level: NudgeLevel,
    /// Recipient role.
    pub role: String,
    /// Recipient person.
    pub person: Option<String>,
    /// When it was sent.
    #[serde(with = "crate::codec::timestamp")]
    pub at: Timestamp,
}

impl NudgeRecord {
    /// Describes the recipient for messages: `dr-lee (medical-director)`,
    /// or `the medical-director pool`.
    pub fn recipient(&self) -> String {
        match &self.person {
            Some(person) => format!("{person} ({})", self.role),
            None => format!("the {} pool", self.role),
        }
    }
}

/// A daily metric snapshot as the metrics module computed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricSnapshot {
    /// Site id.
    pub site: String,
    /// Site-local date, `YYYY-MM-DD`.
    pub date: String,
    /// The metrics module's JSON document.
    pub json: String,
}
