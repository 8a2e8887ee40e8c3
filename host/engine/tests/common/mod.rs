//! Fixtures shared by the integration tests: a small roster, a native
//! table router, work item builders and an engine on a real sled store in
//! a temporary folder.

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use switchboard_engine::{
    Engine, IngestOptions, IngestReport, ItemId, ManualClock, PolicyRef, RouteOutcome, Router,
    RouterError, SledStore, Store,
};
use switchboard_sdk::site::parse_site;
use switchboard_sdk::{
    Assignment, Batch, Category, Priority, ResultFlag, RouteContext, RouteError, RouteItem, Site,
    Timestamp, WorkItem,
};

/// 2026-03-09T15:00:00Z, a Monday morning in Chicago.
pub const T0: Timestamp = Timestamp(1_773_068_400_000);

pub const SITE: &str = "lakeside";
pub const CONNECTOR: &str = "fhir-main";

/// A roster with two physicians, two nurses, two medical assistants and a
/// front desk person.
pub const ROSTER: &str = r#"
id = "lakeside"
time_zone = "America/Chicago"

[[roles]]
name = "physician"
clinician = true

[[roles]]
name = "rn"

[[roles]]
name = "ma"

[[roles]]
name = "front-desk"

[[people]]
id = "dr-ng"
roles = ["physician"]
ehr_ids = ["Practitioner/ng"]

[[people]]
id = "dr-okafor"
roles = ["physician"]
ehr_ids = ["Practitioner/okafor"]

[[people]]
id = "rn-ito"
roles = ["rn"]

[[people]]
id = "rn-vega"
roles = ["rn"]

[[people]]
id = "ma-lund"
roles = ["ma"]

[[people]]
id = "ma-reyes"
roles = ["ma"]

[[people]]
id = "fd-park"
roles = ["front-desk"]
"#;

pub fn roster() -> Site {
    parse_site(ROSTER).expect("fixture roster parses")
}

pub fn policy() -> PolicyRef {
    PolicyRef {
        name: "table".into(),
        version: "1.2.0".into(),
        sha256: "ab".repeat(32),
    }
}

/// Routes like a small rule table: refills to `ma`, normal results to
/// `rn`, other results to the ordering physician, visit notes to the
/// rendering physician, everything else to the front desk. An item with
/// attribute `fail=no-match` gets that error; `role=NAME` forces a role.
#[derive(Debug, Default)]
pub struct TableRouter {
    pub calls: AtomicUsize,
    pub seen: Mutex<Vec<RouteItem>>,
    pub contexts: Mutex<Vec<RouteContext>>,
}

impl Router for TableRouter {
    fn route(
        &self,
        _site: &Site,
        items: &[RouteItem],
        context: &RouteContext,
    ) -> Result<RouteOutcome, RouterError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.seen.lock().unwrap().extend(items.iter().cloned());
        self.contexts.lock().unwrap().push(context.clone());
        Ok(RouteOutcome {
            policy: policy(),
            results: items.iter().map(route_one).collect(),
        })
    }
}

fn assignment(role: &str, person: Option<&str>, rule: &str) -> Assignment {
    Assignment {
        role: role.into(),
        person: person.map(str::to_string),
        priority: Priority::Routine,
        due: None,
        reason: format!("rule {rule}"),
        rule: rule.into(),
    }
}

/// Routes one item, keeping the item's own priority.
fn route_one(item: &RouteItem) -> Result<Assignment, RouteError> {
    routed(item).map(|assignment| Assignment {
        priority: item.priority,
        ..assignment
    })
}

fn routed(item: &RouteItem) -> Result<Assignment, RouteError> {
    if item.attribute("fail") == Some("no-match") {
        return Err(RouteError::NoMatch("no rule for this item".into()));
    }
    if let Some(role) = item.attribute("role") {
        return Ok(assignment(role, item.attribute("person"), "forced"));
    }
    match (item.category, item.flag) {
        (Category::Refill, _) => Ok(assignment("ma", None, "refills")),
        (Category::Result, ResultFlag::Normal) => Ok(assignment("rn", None, "normal-results")),
        (Category::Result, _) => match &item.ordering {
            Some(doctor) => Ok(assignment("physician", Some(doctor), "abnormal-results")),
            None => Err(RouteError::InvalidItem(
                "result without ordering provider".into(),
            )),
        },
        (Category::VisitNote, _) => Ok(assignment("physician", item.rendering.as_deref(), "notes")),
        _ => Ok(assignment("front-desk", None, "catch-all")),
    }
}

