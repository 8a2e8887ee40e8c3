//! Nudges and the critical-result fallback, end to end: an in-process host
//! on a manual clock with the real routing table and closure-nudge
//! components and a real store, driven by calling the scheduler's tick.
//! Webhook posts go to a receiver on loopback; every log line of the test
//! binary is captured and searched for patient data.
//!
//! The site is in America/Chicago, on daylight time (UTC-5) for every date
//! used here, open Monday to Friday 08:00-17:00 local. Expected times are
//! written out by hand from the offsets in `fixture.rs` (reminder 240 min
//! before the 24 h chart deadline, warning at it, escalation 1440 min after).

#[path = "nudges/critical.rs"]
mod critical;
#[path = "nudges/fixture.rs"]
mod fixture;

use std::sync::atomic::Ordering;

use fixture::{
    CHART_DEADLINE_HOURS, CHART_ESCALATION_MINUTES, CHART_REMINDER_MINUTES, CHART_WARNING_MINUTES,
    Practice, Routing, WebhookReceiver, at, captured_logs, has_body, signed, visit_note,
    with_attribute,
};
use serde_json::Value;
use switchboard_engine::ItemStatus;
use switchboard_sdk::Timestamp;

/// Monday 2026-03-09 13:00 local: a visit ends.
const VISIT_END: &str = "2026-03-09T18:00:00Z";
/// Its chart deadline, 24 h later: Tuesday 13:00 local.
const DEADLINE: &str = "2026-03-10T18:00:00Z";
/// Reminder, 240 min before the deadline: Tuesday 09:00 local.
const REMINDER_AT: &str = "2026-03-10T14:00:00Z";
/// Warning, at the deadline: Tuesday 13:00 local.
const WARNING_AT: &str = DEADLINE;
/// Escalation, 1440 min after the deadline: Wednesday 13:00 local.
const ESCALATION_AT: &str = "2026-03-11T18:00:00Z";

/// One expected nudge record: (level, role, person, time).
type Expected = (String, String, Option<String>, Timestamp);

fn nudge(level: &str, role: &str, person: &str, time: &str) -> Expected {
    (
        level.to_string(),
        role.to_string(),
        Some(person.to_string()),
        at(time),
    )
}

