//! The critical-result fallback. Critical results whose routing failed, or
//! that sat unclaimed past their due time, go to the fallback owner
//! (dr-lee) once, with an alert. Claimed ones are left alone.

use std::sync::atomic::Ordering;

use switchboard_engine::ItemStatus;

use crate::fixture::{
    METRICS_TOKEN, Practice, Routing, WebhookReceiver, at, captured_logs, critical_result,
    has_body, with_attribute,
};

/// Monday 2026-03-09 10:00 local: the results arrive.
const ARRIVED: &str = "2026-03-09T15:00:00Z";
/// Their due time, 60 min later (the rules' `due_minutes`).
const DUE: &str = "2026-03-09T16:00:00Z";
/// One minute past it.
const PAST_DUE: &str = "2026-03-09T16:01:00Z";

fn alerts(bodies: &[serde_json::Value]) -> Vec<(u64, String)> {
    bodies
        .iter()
        .filter(|b| b["event"] == "critical-fallback")
        .map(|b| {
            (
                b["item"].as_u64().unwrap_or_default(),
                b["cause"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn metrics(base: &str) -> String {
    let mut response = ureq::get(&format!("{base}/metrics"))
        .header("Authorization", &format!("Bearer {METRICS_TOKEN}"))
        .call()
        .expect("/metrics answers");
    response.body_mut().read_to_string().expect("a text body")
}

#[test]
fn failed_routing_goes_to_fallback() {
    let hooks = WebhookReceiver::start();
    let site = "fallback-dead-letter";
    let practice = Practice::open(site, Routing::Table, Some(&hooks.url), at(ARRIVED));
    // No ordering clinician: the rule requires one, so routing fails.
    practice.ingest(vec![critical_result("lab-1", at(ARRIVED))], Vec::new());
    let first = practice.id_of("lab-1");
    let dead_before = practice.app.engine.dead_letters(Some(site)).unwrap();

    practice.tick_at(at(ARRIVED));
    let after_first = practice.item(first);
    practice.tick_at(at("2026-03-09T15:01:00Z"));
    practice.tick_at(at("2026-03-09T15:02:00Z"));
    let after_repeats = practice.item(first);
    practice.ingest(
        vec![critical_result("lab-2", at("2026-03-09T15:02:00Z"))],
        Vec::new(),
    );
    let second = practice.id_of("lab-2");
    practice.tick_at(at("2026-03-09T15:03:00Z"));

    assert_eq!(dead_before.len(), 1);
    assert_eq!(dead_before[0].item, first);
    assert_eq!(after_first.person(), Some("dr-lee"));
    assert_eq!(
        after_first.owner.as_ref().map(|o| o.role.as_str()),
        Some("physician")
    );
    assert_eq!(after_first.status, ItemStatus::Ready);
    assert!(after_first.failure.is_none());
    assert_eq!(
        after_repeats.history.len(),
        after_first.history.len(),
        "a repeated tick changed the item: {:?}",
        after_repeats.history
    );
    assert_eq!(practice.item(second).person(), Some("dr-lee"));
    assert!(
        practice
            .app
            .engine
            .dead_letters(Some(site))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        practice
            .app
            .stats
            .critical_fallbacks
            .load(Ordering::Relaxed),
        2
    );
    // One worker posts in queue order: a repeated alert for the first
    // result would arrive before the second result's alert.
    let bodies = hooks.wait_until("the second alert", |b| {
        has_body(b, "critical-fallback", second, "person", "dr-lee")
    });
    assert_eq!(
        alerts(&bodies),
        [
            (first.0, "routing-failed".to_string()),
            (second.0, "routing-failed".to_string())
        ]
    );
    let logs = captured_logs();
    let alert_lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("ALERT: critical result sent to the fallback owner"))
        .filter(|l| l.contains(site))
        .collect();
    assert_eq!(alert_lines.len(), 2, "{alert_lines:?}");
    assert!(alert_lines.iter().all(|l| l.contains("ERROR")));
    let (_runtime, base) = practice.serve_api();
    let exported = metrics(&base);
    assert!(
        exported
            .lines()
            .any(|l| l == "switchboard_critical_fallbacks_total 2"),
        "{exported}"
    );
}

#[test]
fn policy_trap_goes_to_fallback() {
    let site = "fallback-trap";
    let practice = Practice::open(site, Routing::Hostile, None, at(ARRIVED));
    let result = with_attribute(critical_result("lab-9", at(ARRIVED)), "hostile", "panic");
    practice.ingest(vec![result], Vec::new());
    let id = practice.id_of("lab-9");
    let dead_before = practice.app.engine.dead_letters(Some(site)).unwrap();

    practice.tick_at(at(ARRIVED));
    practice.tick_at(at("2026-03-09T15:01:00Z"));
    let after = practice.item(id);

    assert_eq!(dead_before.len(), 1);
    assert_eq!(after.person(), Some("dr-lee"));
    assert_eq!(after.status, ItemStatus::Ready);
    assert!(
        practice
            .app
            .engine
            .dead_letters(Some(site))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        practice
            .app
            .stats
            .critical_fallbacks
            .load(Ordering::Relaxed),
        1
    );
}

#[test]
fn unclaimed_pool_result_goes_to_fallback() {
    let hooks = WebhookReceiver::start();
    let practice = Practice::open(
        "fallback-unclaimed",
        Routing::Table,
        Some(&hooks.url),
        at(ARRIVED),
    );
    let result = with_attribute(critical_result("stat-1", at(ARRIVED)), "source", "stat-lab");
    practice.ingest(vec![result], Vec::new());
    let id = practice.id_of("stat-1");
    let routed = practice.item(id);

    practice.tick_at(at("2026-03-09T15:59:00Z"));
    practice.tick_at(at(DUE));
    let at_due = practice.item(id);
    practice.tick_at(at(PAST_DUE));
    let fallen_back = practice.item(id);
    // dr-lee claims it and hands it back to the pool: it stays there.
    practice
        .app
        .engine
        .claim("fallback-unclaimed", id, "dr-lee")
        .unwrap();
    practice
        .app
        .engine
        .hand_back("fallback-unclaimed", id, "dr-lee")
        .unwrap();
    practice.tick_at(at("2026-03-09T16:05:00Z"));
    let handed_back = practice.item(id);

    assert_eq!(routed.status, ItemStatus::Ready);
    assert_eq!(routed.person(), None);
    assert_eq!(
        routed.effective_due(),
        Some(at(DUE)),
        "due 60 min after routing"
    );
    assert_eq!(at_due.person(), None, "not yet past its due time");
    assert_eq!(fallen_back.person(), Some("dr-lee"));
    assert_eq!(
        fallen_back.owner.as_ref().map(|o| o.role.as_str()),
        Some("physician")
    );
    assert_eq!(handed_back.person(), None);
    assert_eq!(handed_back.status, ItemStatus::Ready);
    assert_eq!(
        practice
            .app
            .stats
            .critical_fallbacks
            .load(Ordering::Relaxed),
        1
    );
    let bodies = hooks.wait_until("the alert", |b| {
        has_body(b, "critical-fallback", id, "cause", "unclaimed")
    });
    let alert = bodies
        .iter()
        .find(|b| b["event"] == "critical-fallback")
        .expect("an alert body");
    assert_eq!(alert["person"], "dr-lee");
    assert_eq!(alert["role"], "physician");
    assert_eq!(
        alert["link"],
        format!("/console/sites/fallback-unclaimed/items/{}", id.0)
    );
}

#[test]
fn claimed_result_is_left_alone() {
    let practice = Practice::open("fallback-claimed", Routing::Table, None, at(ARRIVED));
    let result = with_attribute(critical_result("stat-2", at(ARRIVED)), "source", "stat-lab");
    practice.ingest(vec![result], Vec::new());
    let id = practice.id_of("stat-2");
    practice.clock.set(at("2026-03-09T15:30:00Z"));
    practice
        .app
        .engine
        .claim("fallback-claimed", id, "dr-patel")
        .unwrap();
    let claimed = practice.item(id);

    practice.tick_at(at(PAST_DUE));
    practice.tick_at(at("2026-03-09T18:00:00Z"));
    let after = practice.item(id);

    assert_eq!(after.person(), Some("dr-patel"));
    assert_eq!(after.status, ItemStatus::Accepted);
    assert_eq!(after.history.len(), claimed.history.len());
    assert_eq!(
        practice
            .app
            .stats
            .critical_fallbacks
            .load(Ordering::Relaxed),
        0
    );
}

#[test]
fn fallback_owners_own_result_alerts_once() {
    let practice = Practice::open("own-result", Routing::Table, None, at(ARRIVED));
    // Ordered by dr-lee, so routed to dr-lee, who never claims it.
    let mut result = critical_result("lab-3", at(ARRIVED));
    result.ordering = Some("Practitioner/lee".into());
    practice.ingest(vec![result], Vec::new());
    let id = practice.id_of("lab-3");
    let routed = practice.item(id);

    practice.tick_at(at(PAST_DUE));
    practice.tick_at(at("2026-03-09T16:02:00Z"));
    let after = practice.item(id);

    assert_eq!(routed.person(), Some("dr-lee"));
    assert_eq!(after.history.len(), routed.history.len(), "not reassigned");
    assert_eq!(
        practice
            .app
            .stats
            .critical_fallbacks
            .load(Ordering::Relaxed),
        1
    );
    let logs = captured_logs();
    let alert_lines = logs
        .lines()
        .filter(|l| l.contains("ALERT") && l.contains("own-result"))
        .count();
    assert_eq!(alert_lines, 1);
}
