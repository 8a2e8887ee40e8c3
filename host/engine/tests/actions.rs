//! Item actions: the status machine, roles and ownership.

mod common;

use common::*;
use switchboard_engine::model::Action;
use switchboard_engine::{EngineError, ItemId, ItemStatus, Reassignment};
use switchboard_sdk::ResultFlag;

fn routed_refill(fx: &Fixture) -> ItemId {
    fx.ingest_routed(vec![refill("rx-1", 1)])[0]
}

#[test]
fn claim_start_complete() {
    let fx = Fixture::new();
    let id = routed_refill(&fx);

    let claimed = fx.engine.claim(SITE, id, "ma-lund").unwrap();
    let started = fx.engine.start(SITE, id, "ma-lund").unwrap();
    let completed = fx.engine.complete(SITE, id, "ma-lund").unwrap();

    assert_eq!(claimed.status, ItemStatus::Accepted);
    assert_eq!(claimed.person(), Some("ma-lund"));
    assert_eq!(started.status, ItemStatus::InProgress);
    assert_eq!(completed.status, ItemStatus::Completed);
    let actions: Vec<Action> = completed.history.iter().map(|h| h.action).collect();
    assert_eq!(
        actions,
        vec![
            Action::Received,
            Action::Routed,
            Action::Claimed,
            Action::Started,
            Action::Completed
        ]
    );
    assert_eq!(completed.history[4].actor, "ma-lund");
    assert_eq!(completed, fx.engine.item(SITE, id).unwrap());
}

#[test]
fn claim_of_completed_names_both_states() {
    let fx = Fixture::new();
    let id = routed_refill(&fx);
    fx.engine.complete(SITE, id, "ma-lund").unwrap();

    let error = fx.engine.claim(SITE, id, "ma-reyes").unwrap_err();

    assert!(matches!(
        error,
        EngineError::InvalidTransition { status: ItemStatus::Completed, ref expected, .. }
            if expected == &vec![ItemStatus::Ready]
    ));
    assert_eq!(
        error.to_string(),
        format!("cannot claim item {id}: it is completed, expected ready")
    );
}

#[test]
fn start_before_claim_is_rejected() {
    let fx = Fixture::new();
    let id = routed_refill(&fx);

    let error = fx.engine.start(SITE, id, "ma-lund").unwrap_err();

    assert_eq!(
        error.to_string(),
        format!("cannot start item {id}: it is ready, expected accepted")
    );
}

#[test]
fn hand_back_of_ready_lists_both_expected() {
    let fx = Fixture::new();
    let id = routed_refill(&fx);

    let error = fx.engine.hand_back(SITE, id, "ma-lund").unwrap_err();

    assert_eq!(
        error.to_string(),
        format!("cannot hand back item {id}: it is ready, expected accepted or in-progress")
    );
}

#[test]
fn claim_without_role_is_rejected() {
    let fx = Fixture::new();
    let id = routed_refill(&fx);

    let error = fx.engine.claim(SITE, id, "rn-ito").unwrap_err();

    assert!(matches!(
        error,
        EngineError::NotInRole { ref person, ref role, .. } if person == "rn-ito" && role == "ma"
    ));
    assert_eq!(fx.engine.item(SITE, id).unwrap().status, ItemStatus::Ready);
}

#[test]
fn claim_by_unknown_person_is_rejected() {
    let fx = Fixture::new();
    let id = routed_refill(&fx);

    let error = fx.engine.claim(SITE, id, "nobody").unwrap_err();

    assert!(matches!(error, EngineError::UnknownPerson { ref person, .. } if person == "nobody"));
}

#[test]
fn claim_of_item_suggested_to_other() {
    let fx = Fixture::new();
    let id = fx.ingest_routed(vec![result("lab-1", 1, ResultFlag::Abnormal)])[0];

    let error = fx.engine.claim(SITE, id, "dr-okafor").unwrap_err();
    let claimed = fx.engine.claim(SITE, id, "dr-ng").unwrap();

    assert!(matches!(error, EngineError::NotOwner { ref owner, .. } if owner == "dr-ng"));
    assert_eq!(claimed.status, ItemStatus::Accepted);
}

#[test]
fn hand_back_returns_to_pool() {
    let fx = Fixture::new();
    let id = routed_refill(&fx);
    fx.engine.claim(SITE, id, "ma-lund").unwrap();

    let stranger = fx.engine.hand_back(SITE, id, "ma-reyes").unwrap_err();
    let item = fx.engine.hand_back(SITE, id, "ma-lund").unwrap();

    assert!(matches!(stranger, EngineError::NotOwner { ref owner, .. } if owner == "ma-lund"));
    assert_eq!(item.status, ItemStatus::Ready);
    assert_eq!(item.person(), None);
    assert_eq!(item.role(), Some("ma"));
}

