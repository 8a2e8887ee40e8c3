//! Ingest: identity, versions, closing, backfill, events and cursors.

mod common;

use common::*;
use switchboard_engine::model::{Action, EHR_ACTOR};
use switchboard_engine::{IngestMode, IngestOptions, ItemStatus, Store};
use switchboard_sdk::{Batch, ChartChange, ChartEvent, EhrState, Event, Reject, ResultFlag};

#[test]
fn redelivery_changes_nothing() {
    let fx = Fixture::new();
    let first = fx.ingest(vec![refill("rx-1", 3)]);
    fx.engine.route_pending(SITE).unwrap();
    let before = fx.engine.item(SITE, first.pending[0]).unwrap();

    let again = fx.ingest(vec![refill("rx-1", 3)]);

    assert_eq!(first.new, 1);
    assert_eq!(again.new, 0);
    assert_eq!(again.duplicate, 1);
    assert!(again.pending.is_empty());
    assert_eq!(fx.engine.item(SITE, first.pending[0]).unwrap(), before);
    assert_eq!(stored_items(fx.store.as_ref()), 1);
}

#[test]
fn older_version_is_stale() {
    let fx = Fixture::new();
    let ids = fx.ingest_routed(vec![refill("rx-1", 5)]);

    let mut older = refill("rx-1", 4);
    older.title = "metformin 500 mg".into();
    let report = fx.ingest(vec![older]);

    let item = fx.engine.item(SITE, ids[0]).unwrap();
    assert_eq!(report.stale, 1);
    assert_eq!(item.source.version, 5);
    assert_eq!(item.title, "lisinopril 10 mg");
}

#[test]
fn out_of_order_versions_keep_newest() {
    let fx = Fixture::new();
    let mut v2 = refill("rx-9", 2);
    v2.title = "second".into();
    let mut v3 = refill("rx-9", 3);
    v3.title = "third".into();
    let mut v1 = refill("rx-9", 1);
    v1.title = "first".into();

    let report = fx.ingest(vec![v2, v3, v1]);

    let id = report.pending[0];
    let item = fx.engine.item(SITE, id).unwrap();
    assert_eq!(report.new, 1);
    assert_eq!(report.updated, 1);
    assert_eq!(report.stale, 1);
    assert_eq!(item.source.version, 3);
    assert_eq!(item.title, "third");
}

#[test]
fn newer_version_keeps_claim() {
    let fx = Fixture::new();
    let ids = fx.ingest_routed(vec![result("lab-1", 1, ResultFlag::Normal)]);
    fx.engine.claim(SITE, ids[0], "rn-ito").unwrap();

    let mut v2 = result("lab-1", 2, ResultFlag::Normal);
    v2.title = "basic metabolic panel (corrected units)".into();
    let report = fx.ingest(vec![v2]);

    let item = fx.engine.item(SITE, ids[0]).unwrap();
    assert_eq!(report.updated, 1);
    assert_eq!(report.rerouted, 0);
    assert_eq!(item.status, ItemStatus::Accepted);
    assert_eq!(item.person(), Some("rn-ito"));
    assert_eq!(item.history.last().unwrap().action, Action::Updated);
}

#[test]
fn flag_change_after_claim_reroutes() {
    let fx = Fixture::new();
    let ids = fx.ingest_routed(vec![result("lab-2", 1, ResultFlag::Normal)]);
    fx.engine.claim(SITE, ids[0], "rn-vega").unwrap();

    let report = fx.ingest(vec![result("lab-2", 2, ResultFlag::Critical)]);
    let pending_after_ingest = fx.engine.item(SITE, ids[0]).unwrap();
    fx.engine.route_pending(SITE).unwrap();

    let item = fx.engine.item(SITE, ids[0]).unwrap();
    let reroute = item
        .history
        .iter()
        .find(|h| h.action == Action::Rerouted)
        .expect("a reroute entry");
    assert_eq!(report.rerouted, 1);
    assert_eq!(pending_after_ingest.status, ItemStatus::Received);
    assert_eq!(reroute.actor, EHR_ACTOR);
    assert!(
        reroute
            .detail
            .contains("result flag changed from normal to critical"),
        "{}",
        reroute.detail
    );
    assert!(
        reroute.detail.contains("rn / rn-vega"),
        "{}",
        reroute.detail
    );
    assert_eq!(item.status, ItemStatus::Ready);
    assert_eq!(item.role(), Some("physician"));
    assert_eq!(item.person(), Some("dr-ng"));
}

