//! Switchboard's domain model, durable task store and routing engine.
//!
//! The host links this crate and supplies the plugin calls through the
//! [`Router`] trait; the crate itself has no WebAssembly dependency.
//!
//! ```text
//! connector batch ──► Engine::ingest ──► durable (log record + flush)
//!                                  └──► Engine::route_pending ──► Router ──► durable owners
//!                                                                      └──► dead letters
//! worklists, counts, actions ◄── Engine (reads the store's trees)
//! ```
//!
//! # Identity and versions
//!
//! `(site, connector instance, external id)` is one item. Its `version`
//! (`u64`, larger is newer) orders what the connector reports:
//!
//! - a version equal to or older than the stored one changes nothing
//!   (counted as `duplicate` or `stale`), so redelivery is harmless;
//! - a newer version updates the item's data. If its category or result
//!   flag changed after the item was routed, the item is routed again
//!   (its owner and any claim are dropped, and the history records why);
//!   otherwise it keeps its owner and a person's claim;
//! - a newer version in EHR state `done` or `cancelled` (note signed, refill
//!   sent, result acknowledged) closes the item as `completed` or
//!   `cancelled`, with actor `ehr`;
//! - a newer open version of an item the EHR had closed reopens it for
//!   routing; an item staff closed stays closed and only takes the data.
//!
//! Backfilled history ([`IngestMode::Backfill`]) is stored and counted in
//! metrics but never routed.
//!
//! # Status
//!
//! Statuses are FHIR R4 `Task.status` codes: `received` (stored, not yet
//! routed, or a dead letter), `ready` (in a role pool), `accepted` (claimed
//! by a person), `in-progress`, `completed` and `cancelled`. The
//! transitions and who may take them are listed in [`actions`].
//!
//! # Durability
//!
//! Every write is one [`store::Store::commit`]: a log record containing the
//! whole change, flushed before the call returns (many concurrent callers
//! share one flush), then projected into the trees. Items waiting for
//! routing are kept in memory until routed, because routing writes them
//! again a moment later. A crash before the projection is repaired on the
//! next open by replaying the log. Nothing is routed before it is durable,
//! and an item whose routing fails is kept as a dead letter until it is
//! retried.

pub mod actions;
pub mod clock;
mod codec;
mod engine;
pub mod error;
pub mod model;
pub mod router;
pub mod store;
pub mod worklist;

pub use actions::Reassignment;
pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{
    Engine, IngestMode, IngestOptions, IngestReport, MAX_EXTERNAL_ID_BYTES, MAX_TITLE_BYTES,
    ROUTE_BATCH, RouteReport,
};
pub use error::{EngineError, StoreError};
pub use model::{Item, ItemId, ItemStatus, PolicyRef};
pub use router::{RouteOutcome, Router, RouterError};
pub use store::{SledOptions, SledStore, Store};
pub use worklist::{OwnerRef, WorklistFilter, WorklistPage, WorklistQuery};
