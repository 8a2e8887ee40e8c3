//! Scheduling (SIU) and visits (ADT).

use switchboard_sdk::{Appointment, ChartChange, ChartEvent, Event, RosterHint};

use super::{accept, accept_with, at};

fn appointment(events: &[Event]) -> &Appointment {
    match events {
        [Event::Appointment(appointment)] => appointment,
        _ => panic!("expected one appointment: {events:?}"),
    }
}

fn chart(events: &[Event]) -> &ChartEvent {
    match events {
        [Event::Chart(chart)] => chart,
        _ => panic!("expected one chart event: {events:?}"),
    }
}

fn hint(ehr_id: &str, name: &str, role: &str) -> RosterHint {
    RosterHint {
        ehr_id: ehr_id.to_string(),
        name: Some(name.to_string()),
        role_code: Some(role.to_string()),
    }
}

#[test]
fn new_appointment_maps_schedule() {
    let batch = accept("siu_s12_new.hl7");

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    assert!(batch.items.is_empty());
    let appointment = appointment(&batch.events);
    assert_eq!(appointment.external_id, "NORTHSIDE|APT6001");
    assert_eq!(appointment.patient, "NORTHSIDE|MRN1001");
    assert_eq!(appointment.clinician.as_deref(), Some("1234567893"));
    // TQ1-7 20260312091500 is after the switch to CDT (UTC-5) on 8 March.
    assert_eq!(appointment.start, at("2026-03-12T14:15:00Z"));
    assert_eq!(appointment.kind, "AWV");
}

#[test]
fn appointment_kind_fields_are_configurable() {
    let batch = accept_with(
        "siu_s12_new.hl7",
        "appointment_kind = [\"SCH-8\", \"SCH-7\"]\n",
    );

    assert_eq!(appointment(&batch.events).kind, "ROUTINE");
}

#[test]
fn appointment_cancel_is_rejected_unless_ignored() {
    let rejected = accept("siu_s15_cancel.hl7");
    let ignored = accept_with("siu_s15_cancel.hl7", "ignore = [\"SIU^S15\"]\n");

    assert_eq!(rejected.rejects.len(), 1);
    assert_eq!(rejected.rejects[0].field, "MSH-9");
    assert!(ignored.rejects.is_empty());
    assert!(ignored.events.is_empty());
}

#[test]
fn discharge_opens_chart() {
    let batch = accept("adt_a03_discharge.hl7");

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    assert!(batch.items.is_empty());
    let chart = chart(&batch.events);
    assert_eq!(chart.change, ChartChange::Opened);
    assert_eq!(chart.encounter, "NORTHSIDE|V2001");
    assert_eq!(chart.patient.as_deref(), Some("NORTHSIDE|MRN1001"));
    assert_eq!(chart.clinician.as_deref(), Some("1234567893"));
    // PV1-45 20260105094500 CST.
    assert_eq!(chart.visit_ended, at("2026-01-05T15:45:00Z"));
    assert_eq!(chart.at, at("2026-01-05T15:45:00Z"));
    assert_eq!(batch.roster, [hint("1234567893", "LEE, ANA", "AT")]);
}

#[test]
fn registration_gives_roster_hints_only() {
    let batch = accept("adt_a04_registration.hl7");

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    assert!(batch.events.is_empty());
    assert!(batch.items.is_empty());
    // The ROL PP person repeats PD1-4, so it is listed once.
    assert_eq!(
        batch.roster,
        [
            hint("1234567893", "LEE, ANA", "AT"),
            hint("5550002", "REFERRER, TEST", "RP"),
            hint("1234567893", "LEE, ANA", "PP")
        ]
    );
}

#[test]
fn update_gives_roster_hints_only() {
    let batch = accept("adt_a08_update.hl7");

    assert!(batch.events.is_empty());
    assert_eq!(batch.roster, [hint("1234567893", "LEE, ANA", "AT")]);
}

#[test]
fn discharge_without_visit_number_is_rejected() {
    let batch = accept("adt_a03_no_visit.hl7");

    assert!(batch.events.is_empty());
    assert_eq!(batch.rejects.len(), 1);
    assert_eq!(batch.rejects[0].field, "PV1-19");
    assert_eq!(
        batch.rejects[0].location,
        "message 1 (line 1, MSH-10 \"ADT0004\"), segment 3"
    );
}

#[test]
fn utc_setting_applies_to_visits() {
    let batch = accept_with("adt_a03_discharge.hl7", "local_times = \"utc\"\n");

    assert_eq!(chart(&batch.events).visit_ended, at("2026-01-05T09:45:00Z"));
}
