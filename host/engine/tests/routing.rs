//! Routing: owners, provider resolution, load, and dead letters.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::*;
use switchboard_engine::model::{Action, FailureKind};
use switchboard_engine::{ItemStatus, Reassignment, RouteOutcome, Router, RouterError};
use switchboard_sdk::{Assignment, Priority, ResultFlag, RouteContext, RouteItem, Site};

#[test]
fn routed_item_records_policy_and_rule() {
    let fx = Fixture::new();

    let ids = fx.ingest_routed(vec![result("lab-1", 1, ResultFlag::Abnormal)]);

    let item = fx.engine.item(SITE, ids[0]).unwrap();
    let owner = item.owner.clone().unwrap();
    assert_eq!(item.status, ItemStatus::Ready);
    assert_eq!(owner.role, "physician");
    assert_eq!(owner.person.as_deref(), Some("dr-ng"));
    assert_eq!(owner.rule, "abnormal-results");
    assert_eq!(owner.policy, Some(policy()));
    assert_eq!(owner.routed_at, T0);
    assert_eq!(item.history.last().unwrap().action, Action::Routed);
}

#[test]
fn providers_resolve_to_roster_ids() {
    let router = Arc::new(TableRouter::default());
    let fx = Fixture::with_router(router.clone());
    let mut item = result("lab-2", 1, ResultFlag::Abnormal);
    item.pcp = Some("Practitioner/okafor".into());
    item.rendering = Some("Practitioner/unknown".into());

    fx.ingest_routed(vec![item]);

    let seen = router.seen.lock().unwrap();
    assert_eq!(seen[0].ordering.as_deref(), Some("dr-ng"));
    assert_eq!(seen[0].pcp.as_deref(), Some("dr-okafor"));
    assert_eq!(seen[0].rendering, None);
}

#[test]
fn context_load_counts_open_items() {
    let router = Arc::new(TableRouter::default());
    let fx = Fixture::with_router(router.clone());
    fx.ingest_routed(vec![
        result("lab-3", 1, ResultFlag::Abnormal),
        result("lab-4", 1, ResultFlag::Critical),
    ]);

    fx.ingest_routed(vec![refill("rx-1", 1)]);

    let contexts = router.contexts.lock().unwrap();
    assert_eq!(contexts.len(), 2);
    assert!(contexts[0].load.is_empty());
    assert_eq!(contexts[1].load_of("dr-ng"), 2);
    assert_eq!(contexts[1].now, T0);
}

#[test]
fn route_error_becomes_dead_letter() {
    let fx = Fixture::new();
    let item = with_attribute(refill("rx-2", 1), "fail", "no-match");

    let ids = fx.ingest(vec![item]).pending;
    let report = fx.engine.route_pending(SITE).unwrap();

    let letters = fx.engine.dead_letters(Some(SITE)).unwrap();
    let stored = fx.engine.item(SITE, ids[0]).unwrap();
    assert_eq!(report.dead_lettered, 1);
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].item, ids[0]);
    assert_eq!(letters[0].failure.kind, FailureKind::NoMatch);
    assert_eq!(letters[0].failure.attempts, 1);
    assert_eq!(stored.status, ItemStatus::Received);
    assert!(
        fx.engine.pending(SITE, 10).unwrap().is_empty(),
        "dead letters wait for a retry"
    );
    assert_eq!(fx.engine.counts(SITE).unwrap().dead_letters, 1);
}

#[test]
fn unknown_role_or_person_is_dead_letter() {
    let fx = Fixture::new();
    let bad_role = with_attribute(refill("rx-3", 1), "role", "pharmacist");
    let bad_person = with_attribute(
        with_attribute(refill("rx-4", 1), "role", "ma"),
        "person",
        "rn-ito",
    );

    fx.ingest(vec![bad_role, bad_person]);
    fx.engine.route_pending(SITE).unwrap();

    let letters = fx.engine.dead_letters(Some(SITE)).unwrap();
    assert_eq!(letters.len(), 2);
    assert!(
        letters
            .iter()
            .all(|l| l.failure.kind == FailureKind::InvalidAssignment)
    );
    assert!(
        letters[0].failure.message.contains("\"pharmacist\""),
        "{}",
        letters[0].failure.message
    );
    assert!(
        letters[1]
            .failure
            .message
            .contains("which they do not hold"),
        "{}",
        letters[1].failure.message
    );
}

#[test]
fn whole_call_failure_keeps_every_item() {
    let router = Arc::new(FlakyRouter::default());
    router.broken.store(true, Ordering::SeqCst);
    let fx = Fixture::with_router(router.clone());

    fx.ingest(vec![
        refill("rx-5", 1),
        refill("rx-6", 1),
        refill("rx-7", 1),
    ]);
    let report = fx.engine.route_pending(SITE).unwrap();

    let letters = fx.engine.dead_letters(Some(SITE)).unwrap();
    assert_eq!(report.dead_lettered, 3);
    assert_eq!(
        report.failure.as_deref(),
        Some("policy trapped: unreachable executed")
    );
    assert_eq!(letters.len(), 3);
    assert!(
        letters
            .iter()
            .all(|l| l.failure.kind == FailureKind::PolicyFailed)
    );
}