#[test]
fn done_version_closes_item() {
    let fx = Fixture::new();
    let ids = fx.ingest_routed(vec![refill("rx-2", 1), refill("rx-3", 1)]);

    let mut sent = refill("rx-2", 2);
    sent.state = EhrState::Done;
    let mut withdrawn = refill("rx-3", 2);
    withdrawn.state = EhrState::Cancelled;
    let report = fx.ingest(vec![sent, withdrawn]);

    let done = fx.engine.item(SITE, ids[0]).unwrap();
    let cancelled = fx.engine.item(SITE, ids[1]).unwrap();
    assert_eq!(report.closed, 2);
    assert_eq!(done.status, ItemStatus::Completed);
    assert_eq!(done.history.last().unwrap().actor, EHR_ACTOR);
    assert_eq!(done.closed_at, Some(T0));
    assert_eq!(cancelled.status, ItemStatus::Cancelled);
    assert_eq!(fx.engine.counts(SITE).unwrap().roles, vec![]);
}

#[test]
fn reopened_after_ehr_close() {
    let fx = Fixture::new();
    let ids = fx.ingest_routed(vec![result("lab-3", 1, ResultFlag::Normal)]);
    let mut acknowledged = result("lab-3", 2, ResultFlag::Normal);
    acknowledged.state = EhrState::Done;
    fx.ingest(vec![acknowledged]);

    let report = fx.ingest(vec![result("lab-3", 3, ResultFlag::Abnormal)]);

    let item = fx.engine.item(SITE, ids[0]).unwrap();
    assert_eq!(report.reopened, 1);
    assert_eq!(item.status, ItemStatus::Received);
    assert_eq!(report.pending, vec![ids[0]]);
}

#[test]
fn staff_closed_item_stays_closed() {
    let fx = Fixture::new();
    let ids = fx.ingest_routed(vec![refill("rx-4", 1)]);
    fx.engine.complete(SITE, ids[0], "ma-lund").unwrap();

    let report = fx.ingest(vec![refill("rx-4", 2)]);

    let item = fx.engine.item(SITE, ids[0]).unwrap();
    assert_eq!(report.updated, 1);
    assert_eq!(item.status, ItemStatus::Completed);
    assert_eq!(item.source.version, 2);
}

#[test]
fn already_done_item_is_stored_closed() {
    let fx = Fixture::new();
    let mut signed = refill("rx-5", 1);
    signed.state = EhrState::Done;

    let report = fx.ingest(vec![signed]);

    let (id, _) = fx
        .store
        .find_source(SITE, CONNECTOR, "rx-5")
        .unwrap()
        .unwrap();
    assert_eq!(report.new, 1);
    assert!(report.pending.is_empty());
    assert_eq!(
        fx.engine.item(SITE, id).unwrap().status,
        ItemStatus::Completed
    );
}

#[test]
fn backfill_is_stored_not_routed() {
    let fx = Fixture::new();
    let batch = Batch {
        items: vec![refill("old-1", 1)],
        ..Batch::default()
    };
    let options = IngestOptions {
        mode: IngestMode::Backfill,
        cursor: None,
    };

    let report = fx.engine.ingest(SITE, CONNECTOR, batch, options).unwrap();
    let routing = fx.engine.route_pending(SITE).unwrap();

    let (id, _) = fx
        .store
        .find_source(SITE, CONNECTOR, "old-1")
        .unwrap()
        .unwrap();
    let item = fx.engine.item(SITE, id).unwrap();
    assert_eq!(report.new, 1);
    assert!(report.pending.is_empty());
    assert_eq!(routing.routed, 0);
    assert!(item.backfill);
    assert_eq!(item.status, ItemStatus::Received);
}

#[test]
fn live_version_of_backfill_routes() {
    let fx = Fixture::new();
    let batch = Batch {
        items: vec![refill("old-2", 1)],
        ..Batch::default()
    };
    let backfill = IngestOptions {
        mode: IngestMode::Backfill,
        cursor: None,
    };
    fx.engine.ingest(SITE, CONNECTOR, batch, backfill).unwrap();

    let report = fx.ingest(vec![refill("old-2", 2)]);
    fx.engine.route_pending(SITE).unwrap();

    let item = fx.engine.item(SITE, report.pending[0]).unwrap();
    assert!(!item.backfill);
    assert_eq!(item.status, ItemStatus::Ready);
}

