//! Response and request bodies of the API. Kept apart from the engine's
//! stored types so the store can change without changing the API.

use serde::{Deserialize, Serialize};
use switchboard_engine::model::{HistoryEntry, Owner};
use switchboard_engine::{Item, ItemStatus};
use switchboard_sdk::Timestamp;
use utoipa::ToSchema;

/// An owner of an item.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnerView {
    /// Role pool.
    pub role: String,
    /// Person, when claimed or suggested.
    pub person: Option<String>,
    /// FHIR request priority code.
    pub priority: String,
    /// Due time set by the policy (RFC 3339).
    pub due: Option<String>,
    /// Why the item was routed here, naming the rule.
    pub reason: String,
    /// Rule name.
    pub rule: String,
    /// Policy that decided, as `name@version`.
    pub policy: Option<String>,
    /// When the owner was set (RFC 3339).
    pub routed_at: String,
}

/// A worklist item.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemView {
    /// Host item number.
    pub id: u64,
    /// Site id.
    pub site: String,
    /// Connector instance.
    pub connector: String,
    /// The EHR's id.
    pub external_id: String,
    /// Newest version stored.
    pub version: u64,
    /// Category.
    pub category: String,
    /// Result flag.
    pub flag: String,
    /// Priority (the owner's, else the EHR's).
    pub priority: String,
    /// FHIR Task status code.
    pub status: String,
    /// Title as the connector gave it.
    pub title: String,
    /// EHR patient reference.
    pub patient: Option<String>,
    /// EHR encounter reference.
    pub encounter: Option<String>,
    /// When the work appeared (RFC 3339).
    pub created: String,
    /// Effective due time (RFC 3339).
    pub due: Option<String>,
    /// True when past due and still open.
    pub overdue: bool,
    /// Current owner.
    pub owner: Option<OwnerView>,
    /// The routing error, for dead letters.
    pub failure: Option<String>,
}

/// One history line.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    /// When (RFC 3339).
    pub at: String,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// Status before.
    pub from: String,
    /// Status after.
    pub to: String,
    /// Ids and reasons.
    pub detail: String,
}

/// An item with its history.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemDetail {
    /// The item.
    #[serde(flatten)]
    pub item: ItemView,
    /// Every change, oldest first.
    pub history: Vec<HistoryView>,
}

/// A page of a worklist.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorklistView {
    /// Items, by due time then priority.
    pub items: Vec<ItemView>,
    /// Cursor for the next page, when there is one.
    pub next: Option<String>,
}

/// Body of `reassign`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReassignRequest {
    /// New role pool.
    pub role: String,
    /// New person, or none for the pool.
    #[serde(default)]
    pub person: Option<String>,
    /// Why; recorded in the item's history.
    pub reason: String,
}

/// Body of `cancel`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Why; recorded in the item's history.
    pub reason: String,
}

fn ts(t: Timestamp) -> String {
    t.to_string()
}

fn owner_view(o: &Owner) -> OwnerView {
    OwnerView {
        role: o.role.clone(),
        person: o.person.clone(),
        priority: o.priority.as_str().to_string(),
        due: o.due.map(ts),
        reason: o.reason.clone(),
        rule: o.rule.clone(),
        policy: o
            .policy
            .as_ref()
            .map(|p| format!("{}@{}", p.name, p.version)),
        routed_at: ts(o.routed_at),
    }
}

/// The API view of an item at time `now`.
pub fn item_view(item: &Item, now: Timestamp) -> ItemView {
    let due = item.effective_due();
    let open = !item.status.is_terminal();
    ItemView {
        id: item.id.0,
        site: item.site.clone(),
        connector: item.source.connector.clone(),
        external_id: item.source.external_id.clone(),
        version: item.source.version,
        category: item.category.as_str().to_string(),
        flag: item.flag.as_str().to_string(),
        priority: item.effective_priority().as_str().to_string(),
        status: item.status.as_str().to_string(),
        title: item.title.clone(),
        patient: item.patient.clone(),
        encounter: item.encounter.clone(),
        created: ts(item.created),
        due: due.map(ts),
        overdue: open && due.is_some_and(|d| d < now),
        owner: item.owner.as_ref().map(owner_view),
        failure: item.failure.as_ref().map(|f| f.message.clone()),
    }
}

fn history_view(h: &HistoryEntry) -> HistoryView {
    HistoryView {
        at: ts(h.at),
        actor: h.actor.clone(),
        action: h.action.verb().to_string(),
        from: h.from.as_str().to_string(),
        to: h.to.as_str().to_string(),
        detail: h.detail.clone(),
    }
}

/// The API view of an item with its history.
pub fn item_detail(item: &Item, now: Timestamp) -> ItemDetail {
    ItemDetail {
        item: item_view(item, now),
        history: item.history.iter().map(history_view).collect(),
    }
}

/// Parses a status query value.
pub fn parse_status(text: &str) -> Result<ItemStatus, String> {
    text.parse()
}
