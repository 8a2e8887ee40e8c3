//! Worklist queries: order, filters, paging and counts.

mod common;

use common::*;
use switchboard_engine::worklist::{MAX_PAGE_SIZE, OwnerCount};
use switchboard_engine::{EngineError, ItemStatus, WorklistQuery};
use switchboard_sdk::{Category, Priority, ResultFlag};

fn titles(page: &switchboard_engine::WorklistPage) -> Vec<String> {
    page.items
        .iter()
        .map(|i| i.source.external_id.clone())
        .collect()
}

#[test]
fn sorted_by_due_then_priority() {
    let fx = Fixture::new();
    let mut stat = with_due(refill("b-stat", 1), 60);
    stat.priority = Priority::Stat;
    fx.ingest_routed(vec![
        refill("e-no-due", 1),
        with_due(refill("c-late", 1), 120),
        with_due(refill("a-routine", 1), 60),
        stat,
        with_due(refill("d-early", 1), 30),
    ]);

    let page = fx
        .engine
        .worklist(&WorklistQuery::role(SITE, "ma"))
        .unwrap();

    assert_eq!(
        titles(&page),
        vec!["d-early", "b-stat", "a-routine", "c-late", "e-no-due"]
    );
    assert_eq!(page.next, None);
}

#[test]
fn person_worklist_holds_claimed_items() {
    let fx = Fixture::new();
    let ids = fx.ingest_routed(vec![refill("rx-1", 1), refill("rx-2", 1)]);
    fx.engine.claim(SITE, ids[1], "ma-reyes").unwrap();

    let mine = fx
        .engine
        .worklist(&WorklistQuery::person(SITE, "ma-reyes"))
        .unwrap();
    let pool = fx
        .engine
        .worklist(&WorklistQuery::role(SITE, "ma"))
        .unwrap();

    assert_eq!(titles(&mine), vec!["rx-2"]);
    assert_eq!(pool.items.len(), 2);
}

#[test]
fn filters_by_status_category_overdue() {
    let fx = Fixture::new();
    let ids = fx.ingest_routed(vec![
        with_attribute(
            with_due(result("lab-1", 1, ResultFlag::Normal), 10),
            "role",
            "ma",
        ),
        with_due(refill("rx-1", 1), -10),
        with_due(refill("rx-2", 1), 50),
    ]);
    fx.engine.claim(SITE, ids[2], "ma-lund").unwrap();
    fx.clock.advance_minutes(20);

    let mut by_status = WorklistQuery::role(SITE, "ma");
    by_status.filter.status = Some(ItemStatus::Accepted);
    let mut by_category = WorklistQuery::role(SITE, "ma");
    by_category.filter.category = Some(Category::Result);
    let mut overdue = WorklistQuery::role(SITE, "ma");
    overdue.filter.overdue = true;

    assert_eq!(
        titles(&fx.engine.worklist(&by_status).unwrap()),
        vec!["rx-2"]
    );
    assert_eq!(
        titles(&fx.engine.worklist(&by_category).unwrap()),
        vec!["lab-1"]
    );
    assert_eq!(
        titles(&fx.engine.worklist(&overdue).unwrap()),
        vec!["rx-1", "lab-1"]
    );
}

#[test]
fn cursor_pages_through_everything() {
    let fx = Fixture::new();
    let items = (0..25)
        .map(|i| with_due(refill(&format!("rx-{i:02}"), 1), i))
        .collect();
    fx.ingest_routed(items);
    let mut query = WorklistQuery::role(SITE, "ma");
    query.limit = 10;

    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = fx.engine.worklist(&query).unwrap();
        pages += 1;
        seen.extend(titles(&page));
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }

    let expected: Vec<String> = (0..25).map(|i| format!("rx-{i:02}")).collect();
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);
}

#[test]
fn page_size_is_bounded() {
    let fx = Fixture::new();
    let mut query = WorklistQuery::role(SITE, "ma");
    query.limit = MAX_PAGE_SIZE + 1;

    let error = fx.engine.worklist(&query).unwrap_err();

    assert!(matches!(error, EngineError::InvalidRequest(ref m) if m.contains("201")));
}

#[test]
fn bad_cursor_is_invalid_request() {
    let fx = Fixture::new();
    let mut query = WorklistQuery::role(SITE, "ma");
    query.after = Some(switchboard_engine::worklist::PageCursor("zz".into()));

    let error = fx.engine.worklist(&query).unwrap_err();

    assert!(matches!(error, EngineError::InvalidRequest(_)), "{error}");
}

#[test]
fn counts_per_role_and_person() {
    let fx = Fixture::new();
    let ids = fx.ingest_routed(vec![
        with_due(refill("rx-1", 1), -5),
        refill("rx-2", 1),
        result("lab-1", 1, ResultFlag::Abnormal),
    ]);
    fx.engine.claim(SITE, ids[0], "ma-lund").unwrap();
    fx.engine.start(SITE, ids[0], "ma-lund").unwrap();
    fx.ingest(vec![
        with_attribute(refill("rx-3", 1), "fail", "no-match"),
        refill("rx-4", 1),
    ]);
    fx.engine.route_pending(SITE).unwrap();
    fx.ingest(vec![refill("rx-5", 1)]);

    let counts = fx.engine.counts(SITE).unwrap();

    let ma = OwnerCount {
        ready: 2,
        accepted: 0,
        in_progress: 1,
        overdue: 1,
    };
    let physician = OwnerCount {
        ready: 1,
        ..OwnerCount::default()
    };
    let lund = OwnerCount {
        in_progress: 1,
        overdue: 1,
        ..OwnerCount::default()
    };
    assert_eq!(
        counts.roles,
        vec![
            ("ma".to_string(), ma),
            ("physician".to_string(), physician.clone())
        ]
    );
    assert_eq!(
        counts.people,
        vec![
            ("dr-ng".to_string(), physician),
            ("ma-lund".to_string(), lund)
        ]
    );
    assert_eq!(counts.pending, 1);
    assert_eq!(counts.dead_letters, 1);
}

#[test]
fn due_before_lists_deadlines() {
    let fx = Fixture::new();
    fx.ingest_routed(vec![
        with_due(refill("rx-1", 1), 90),
        with_due(refill("rx-2", 1), 30),
        refill("rx-3", 1),
    ]);

    let due = fx.engine.due_before(SITE, T0.plus_minutes(60), 10).unwrap();

    let ids: Vec<&str> = due.iter().map(|i| i.source.external_id.as_str()).collect();
    assert_eq!(ids, vec!["rx-2"]);
}
