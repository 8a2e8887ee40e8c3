//! Ingest: turning a connector batch into stored items.
//!
//! The rules for identity and versions are in the crate documentation.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use switchboard_sdk::{Batch, EhrState, Reject, Timestamp, WorkItem};
use tracing::debug;

use super::Engine;
use crate::error::EngineError;
use crate::model::{Action, EHR_ACTOR, Item, ItemId, ItemStatus, Source, StoredEvent};
use crate::store::{Expect, Mutation};

/// Maximum external id length in bytes.
pub const MAX_EXTERNAL_ID_BYTES: usize = 1024;

/// Maximum title length in bytes. Titles are labels such as a test name,
/// so anything longer is likely note text sent by mistake.
pub const MAX_TITLE_BYTES: usize = 512;

/// Whether a batch is live work or history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IngestMode {
    /// Live work: new open items wait for routing.
    #[default]
    Live,
    /// History read by a backfill: stored and counted in metrics, never
    /// routed.
    Backfill,
}

/// Options of one ingest call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestOptions {
    /// Live work or backfilled history.
    pub mode: IngestMode,
    /// The connector's new poll cursor, stored in the same atomic commit as
    /// the batch so a crash repeats the page rather than skipping it.
    pub cursor: Option<String>,
}

/// The outcome of an ingest call. `new + updated + duplicate + stale + closed +
/// reopened + rerouted + rejects.len()` (from the engine's own checks)
/// covers every item of the batch once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestReport {
    /// Items stored for the first time (already closed ones included).
    pub new: u32,
    /// Newer versions that changed an item and kept its owner.
    pub updated: u32,
    /// Redelivered versions equal to the stored one.
    pub duplicate: u32,
    /// Versions older than the stored one.
    pub stale: u32,
    /// Newer versions that closed an open item (`done` or `cancelled`).
    pub closed: u32,
    /// Newer open versions of an item the EHR had closed, routed again.
    pub reopened: u32,
    /// Newer versions whose category or result flag changed after routing,
    /// so the item is routed again.
    pub rerouted: u32,
    /// Chart, claim and appointment events stored.
    pub events: u32,
    /// Roster hints in the batch, which the engine does not store.
    pub roster_hints: u32,
    /// Items of this batch now waiting for routing.
    pub pending: Vec<ItemId>,
    /// The connector's rejects followed by the engine's own.
    pub rejects: Vec<Reject>,
}

/// The fate of one work item.
enum Outcome {
    New,
    Updated,
    Duplicate,
    Stale,
    Closed,
    Reopened,
    Rerouted,
}

impl Engine {
    /// Stores a connector batch. When this returns `Ok`, every item and
    /// event of the batch (and the cursor, if given) is durable, so the
    /// caller may acknowledge the batch to its sender. Items are not routed
    /// here: call [`Engine::route_pending`] next.
    ///
    /// # Errors
    ///
    /// [`EngineError::UnknownSite`] when the site has no roster,
    /// [`EngineError::InvalidRequest`] for an empty connector name, store
    /// failures (nothing was stored) and [`EngineError::Contended`].
    pub fn ingest(
        &self,
        site: &str,
        connector: &str,
        batch: Batch,
        options: IngestOptions,
    ) -> Result<IngestReport, EngineError> {
        self.site(site)?;
        if connector.is_empty() {
            return Err(EngineError::InvalidRequest(
                "connector name is empty; pass the connector instance's configured name".into(),
            ));
        }

        let report = self.commit_with_retry("ingest", || {
            self.plan_ingest(site, connector, &batch, &options)
        })?;
        debug!(
            site,
            connector,
            new = report.new,
            updated = report.updated,
            duplicate = report.duplicate,
            stale = report.stale,
            closed = report.closed,
            rejects = report.rejects.len(),
            "ingested a batch"
        );
        Ok(report)
    }

