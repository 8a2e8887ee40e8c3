//! Orders (ORM, OML), pharmacy (RDE, RDS) and referrals (REF).

use switchboard_sdk::testing::logs;
use switchboard_sdk::{Batch, Category, EhrState, Priority, ResultFlag};

use super::{accept, accept_with, at, fixture, harness, only_item, timed_version};

#[test]
fn referral_order_becomes_referral() {
    let batch = accept("orm_o01_referral.hl7");

    let referral = only_item(&batch);
    assert_eq!(referral.external_id, "referral/NORTHSIDE|ORD7001");
    assert_eq!(referral.category, Category::Referral);
    assert_eq!(referral.flag, ResultFlag::None);
    assert_eq!(referral.state, EhrState::Open);
    assert_eq!(referral.title, "Referral to cardiology");
    // TQ1-9 A, between the ORC and the OBR.
    assert_eq!(referral.priority, Priority::Asap);
    assert_eq!(referral.ordering.as_deref(), Some("1234567893"));
    assert_eq!(referral.pcp.as_deref(), Some("1234567893"));
    // ORC-9 20260115085500-0600.
    assert_eq!(referral.created, at("2026-01-15T14:55:00Z"));
    assert_eq!(referral.version, timed_version("2026-01-15T15:00:00Z", 1));
    assert_eq!(referral.attribute("order_control"), Some("NW"));
}

#[test]
fn cancelled_referral_order_is_newer() {
    let placed = accept("orm_o01_referral.hl7");
    let cancelled = accept("oml_o21_referral_cancel.hl7");

    let item = only_item(&cancelled);
    assert_eq!(item.external_id, "referral/NORTHSIDE|ORD7001");
    assert_eq!(item.state, EhrState::Cancelled);
    assert!(item.version > only_item(&placed).version);
}

#[test]
fn lab_order_is_ignored_and_logged() {
    let mut harness = harness("");

    let batch = harness
        .accept(&fixture("orm_o01_lab.hl7"), "application/hl7-v2")
        .unwrap();

    assert_eq!(batch, Batch::default());
    let lines = logs();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].message, "message ignored");
    assert!(
        lines[0]
            .fields
            .contains(&("control_id".to_string(), "ORM0003".to_string())),
        "{:?}",
        lines[0]
    );
}

#[test]
fn referral_codes_are_configurable() {
    let batch = accept_with("orm_o01_lab.hl7", "referral_order_codes = [\"85025\"]\n");

    assert_eq!(only_item(&batch).external_id, "referral/NORTHSIDE|ORD7003");
}

#[test]
fn refill_request_carries_refill_context() {
    let batch = accept("rde_o11_refill.hl7");

    let refill = only_item(&batch);
    assert_eq!(refill.external_id, "refill/NORTHSIDE|RX8001");
    assert_eq!(refill.category, Category::Refill);
    assert_eq!(refill.state, EhrState::Open);
    assert_eq!(refill.title, "Hydrochlorothiazide 25 MG Oral Tablet");
    assert_eq!(refill.ordering.as_deref(), Some("1234567893"));
    assert_eq!(refill.pcp.as_deref(), Some("1234567893"));
    assert_eq!(refill.priority, Priority::Routine);
    assert_eq!(refill.created, at("2026-01-05T14:50:00Z"));
    assert_eq!(refill.version, timed_version("2026-01-05T15:00:00Z", 1));
    assert_eq!(refill.attribute("medication_code"), Some("310798"));
    assert_eq!(refill.attribute("refills_allowed"), Some("3"));
    assert_eq!(refill.attribute("refills_remaining"), Some("0"));
    assert_eq!(refill.attribute("refills_dispensed"), Some("3"));
    assert_eq!(refill.attribute("order_control"), Some("RF"));
}

#[test]
fn dispense_closes_refill() {
    let request = accept("rde_o11_refill.hl7");
    let dispense = accept("rds_o13_dispense.hl7");

    let done = only_item(&dispense);
    assert_eq!(done.external_id, "refill/NORTHSIDE|RX8001");
    assert_eq!(done.state, EhrState::Done);
    // RXD-3 20260106120000-0600.
    assert_eq!(done.created, at("2026-01-06T18:00:00Z"));
    assert_eq!(done.version, timed_version("2026-01-06T18:15:00Z", 2));
    assert!(done.version > only_item(&request).version);
    assert_eq!(done.attribute("dispensed_amount"), Some("90"));
}

#[test]
fn order_without_rxe_is_rejected() {
    let batch = accept("rde_o11_no_rxe.hl7");

    assert!(batch.items.is_empty());
    assert_eq!(batch.rejects.len(), 1);
    assert_eq!(batch.rejects[0].field, "RXE");
    assert_eq!(
        batch.rejects[0].location,
        "message 1 (line 1, MSH-10 \"RDE0002\"), segment 3"
    );
}

#[test]
fn referral_message_maps_rf1() {
    let batch = accept("ref_i12_referral.hl7");

    let referral = only_item(&batch);
    assert_eq!(referral.external_id, "referral/NORTHSIDE|REF9001");
    assert_eq!(referral.state, EhrState::Open);
    assert_eq!(referral.priority, Priority::Stat);
    assert_eq!(referral.title, "Specialist referral");
    // RF1-8 20260205 and RF1-9 20260105 are local midnights.
    assert_eq!(referral.due, Some(at("2026-02-05T06:00:00Z")));
    assert_eq!(referral.created, at("2026-01-05T06:00:00Z"));
    assert_eq!(referral.ordering.as_deref(), Some("1234567893"));
    assert_eq!(referral.encounter.as_deref(), Some("NORTHSIDE|V2001"));
    assert_eq!(referral.attribute("referred_to"), Some("9990001"));
    assert_eq!(referral.attribute("referral_status"), Some("P"));
    assert_eq!(referral.attribute("referral_type"), Some("SPEC"));
    assert_eq!(referral.attribute("referral_reason"), Some("D"));
}

#[test]
fn referral_cancel_is_newer() {
    let created = accept("ref_i12_referral.hl7");
    let cancelled = accept("ref_i14_cancel.hl7");

    let item = only_item(&cancelled);
    assert_eq!(item.external_id, "referral/NORTHSIDE|REF9001");
    assert_eq!(item.state, EhrState::Cancelled);
    assert!(item.version > only_item(&created).version);
}