#[test]
fn same_id_from_two_connectors_is_two_items() {
    let fx = Fixture::new();
    let batch = Batch {
        items: vec![refill("rx-1", 1)],
        ..Batch::default()
    };

    let first = fx.ingest(vec![refill("rx-1", 1)]);
    let second = fx
        .engine
        .ingest(SITE, "hl7-feed", batch, IngestOptions::default())
        .unwrap();

    assert_eq!(first.new, 1);
    assert_eq!(second.new, 1);
    assert_ne!(first.pending, second.pending);
}

#[test]
fn invalid_items_are_rejected() {
    let fx = Fixture::new();
    let connector_reject = Reject {
        location: "line 4".into(),
        field: "OBX-8".into(),
        message: "unknown flag".into(),
    };
    let mut long_title = refill("rx-6", 1);
    long_title.title = "x".repeat(600);
    let batch = Batch {
        items: vec![refill("", 1), long_title, refill("rx-7", 1)],
        rejects: vec![connector_reject.clone()],
        ..Batch::default()
    };

    let report = fx
        .engine
        .ingest(SITE, CONNECTOR, batch, IngestOptions::default())
        .unwrap();

    assert_eq!(report.new, 1);
    assert_eq!(report.rejects.len(), 3);
    assert_eq!(report.rejects[0], connector_reject);
    assert_eq!(report.rejects[1].location, "items[0]");
    assert_eq!(report.rejects[1].field, "external_id");
    assert_eq!(report.rejects[2].field, "title");
}

#[test]
fn unknown_site_is_an_error() {
    let fx = Fixture::new();

    let error = fx
        .engine
        .ingest(
            "nowhere",
            CONNECTOR,
            Batch::default(),
            IngestOptions::default(),
        )
        .unwrap_err();

    assert!(
        matches!(error, switchboard_engine::EngineError::UnknownSite { ref site } if site == "nowhere")
    );
}

#[test]
fn events_and_cursor_are_stored() {
    let fx = Fixture::new();
    let chart = ChartEvent {
        encounter: "Encounter/77".into(),
        patient: None,
        clinician: Some("Practitioner/ng".into()),
        change: ChartChange::Signed,
        visit_ended: T0,
        at: T0.plus_minutes(90),
    };
    let batch = Batch {
        events: vec![Event::Chart(chart.clone()), Event::Chart(chart.clone())],
        ..Batch::default()
    };
    let options = IngestOptions {
        mode: IngestMode::Live,
        cursor: Some("page-7".into()),
    };

    let report = fx.engine.ingest(SITE, CONNECTOR, batch, options).unwrap();

    let events = fx.engine.events(SITE).unwrap();
    assert_eq!(report.events, 2);
    assert_eq!(events.len(), 1, "a redelivered event replaces its copy");
    assert_eq!(events[0].event, Event::Chart(chart));
    let json = serde_json::to_string(&events[0]).unwrap();
    assert!(json.contains("\"event\":\"chart\""), "{json}");
    assert_eq!(
        serde_json::from_str::<switchboard_engine::model::StoredEvent>(&json).unwrap(),
        events[0]
    );
    assert_eq!(
        fx.engine.cursor(SITE, CONNECTOR).unwrap().as_deref(),
        Some("page-7")
    );
}

#[test]
fn item_json_uses_rfc3339_times() {
    let fx = Fixture::new();
    let ids = fx.ingest_routed(vec![with_due(refill("rx-1", 1), 30)]);
    let item = fx.engine.item(SITE, ids[0]).unwrap();

    let json = serde_json::to_string(&item).unwrap();
    let back: switchboard_engine::Item = serde_json::from_str(&json).unwrap();

    assert!(
        json.contains("\"created\":\"2026-03-09T15:00:00Z\""),
        "{json}"
    );
    assert!(json.contains("\"due\":\"2026-03-09T15:30:00Z\""), "{json}");
    assert!(json.contains("\"status\":\"ready\""), "{json}");
    assert_eq!(back, item);
}