#[test]
fn reassign_moves_owner_with_reason() {
    let fx = Fixture::new();
    let id = routed_refill(&fx);
    fx.engine.claim(SITE, id, "ma-lund").unwrap();
    let to = Reassignment {
        role: "rn".into(),
        person: Some("rn-vega".into()),
        reason: "needs a dose check".into(),
    };

    let item = fx.engine.reassign(SITE, id, "dr-ng", &to).unwrap();

    let entry = item.history.last().unwrap();
    assert_eq!(item.status, ItemStatus::Ready);
    assert_eq!(item.role(), Some("rn"));
    assert_eq!(item.person(), Some("rn-vega"));
    assert_eq!(entry.action, Action::Reassigned);
    assert_eq!(entry.actor, "dr-ng");
    assert_eq!(
        entry.detail,
        "from ma / ma-lund to rn / rn-vega: needs a dose check"
    );
    assert_eq!(item.owner.as_ref().unwrap().policy, None);
}

#[test]
fn reassign_needs_reason_and_valid_owner() {
    let fx = Fixture::new();
    let id = routed_refill(&fx);
    let no_reason = Reassignment {
        role: "rn".into(),
        person: None,
        reason: " ".into(),
    };
    let wrong_role = Reassignment {
        role: "rn".into(),
        person: Some("ma-reyes".into()),
        reason: "x".into(),
    };
    let unknown_role = Reassignment {
        role: "pharmacist".into(),
        person: None,
        reason: "x".into(),
    };

    let errors = [
        fx.engine
            .reassign(SITE, id, "dr-ng", &no_reason)
            .unwrap_err(),
        fx.engine
            .reassign(SITE, id, "dr-ng", &wrong_role)
            .unwrap_err(),
        fx.engine
            .reassign(SITE, id, "dr-ng", &unknown_role)
            .unwrap_err(),
    ];

    assert!(matches!(errors[0], EngineError::InvalidRequest(_)));
    assert!(matches!(errors[1], EngineError::NotInRole { .. }));
    assert!(matches!(errors[2], EngineError::UnknownRole { .. }));
}

#[test]
fn complete_from_pool_sets_person() {
    let fx = Fixture::new();
    let id = routed_refill(&fx);

    let outsider = fx.engine.complete(SITE, id, "fd-park").unwrap_err();
    let item = fx.engine.complete(SITE, id, "ma-reyes").unwrap();

    assert!(matches!(outsider, EngineError::NotInRole { .. }));
    assert_eq!(item.status, ItemStatus::Completed);
    assert_eq!(item.person(), Some("ma-reyes"));
}

#[test]
fn complete_of_claimed_needs_owner() {
    let fx = Fixture::new();
    let id = routed_refill(&fx);
    fx.engine.claim(SITE, id, "ma-lund").unwrap();

    let error = fx.engine.complete(SITE, id, "ma-reyes").unwrap_err();

    assert!(matches!(error, EngineError::NotOwner { ref owner, .. } if owner == "ma-lund"));
}

#[test]
fn cancel_needs_reason_and_ends_item() {
    let fx = Fixture::new();
    let id = routed_refill(&fx);

    let no_reason = fx.engine.cancel(SITE, id, "dr-ng", "").unwrap_err();
    let item = fx
        .engine
        .cancel(SITE, id, "dr-ng", "duplicate request")
        .unwrap();
    let again = fx.engine.cancel(SITE, id, "dr-ng", "again").unwrap_err();

    assert!(matches!(no_reason, EngineError::InvalidRequest(_)));
    assert_eq!(item.status, ItemStatus::Cancelled);
    assert_eq!(item.history.last().unwrap().detail, "duplicate request");
    assert_eq!(
        again.to_string(),
        format!(
            "cannot cancel item {id}: it is cancelled, expected received, ready, accepted or in-progress"
        )
    );
}

#[test]
fn item_of_other_site_is_not_found() {
    let fx = Fixture::new();
    let id = routed_refill(&fx);
    let mut other = roster();
    other.id = "hillside".into();
    fx.engine.set_site(other);

    let error = fx.engine.claim("hillside", id, "ma-lund").unwrap_err();

    assert!(matches!(error, EngineError::ItemNotFound { .. }));
}

#[test]
fn concurrent_claims_have_one_winner() {
    let fx = Fixture::new();
    let id = routed_refill(&fx);

    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = ["ma-lund", "ma-reyes"]
            .into_iter()
            .map(|person| {
                let engine = fx.engine.clone();
                scope.spawn(move || engine.claim(SITE, id, person))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let winners = outcomes.iter().filter(|o| o.is_ok()).count();
    let item = fx.engine.item(SITE, id).unwrap();
    let claims = item
        .history
        .iter()
        .filter(|h| h.action == Action::Claimed)
        .count();
    assert_eq!(winners, 1);
    assert_eq!(claims, 1);
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Err(EngineError::InvalidTransition { .. })))
    );
}
