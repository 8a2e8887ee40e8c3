//! The engine: ingest → persist → route → persist → serve.
//!
//! [`Engine`] is a cheap handle (`Clone`, `Send`, `Sync`) over a [`Store`],
//! a [`Router`], a [`Clock`] and the rosters of the configured sites. Its
//! operations are split by concept: [`ingest`](Engine::ingest) in
//! `ingest.rs`, routing and dead letters in `route.rs`, item actions in
//! `crate::actions`, and the records kept beside items in `records.rs`.

mod ingest;
mod records;
mod route;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use switchboard_sdk::{Site, Timestamp};

pub use self::ingest::{
    IngestMode, IngestOptions, IngestReport, MAX_EXTERNAL_ID_BYTES, MAX_TITLE_BYTES,
};
pub use self::route::{ROUTE_BATCH, RouteReport};
use crate::clock::{Clock, SystemClock};
use crate::error::{EngineError, StoreError};
use crate::model::{Item, ItemId};
use crate::router::Router;
use crate::store::{Mutation, Store};
use crate::worklist::{SiteCounts, WorklistPage, WorklistQuery};

/// How often an operation re-reads and retries after a concurrent change
/// before giving up with [`EngineError::Contended`].
const MAX_ATTEMPTS: u32 = 16;

/// The routing engine. Clone it freely: clones share everything.
///
/// Every method blocks on disk I/O (a write waits for a flush, usually well
/// under a millisecond but longer on a busy disk), so async code calls it
/// through `tokio::task::spawn_blocking` or a dedicated thread.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    router: Arc<dyn Router>,
    clock: Arc<dyn Clock>,
    sites: RwLock<HashMap<String, Arc<Site>>>,
    routing: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sites: Vec<String> = self.read_sites().keys().cloned().collect();
        f.debug_struct("Engine")
            .field("store", &self.inner.store)
            .field("sites", &sites)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Creates an engine on the system clock.
    pub fn new(store: Arc<dyn Store>, router: Arc<dyn Router>) -> Engine {
        Engine::with_clock(store, router, Arc::new(SystemClock))
    }

    /// Creates an engine on the given clock.
    pub fn with_clock(
        store: Arc<dyn Store>,
        router: Arc<dyn Router>,
        clock: Arc<dyn Clock>,
    ) -> Engine {
        Engine {
            inner: Arc::new(Inner {
                store,
                router,
                clock,
                sites: RwLock::new(HashMap::new()),
                routing: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Loads or replaces a site's roster. Items already routed keep their
    /// owners; the new roster applies to later routing and actions.
    pub fn set_site(&self, site: Site) {
        let mut sites = self.inner.sites.write().unwrap_or_else(|p| p.into_inner());
        sites.insert(site.id.clone(), Arc::new(site));
    }

    /// Removes a site's roster; its stored items stay.
    pub fn remove_site(&self, site: &str) {
        let mut sites = self.inner.sites.write().unwrap_or_else(|p| p.into_inner());
        sites.remove(site);
    }

    /// Returns the roster of a site.
    ///
    /// # Errors
    ///
    /// [`EngineError::UnknownSite`] when no roster is loaded.
    pub fn site(&self, site: &str) -> Result<Arc<Site>, EngineError> {
        self.read_sites()
            .get(site)
            .cloned()
            .ok_or_else(|| EngineError::UnknownSite {
                site: site.to_string(),
            })
    }

    /// Returns the store, for operations the engine does not wrap.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Returns the engine's current time.
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Reads an item of a site.
    ///
    /// # Errors
    ///
    /// [`EngineError::ItemNotFound`] when the id is unknown or belongs to
    /// another site; store failures.
    pub fn item(&self, site: &str, id: ItemId) -> Result<Item, EngineError> {
        match self.inner.store.item(id)? {
            Some(item) if item.site == site => Ok(item),
            _ => Err(EngineError::ItemNotFound {
                site: site.to_string(),
                id,
            }),
        }
    }

    /// Reads one page of a worklist, in due-time then priority order.
    ///
    /// # Errors
    ///
    /// [`EngineError::InvalidRequest`] for a page size over
    /// [`MAX_PAGE_SIZE`](crate::worklist::MAX_PAGE_SIZE) or a bad cursor;
    /// store failures.
    pub fn worklist(&self, query: &WorklistQuery) -> Result<WorklistPage, EngineError> {
        query.validate()?;
        let page = self
            .inner
            .store
            .worklist(query, self.now())
            .map_err(|e| match e {
                StoreError::Decode {
                    tree: "worklist",
                    message,
                    ..
                } if message.contains("cursor") => EngineError::InvalidRequest(message),
                other => EngineError::Store(other),
            })?;

        let mut items = Vec::with_capacity(page.entries.len());
        for entry in &page.entries {
            // An item closed between the index read and this read is left
            // out; the next page starts after it either way.
            if let Some(item) = self.inner.store.item(entry.id)?
                && item.status.is_routed_open()
            {
                items.push(item);
            }
        }
        Ok(WorklistPage {
            items,
            next: page.next,
        })
    }

    /// Counts a site's open items per role pool and person, with pending
    /// items and dead letters.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn counts(&self, site: &str) -> Result<SiteCounts, EngineError> {
        Ok(self.inner.store.counts(site, self.now())?)
    }

    /// Lists items of a site waiting for routing, oldest first, at most
    /// `limit`.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn pending(&self, site: &str, limit: usize) -> Result<Vec<Item>, EngineError> {
        let ids = self.inner.store.pending(site, limit)?;
        self.load_items(&ids)
    }

    /// Checks the store's trees against its log.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn verify(&self) -> Result<crate::store::VerifyReport, EngineError> {
        Ok(self.inner.store.verify()?)
    }

    /// Rebuilds the store's trees from its log.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn rebuild(&self) -> Result<crate::store::RebuildReport, EngineError> {
        Ok(self.inner.store.rebuild()?)
    }

    fn read_sites(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Site>>> {
        self.inner.sites.read().unwrap_or_else(|p| p.into_inner())
    }

    fn load_items(&self, ids: &[ItemId]) -> Result<Vec<Item>, EngineError> {
        let mut items = Vec::with_capacity(ids.len());
        for &id in ids {
            if let Some(item) = self.inner.store.item(id)? {
                items.push(item);
            }
        }
        Ok(items)
    }

    /// The lock that keeps two routing passes of one site apart.
    fn routing_lock(&self, site: &str) -> Arc<Mutex<()>> {
        let mut locks = self.inner.routing.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(locks.entry(site.to_string()).or_default())
    }

    /// Commits item changes built by `build` from fresh reads, retrying on
    /// a concurrent change.
    pub(crate) fn commit_with_retry<T>(
        &self,
        operation: &'static str,
        mut build: impl FnMut() -> Result<(Vec<Mutation>, T), EngineError>,
    ) -> Result<T, EngineError> {
        for _ in 0..MAX_ATTEMPTS {
            let (mutations, value) = build()?;
            if mutations.is_empty() {
                return Ok(value);
            }
            match self.inner.store.commit(mutations) {
                Ok(_) => return Ok(value),
                Err(StoreError::Conflict { target }) => {
                    tracing::debug!(operation, target, "retrying after a concurrent change");
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(EngineError::Contended {
            operation,
            attempts: MAX_ATTEMPTS,
        })
    }
}