#[test]
fn retry_after_fix_routes_dead_letters() {
    let router = Arc::new(FlakyRouter::default());
    router.broken.store(true, Ordering::SeqCst);
    let fx = Fixture::with_router(router.clone());
    let ids = fx
        .ingest(vec![refill("rx-8", 1), refill("rx-9", 1)])
        .pending;
    fx.engine.route_pending(SITE).unwrap();
    fx.engine
        .retry_dead_letters(SITE, Some(&ids[..1]), "admin")
        .unwrap();
    let still_broken = fx.engine.item(SITE, ids[0]).unwrap();

    router.broken.store(false, Ordering::SeqCst);
    let report = fx.engine.policy_changed(SITE).unwrap();

    let item = fx.engine.item(SITE, ids[0]).unwrap();
    let audit = fx.engine.audit(Some(SITE), 10).unwrap();
    assert_eq!(still_broken.failure.as_ref().unwrap().attempts, 2);
    assert_eq!(report.routed, 2);
    assert!(fx.engine.dead_letters(Some(SITE)).unwrap().is_empty());
    assert_eq!(item.status, ItemStatus::Ready);
    assert_eq!(item.failure, None);
    let retries = item
        .history
        .iter()
        .filter(|h| h.action == Action::Retried)
        .count();
    assert_eq!(retries, 2);
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].action, "dead-letter.retry");
}

#[test]
fn dead_letter_routed_by_hand() {
    let fx = Fixture::new();
    let ids = fx
        .ingest(vec![with_attribute(refill("rx-10", 1), "fail", "no-match")])
        .pending;
    fx.engine.route_pending(SITE).unwrap();
    let to = Reassignment {
        role: "ma".into(),
        person: None,
        reason: "refill rule missing".into(),
    };

    let item = fx.engine.reassign(SITE, ids[0], "dr-ng", &to).unwrap();

    assert_eq!(item.status, ItemStatus::Ready);
    assert!(fx.engine.dead_letters(Some(SITE)).unwrap().is_empty());
}

/// Returns one result too few.
struct ShortRouter;

impl Router for ShortRouter {
    fn route(
        &self,
        _: &Site,
        items: &[RouteItem],
        _: &RouteContext,
    ) -> Result<RouteOutcome, RouterError> {
        let one = Assignment {
            role: "ma".into(),
            person: None,
            priority: Priority::Routine,
            due: None,
            reason: "r".into(),
            rule: "r".into(),
        };
        Ok(RouteOutcome {
            policy: policy(),
            results: vec![Ok(one); items.len() - 1],
        })
    }
}

#[test]
fn wrong_result_count_is_whole_failure() {
    let fx = Fixture::with_router(Arc::new(ShortRouter));

    fx.ingest(vec![refill("rx-11", 1), refill("rx-12", 1)]);
    let report = fx.engine.route_pending(SITE).unwrap();

    assert_eq!(report.routed, 0);
    assert_eq!(report.dead_lettered, 2);
    assert!(
        report
            .failure
            .unwrap()
            .contains("returned 1 results for 2 items")
    );
}

#[test]
fn large_backlog_routes_in_batches() {
    let router = Arc::new(TableRouter::default());
    let fx = Fixture::with_router(router.clone());
    let items = (0..600).map(|i| refill(&format!("rx-{i}"), 1)).collect();

    fx.ingest(items);
    let report = fx.engine.route_pending(SITE).unwrap();

    assert_eq!(report.routed, 600);
    assert_eq!(router.calls.load(Ordering::SeqCst), 3);
    assert_eq!(fx.engine.counts(SITE).unwrap().pending, 0);
}

#[test]
fn backlog_beyond_deferral_limit() {
    // More pending items than the store keeps in memory, so the oldest are
    // written to the trees as pending before they are routed.
    let fx = Fixture::new();
    for chunk in 0..21 {
        let items = (0..1000)
            .map(|i| refill(&format!("rx-{chunk}-{i}"), 1))
            .collect();
        fx.ingest(items);
    }
    let before = fx.engine.counts(SITE).unwrap();

    let report = fx.engine.route_pending(SITE).unwrap();

    let after = fx.engine.counts(SITE).unwrap();
    assert_eq!(before.pending, 21_000);
    assert_eq!(report.routed, 21_000);
    assert_eq!(after.pending, 0);
    assert_eq!(after.roles[0].1.ready, 21_000);
    assert!(fx.engine.verify().unwrap().is_healthy());
}
