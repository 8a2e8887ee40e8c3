//! Worklist queries: which open items a role pool or a person owns, in the
//! order staff work them (due time first, then priority), with filters,
//! cursor paging and counts.

use serde::{Deserialize, Serialize};
use switchboard_sdk::{Category, Priority, Timestamp};

use crate::error::EngineError;
use crate::model::{Item, ItemId, ItemStatus};

/// The largest page a query may ask for. Larger pages cost a worklist
/// request more than a few milliseconds of item reads.
pub const MAX_PAGE_SIZE: usize = 200;

/// Whose worklist.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum OwnerRef {
    /// Every open item of a role pool, claimed or not.
    Role(String),
    /// The open items a person owns or was suggested for.
    Person(String),
}

impl OwnerRef {
    /// The role or person name.
    pub fn name(&self) -> &str {
        match self {
            OwnerRef::Role(name) | OwnerRef::Person(name) => name,
        }
    }
}

/// A filter on worklist items. Empty fields match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorklistFilter {
    /// Only this kind of work.
    pub category: Option<Category>,
    /// Only this status (`ready`, `accepted` or `in-progress`).
    pub status: Option<ItemStatus>,
    /// Only items whose due time has passed.
    pub overdue: bool,
}

/// An opaque position in a worklist, returned with a page and passed back
/// to get the next one. It stays valid while items change: the next page
/// starts after the last item shown.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PageCursor(pub String);

/// A worklist query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorklistQuery {
    /// Site id.
    pub site: String,
    /// Role pool or person.
    pub owner: OwnerRef,
    /// Filters.
    pub filter: WorklistFilter,
    /// Start after this position; `None` for the first page.
    pub after: Option<PageCursor>,
    /// Page size, 1 to [`MAX_PAGE_SIZE`].
    pub limit: usize,
}

impl WorklistQuery {
    /// The first page of a role pool's worklist, at most [`MAX_PAGE_SIZE`] items.
    pub fn role(site: impl Into<String>, role: impl Into<String>) -> Self {
        WorklistQuery::new(site.into(), OwnerRef::Role(role.into()))
    }

    /// The first page of a person's worklist, at most [`MAX_PAGE_SIZE`] items.
    pub fn person(site: impl Into<String>, person: impl Into<String>) -> Self {
        WorklistQuery::new(site.into(), OwnerRef::Person(person.into()))
    }

    fn new(site: String, owner: OwnerRef) -> Self {
        WorklistQuery {
            site,
            owner,
            filter: WorklistFilter::default(),
            after: None,
            limit: MAX_PAGE_SIZE,
        }
    }

    /// Checks the page size and the status filter.
    ///
    /// # Errors
    ///
    /// [`EngineError::InvalidRequest`] naming the bad value.
    pub fn validate(&self) -> Result<(), EngineError> {
        if self.limit == 0 || self.limit > MAX_PAGE_SIZE {
            return Err(EngineError::InvalidRequest(format!(
                "page size {} is out of range; use 1 to {MAX_PAGE_SIZE}",
                self.limit
            )));
        }
        if let Some(status) = self.filter.status
            && !status.is_routed_open()
        {
            return Err(EngineError::InvalidRequest(format!(
                "status filter {status} never matches a worklist; use ready, accepted or in-progress"
            )));
        }
        Ok(())
    }
}

/// One row of a worklist index, enough to filter and order without reading
/// the item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// The item.
    pub id: ItemId,
    /// Effective due time.
    pub due: Option<Timestamp>,
    /// Effective priority.
    pub priority: Priority,
    /// Status.
    pub status: ItemStatus,
    /// Kind of work.
    pub category: Category,
}

/// A page of index rows as the store returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexPage {
    /// Rows in worklist order.
    pub entries: Vec<IndexEntry>,
    /// Where the next page starts, `None` after the last page.
    pub next: Option<PageCursor>,
}

/// A page of a worklist.
#[derive(Clone, Debug, PartialEq)]
pub struct WorklistPage {
    /// Items in worklist order.
    pub items: Vec<Item>,
    /// Where the next page starts, `None` after the last page.
    pub next: Option<PageCursor>,
}

/// Open item counts of one role pool or person.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerCount {
    /// Items waiting in the pool or suggested to the person.
    pub ready: u32,
    /// Items claimed and not started.
    pub accepted: u32,
    /// Items being worked.
    pub in_progress: u32,
    /// Items whose due time has passed.
    pub overdue: u32,
}

impl OwnerCount {
    /// Every open item.
    pub fn open(&self) -> u32 {
        self.ready + self.accepted + self.in_progress
    }

    pub(crate) fn add(&mut self, status: ItemStatus, delta: i64) {
        let slot = match status {
            ItemStatus::Ready => &mut self.ready,
            ItemStatus::Accepted => &mut self.accepted,
            ItemStatus::InProgress => &mut self.in_progress,
            _ => return,
        };
        *slot = (i64::from(*slot) + delta).max(0) as u32;
    }
}

/// Counts of one site's worklists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteCounts {
    /// Per role pool, by role name, sorted.
    pub roles: Vec<(String, OwnerCount)>,
    /// Per person, by person id, sorted.
    pub people: Vec<(String, OwnerCount)>,
    /// Items stored but not yet routed.
    pub pending: u32,
    /// Items whose routing failed.
    pub dead_letters: u32,
}