/// A router that fails every call while `broken` is set, then routes like
/// [`TableRouter`].
#[derive(Debug, Default)]
pub struct FlakyRouter {
    pub broken: AtomicBool,
    pub table: TableRouter,
}

impl Router for FlakyRouter {
    fn route(
        &self,
        site: &Site,
        items: &[RouteItem],
        context: &RouteContext,
    ) -> Result<RouteOutcome, RouterError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(RouterError {
                policy: Some(policy()),
                message: "policy trapped: unreachable executed".into(),
            });
        }
        self.table.route(site, items, context)
    }
}

/// An engine over a fresh store, with its clock and folder.
pub struct Fixture {
    pub engine: Engine,
    pub clock: Arc<ManualClock>,
    pub store: Arc<SledStore>,
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with_router(Arc::new(TableRouter::default()))
    }

    pub fn with_router(router: Arc<dyn Router>) -> Fixture {
        let dir = tempfile::tempdir().expect("temporary folder");
        let store = Arc::new(SledStore::open(dir.path().join("db")).expect("store opens"));
        let clock = Arc::new(ManualClock::new(T0));
        let engine = Engine::with_clock(store.clone(), router, clock.clone());
        engine.set_site(roster());
        Fixture {
            engine,
            clock,
            store,
            dir,
        }
    }

    /// Ingests live items from the default connector.
    pub fn ingest(&self, items: Vec<WorkItem>) -> IngestReport {
        let batch = Batch {
            items,
            ..Batch::default()
        };
        self.engine
            .ingest(SITE, CONNECTOR, batch, IngestOptions::default())
            .expect("ingest succeeds")
    }

    /// Ingests and routes, returning the ids of the batch's items.
    pub fn ingest_routed(&self, items: Vec<WorkItem>) -> Vec<ItemId> {
        let ids = self.ingest(items).pending;
        self.engine.route_pending(SITE).expect("routing succeeds");
        ids
    }

    /// Drops the engine and the store, keeping the folder.
    pub fn close(self) -> tempfile::TempDir {
        let Fixture {
            engine, store, dir, ..
        } = self;
        drop(engine);
        drop(store);
        dir
    }
}

/// Opens an engine over an existing folder.
pub fn reopen(dir: &tempfile::TempDir, router: Arc<dyn Router>) -> (Engine, Arc<SledStore>) {
    let store = Arc::new(SledStore::open(dir.path().join("db")).expect("store reopens"));
    let engine = Engine::with_clock(store.clone(), router, Arc::new(ManualClock::new(T0)));
    engine.set_site(roster());
    (engine, store)
}

pub fn refill(id: &str, version: u64) -> WorkItem {
    WorkItem::new(id, version, Category::Refill, "lisinopril 10 mg", T0)
}

pub fn result(id: &str, version: u64, flag: ResultFlag) -> WorkItem {
    let mut item = WorkItem::new(id, version, Category::Result, "basic metabolic panel", T0);
    item.flag = flag;
    item.ordering = Some("Practitioner/ng".into());
    item
}

pub fn with_due(mut item: WorkItem, minutes_after_t0: i64) -> WorkItem {
    item.due = Some(T0.plus_minutes(minutes_after_t0));
    item
}

pub fn with_attribute(mut item: WorkItem, key: &str, value: &str) -> WorkItem {
    item.attributes.push(switchboard_sdk::Attribute {
        key: key.into(),
        value: value.into(),
    });
    item
}

/// Counts stored items of a site by reading every page of `items`.
pub fn stored_items(store: &dyn Store) -> usize {
    let mut count = 0;
    let mut after = None;
    loop {
        let page = store.items(SITE, after, 500).expect("items list");
        let Some(last) = page.last() else {
            return count;
        };
        after = Some(last.id);
        count += page.len();
    }
}