    /// Reads the current state and computes the mutations of one batch.
    fn plan_ingest(
        &self,
        site: &str,
        connector: &str,
        batch: &Batch,
        options: &IngestOptions,
    ) -> Result<(Vec<Mutation>, IngestReport), EngineError> {
        let now = self.now();
        let mut report = IngestReport {
            rejects: batch.rejects.clone(),
            roster_hints: batch.roster.len() as u32,
            ..IngestReport::default()
        };
        // Items touched by this batch, so a repeated external id in one
        // batch is judged against the earlier copy.
        let mut planned: Vec<(Item, Expect)> = Vec::new();
        let mut by_external: HashMap<&str, usize> = HashMap::new();

        for (index, work) in batch.items.iter().enumerate() {
            if let Some(reject) = check_work_item(index, work) {
                report.rejects.push(reject);
                continue;
            }

            let current = match by_external.get(work.external_id.as_str()) {
                Some(&slot) => Some(planned[slot].clone()),
                None => self.stored(site, connector, &work.external_id)?,
            };
            let (item, expect, outcome) = match current {
                None => {
                    let item = new_item(
                        self.inner.store.allocate_item_id(),
                        site,
                        connector,
                        work,
                        options.mode,
                        now,
                    );
                    (item, Expect::New, Outcome::New)
                }
                Some((mut item, expect)) => {
                    let outcome = apply_version(&mut item, work, options.mode, now);
                    (item, expect, outcome)
                }
            };

            count(&mut report, &outcome);
            if matches!(outcome, Outcome::Duplicate | Outcome::Stale) {
                continue;
            }
            match by_external.get(work.external_id.as_str()) {
                Some(&slot) => planned[slot] = (item, expect),
                None => {
                    by_external.insert(&work.external_id, planned.len());
                    planned.push((item, expect));
                }
            }
        }

        report.pending = planned
            .iter()
            .filter(|(i, _)| i.is_pending())
            .map(|(i, _)| i.id)
            .collect();

        let mut mutations: Vec<Mutation> = planned
            .into_iter()
            .map(|(item, expect)| Mutation::PutItem {
                item: Box::new(item),
                expect,
            })
            .collect();
        for event in &batch.events {
            mutations.push(Mutation::Event(StoredEvent {
                site: site.to_string(),
                connector: connector.to_string(),
                backfill: options.mode == IngestMode::Backfill,
                event: event.clone(),
            }));
            report.events += 1;
        }
        if let Some(cursor) = &options.cursor {
            mutations.push(Mutation::SetCursor {
                site: site.to_string(),
                connector: connector.to_string(),
                cursor: Some(cursor.clone()),
            });
        }
        Ok((mutations, report))
    }

    /// Reads the stored item of a source identity and the precondition to
    /// update it.
    fn stored(
        &self,
        site: &str,
        connector: &str,
        external_id: &str,
    ) -> Result<Option<(Item, Expect)>, EngineError> {
        let Some((id, _)) = self.inner.store.find_source(site, connector, external_id)? else {
            return Ok(None);
        };
        Ok(self.inner.store.item(id)?.map(|item| {
            let expect = Expect::Revision(item.revision);
            (item, expect)
        }))
    }
}

fn count(report: &mut IngestReport, outcome: &Outcome) {
    let slot = match outcome {
        Outcome::New => &mut report.new,
        Outcome::Updated => &mut report.updated,
        Outcome::Duplicate => &mut report.duplicate,
        Outcome::Stale => &mut report.stale,
        Outcome::Closed => &mut report.closed,
        Outcome::Reopened => &mut report.reopened,
        Outcome::Rerouted => &mut report.rerouted,
    };
    *slot += 1;
}

/// Checks what the engine itself requires of a work item. The connector
/// checks the rest.
fn check_work_item(index: usize, work: &WorkItem) -> Option<Reject> {
    let reject = |field: &str, message: String| Reject {
        location: format!("items[{index}]"),
        field: field.to_string(),
        message,
    };
    if work.external_id.is_empty() {
        return Some(reject(
            "external_id",
            "is empty; every item needs the EHR's stable id".into(),
        ));
    }
    if work.external_id.len() > MAX_EXTERNAL_ID_BYTES {
        return Some(reject(
            "external_id",
            format!(
                "has {} bytes, over the limit of {MAX_EXTERNAL_ID_BYTES}",
                work.external_id.len()
            ),
        ));
    }
    if work.title.len() > MAX_TITLE_BYTES {
        return Some(reject(
            "title",
            format!(
                "has {} bytes, over the limit of {MAX_TITLE_BYTES}; send a short label, never note text",
                work.title.len()
            ),
        ));
    }
    None
}