fn levels(bodies: &[Value], item: u64) -> Vec<String> {
    bodies
        .iter()
        .filter(|b| b["event"] == "nudge" && b["item"] == item)
        .map(|b| b["level"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn hand_computed_times_match_config() {
    let deadline = at(VISIT_END).plus_minutes(CHART_DEADLINE_HOURS * 60);

    assert_eq!(deadline, at(DEADLINE));
    assert_eq!(
        deadline.plus_minutes(CHART_REMINDER_MINUTES),
        at(REMINDER_AT)
    );
    assert_eq!(deadline.plus_minutes(CHART_WARNING_MINUTES), at(WARNING_AT));
    assert_eq!(
        deadline.plus_minutes(CHART_ESCALATION_MINUTES),
        at(ESCALATION_AT)
    );
}

#[test]
fn each_level_recorded_once() {
    let hooks = WebhookReceiver::start();
    let practice = Practice::open("once-each", Routing::Table, Some(&hooks.url), at(VISIT_END));
    let (note, opened) = visit_note("e-100", "Practitioner/patel", at(VISIT_END));
    practice.ingest(vec![note], vec![opened]);
    let id = practice.id_of("Encounter/e-100");

    practice.tick_at(at(VISIT_END));
    practice.tick_at(at("2026-03-10T13:59:00Z"));
    let before_reminder = practice.nudges(id);
    practice.tick_at(at(REMINDER_AT));
    practice.tick_at(at(REMINDER_AT));
    let after_reminder = practice.nudges(id);
    practice.tick_at(at("2026-03-10T17:59:00Z"));
    practice.tick_at(at(WARNING_AT));
    practice.tick_at(at(WARNING_AT));
    practice.tick_at(at("2026-03-11T17:59:00Z"));
    let before_escalation = practice.nudges(id);
    practice.tick_at(at(ESCALATION_AT));
    practice.tick_at(at(ESCALATION_AT));
    practice.tick_at(at("2026-03-12T18:00:00Z"));
    let all = practice.nudges(id);

    assert_eq!(practice.item(id).person(), Some("dr-patel"));
    assert!(before_reminder.is_empty(), "{before_reminder:?}");
    let reminder = nudge("reminder", "physician", "dr-patel", REMINDER_AT);
    let warning = nudge("warning", "physician", "dr-patel", WARNING_AT);
    // dr-lee is the medical director other than the owner.
    let escalation = nudge("escalation", "medical-director", "dr-lee", ESCALATION_AT);
    assert_eq!(after_reminder, vec![reminder.clone()]);
    assert_eq!(before_escalation, vec![reminder.clone(), warning.clone()]);
    assert_eq!(all, vec![reminder, warning, escalation]);
    assert_eq!(practice.app.stats.nudges.load(Ordering::Relaxed), 3);
    // One worker posts in queue order, so a repeated post would arrive
    // before the escalation.
    let bodies = hooks.wait_until("the escalation", |b| {
        has_body(b, "nudge", id, "level", "escalation")
    });
    assert_eq!(levels(&bodies, id.0), ["reminder", "warning", "escalation"]);
}

#[test]
fn after_hours_nudge_waits_for_morning() {
    // Monday 19:00 local: an evening visit ends. Deadline Tuesday 19:00
    // local (2026-03-11T00:00Z). The reminder (Tuesday 15:00 local) falls
    // inside hours; the warning (Tuesday 19:00) and the escalation
    // (Wednesday 19:00) fall after them.
    let ended = at("2026-03-10T00:00:00Z");
    let practice = Practice::open("after-hours", Routing::Table, None, ended);
    let (note, opened) = visit_note("e-110", "Practitioner/patel", ended);
    practice.ingest(vec![note], vec![opened]);
    let id = practice.id_of("Encounter/e-110");
    let reminder = nudge("reminder", "physician", "dr-patel", "2026-03-10T20:00:00Z");
    let warning = nudge("warning", "physician", "dr-patel", "2026-03-11T13:00:00Z");
    let escalation = nudge(
        "escalation",
        "medical-director",
        "dr-lee",
        "2026-03-12T13:00:00Z",
    );

    practice.tick_at(at("2026-03-10T20:00:00Z"));
    let at_reminder = practice.nudges(id);
    // Warning due: Tuesday 19:00, 23:00 and Wednesday 07:59 local.
    for night in [
        "2026-03-11T00:00:00Z",
        "2026-03-11T04:00:00Z",
        "2026-03-11T12:59:00Z",
    ] {
        practice.tick_at(at(night));
    }
    let overnight = practice.nudges(id);
    // Wednesday 08:00 local.
    practice.tick_at(at("2026-03-11T13:00:00Z"));
    let next_morning = practice.nudges(id);
    // Escalation due: Wednesday 19:00 and Thursday 01:00 and 07:59 local.
    for night in [
        "2026-03-12T00:00:00Z",
        "2026-03-12T06:00:00Z",
        "2026-03-12T12:59:00Z",
    ] {
        practice.tick_at(at(night));
    }
    let second_night = practice.nudges(id);
    // Thursday 08:00 local.
    practice.tick_at(at("2026-03-12T13:00:00Z"));
    let all = practice.nudges(id);

    assert_eq!(at_reminder, vec![reminder.clone()]);
    assert_eq!(overnight, vec![reminder.clone()]);
    assert_eq!(next_morning, vec![reminder.clone(), warning.clone()]);
    assert_eq!(second_night, vec![reminder.clone(), warning.clone()]);
    assert_eq!(all, vec![reminder, warning, escalation]);
}

#[test]
fn signed_chart_gets_no_nudge() {
    let practice = Practice::open("signed-chart", Routing::Table, None, at(VISIT_END));
    let (signed_note, signed_opened) = visit_note("e-120", "Practitioner/patel", at(VISIT_END));
    let (open_note, open_opened) = visit_note("e-121", "Practitioner/patel", at(VISIT_END));
    practice.ingest(
        vec![signed_note.clone(), open_note],
        vec![signed_opened, open_opened],
    );
    let signed_id = practice.id_of("Encounter/e-120");
    let open_id = practice.id_of("Encounter/e-121");

    // Signed one minute before the reminder is due.
    let signed_at = at("2026-03-10T13:59:00Z");
    practice.clock.set(signed_at);
    let (done, signed_event) = signed(&signed_note, at(VISIT_END), signed_at);
    practice.ingest(vec![done], vec![signed_event]);
    practice.tick_at(at(REMINDER_AT));
    practice.tick_at(at(WARNING_AT));
    practice.tick_at(at(ESCALATION_AT));

    assert_eq!(practice.item(signed_id).status, ItemStatus::Completed);
    assert!(practice.nudges(signed_id).is_empty());
    let open_levels: Vec<String> = practice.nudges(open_id).into_iter().map(|n| n.0).collect();
    assert_eq!(open_levels, ["reminder", "warning", "escalation"]);
}

#[test]
fn escalation_reaches_every_director() {
    let hooks = WebhookReceiver::start();
    let practice = Practice::open(
        "two-directors",
        Routing::Table,
        Some(&hooks.url),
        at(VISIT_END),
    );
    // dr-ortiz owns the chart and is not a medical director, so both
    // directors, dr-lee and dr-patel, are escalated to.
    let (note, opened) = visit_note("e-130", "Practitioner/ortiz", at(VISIT_END));
    practice.ingest(vec![note], vec![opened]);
    let id = practice.id_of("Encounter/e-130");

    // Straight to the escalation: only the highest level due is sent.
    practice.tick_at(at(ESCALATION_AT));
    practice.tick_at(at(ESCALATION_AT));
    practice.tick_at(at("2026-03-12T18:00:00Z"));

    assert_eq!(practice.item(id).person(), Some("dr-ortiz"));
    assert_eq!(
        practice.nudges(id),
        vec![
            nudge("escalation", "medical-director", "dr-lee", ESCALATION_AT),
            nudge("escalation", "medical-director", "dr-patel", ESCALATION_AT),
        ]
    );
    assert_eq!(practice.app.stats.nudges.load(Ordering::Relaxed), 2);
    let bodies = hooks.wait_until("both escalations", |b| {
        has_body(b, "nudge", id, "person", "dr-lee")
            && has_body(b, "nudge", id, "person", "dr-patel")
    });
    assert_eq!(bodies.len(), 2, "{bodies:?}");
}

/// Patient details a careless connector put in a visit note's fields.
const PATIENT_NAME: &str = "Harriet Quimby";
const BIRTH_DATE: &str = "1961-07-14";
const MRN: &str = "MRN-80417";
const NOTE_TEXT: &str = "chest pain radiating to the left arm since Tuesday";

#[test]
fn webhook_and_logs_carry_no_patient_data() {
    let hooks = WebhookReceiver::start();
    let site = "no-patient-data";
    let practice = Practice::open(site, Routing::Table, Some(&hooks.url), at(VISIT_END));
    let (mut note, opened) = visit_note("e-140", "Practitioner/patel", at(VISIT_END));
    note.title = format!("Visit note for {PATIENT_NAME} (born {BIRTH_DATE})");
    note.patient = Some(format!("Patient/{MRN}"));
    let note = with_attribute(note, "patient_name", PATIENT_NAME);
    let note = with_attribute(note, "birth_date", BIRTH_DATE);
    let note = with_attribute(note, "mrn", MRN);
    let note = with_attribute(note, "note", NOTE_TEXT);
    let opened = match opened {
        switchboard_sdk::Event::Chart(mut chart) => {
            chart.patient = Some(format!("Patient/{MRN}"));
            switchboard_sdk::Event::Chart(chart)
        }
        other => other,
    };
    practice.ingest(vec![note], vec![opened]);
    let id = practice.id_of("Encounter/e-140");

    for time in [REMINDER_AT, WARNING_AT, ESCALATION_AT] {
        practice.tick_at(at(time));
    }
    let bodies = hooks.wait_until("three nudges", |b| levels(b, id.0).len() == 3);
    let logs = captured_logs();

    assert_eq!(bodies.len(), 3, "{bodies:?}");
    for body in &bodies {
        let mut keys: Vec<&str> = body
            .as_object()
            .expect("a JSON object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["event", "item", "level", "link", "person", "role", "site"]
        );
        assert_eq!(body["site"], site);
        assert_eq!(body["item"], id.0);
        assert_eq!(
            body["link"],
            format!("/console/sites/{site}/items/{}", id.0)
        );
    }
    let posted = serde_json::to_string(&bodies).expect("bodies serialize");
    let nudge_lines = logs
        .lines()
        .filter(|line| line.contains("nudge sent") && line.contains(site))
        .count();
    assert_eq!(nudge_lines, 3, "the nudges of this run are in the log");
    for secret in [PATIENT_NAME, BIRTH_DATE, MRN, NOTE_TEXT] {
        assert!(!posted.contains(secret), "{secret:?} in a webhook body");
        assert!(!logs.contains(secret), "{secret:?} in the log");
    }
}