fn new_item(
    id: ItemId,
    site: &str,
    connector: &str,
    work: &WorkItem,
    mode: IngestMode,
    now: Timestamp,
) -> Item {
    let mut item = Item {
        id,
        site: site.to_string(),
        source: Source {
            connector: connector.to_string(),
            external_id: work.external_id.clone(),
            version: work.version,
        },
        revision: 0,
        category: work.category,
        flag: work.flag,
        priority: work.priority,
        ehr_state: work.state,
        title: work.title.clone(),
        patient: work.patient.clone(),
        encounter: work.encounter.clone(),
        ordering: work.ordering.clone(),
        rendering: work.rendering.clone(),
        pcp: work.pcp.clone(),
        created: work.created,
        due: work.due,
        attributes: work.attributes.clone(),
        backfill: mode == IngestMode::Backfill,
        status: ItemStatus::Received,
        owner: None,
        failure: None,
        history: Vec::new(),
        received_at: now,
        closed_at: None,
    };
    let detail = format!("version {} from connector {connector}", work.version);
    item.record(
        now,
        EHR_ACTOR,
        Action::Received,
        ItemStatus::Received,
        detail,
    );
    close_if_done(&mut item, now);
    item
}

/// Closes an item whose EHR state is `done` or `cancelled`. Returns true
/// when it did.
fn close_if_done(item: &mut Item, now: Timestamp) -> bool {
    let (action, status) = match item.ehr_state {
        EhrState::Open => return false,
        EhrState::Done => (Action::Completed, ItemStatus::Completed),
        EhrState::Cancelled => (Action::Cancelled, ItemStatus::Cancelled),
    };
    let detail = format!(
        "{} in the EHR as of version {}",
        status, item.source.version
    );
    item.record(now, EHR_ACTOR, action, status, detail);
    true
}

/// True when the item's last closing came from the EHR.
fn closed_by_ehr(item: &Item) -> bool {
    item.history
        .iter()
        .rev()
        .find(|h| h.to.is_terminal())
        .is_some_and(|h| h.actor == EHR_ACTOR)
}

/// Applies a version of an item already stored.
fn apply_version(item: &mut Item, work: &WorkItem, mode: IngestMode, now: Timestamp) -> Outcome {
    if work.version == item.source.version {
        return Outcome::Duplicate;
    }
    if work.version < item.source.version {
        return Outcome::Stale;
    }

    let changes = routing_changes(item, work);
    copy_fields(item, work);
    if mode == IngestMode::Live {
        item.backfill = false;
    }

    if item.status.is_terminal() {
        let reopen = work.state == EhrState::Open && closed_by_ehr(item) && !item.backfill;
        if !reopen {
            let detail = format!("version {}", work.version);
            item.record(now, EHR_ACTOR, Action::Updated, item.status, detail);
            return Outcome::Updated;
        }
        item.owner = None;
        item.failure = None;
        let detail = format!("version {} is open again in the EHR", work.version);
        item.record(
            now,
            EHR_ACTOR,
            Action::Reopened,
            ItemStatus::Received,
            detail,
        );
        return Outcome::Reopened;
    }

    if close_if_done(item, now) {
        return Outcome::Closed;
    }

    if item.status.is_routed_open() && !changes.is_empty() {
        let previous = match item.owner.take() {
            Some(owner) => match owner.person {
                Some(person) => format!(" (was {} / {person})", owner.role),
                None => format!(" (was {})", owner.role),
            },
            None => String::new(),
        };
        let detail = format!(
            "{} in version {}; routing again{previous}",
            changes.join(", "),
            work.version
        );
        item.record(
            now,
            EHR_ACTOR,
            Action::Rerouted,
            ItemStatus::Received,
            detail,
        );
        return Outcome::Rerouted;
    }

    // A dead letter gets another routing attempt with the new data.
    item.failure = None;
    let detail = format!("version {}", work.version);
    item.record(now, EHR_ACTOR, Action::Updated, item.status, detail);
    Outcome::Updated
}

/// Describes changes to the fields routing depends on, for the history.
fn routing_changes(item: &Item, work: &WorkItem) -> Vec<String> {
    let mut changes = Vec::new();
    if item.category != work.category {
        changes.push(format!(
            "category changed from {} to {}",
            item.category, work.category
        ));
    }
    if item.flag != work.flag {
        changes.push(format!(
            "result flag changed from {} to {}",
            item.flag, work.flag
        ));
    }
    changes
}

fn copy_fields(item: &mut Item, work: &WorkItem) {
    item.source.version = work.version;
    item.category = work.category;
    item.flag = work.flag;
    item.priority = work.priority;
    item.ehr_state = work.state;
    item.title = work.title.clone();
    item.patient = work.patient.clone();
    item.encounter = work.encounter.clone();
    item.ordering = work.ordering.clone();
    item.rendering = work.rendering.clone();
    item.pcp = work.pcp.clone();
    item.created = work.created;
    item.due = work.due;
    item.attributes = work.attributes.clone();
}
