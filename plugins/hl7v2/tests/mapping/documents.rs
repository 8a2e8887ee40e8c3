//! MDM documents: visit-note items and chart events.

use switchboard_sdk::{Category, ChartChange, ChartEvent, EhrState, Event, ResultFlag};

use super::{accept, accept_with, at, item, only_item, timed_version};

fn chart(events: &[Event]) -> &ChartEvent {
    match events {
        [Event::Chart(chart)] => chart,
        _ => panic!("expected one chart event: {events:?}"),
    }
}

#[test]
fn unsigned_note_is_open() {
    let batch = accept("mdm_t02_unsigned.hl7");

    let note = only_item(&batch);
    assert_eq!(note.external_id, "note/NORTHSIDE|DOC5001");
    assert_eq!(note.category, Category::VisitNote);
    assert_eq!(note.state, EhrState::Open);
    assert_eq!(note.flag, ResultFlag::None);
    assert_eq!(note.title, "Progress note");
    assert_eq!(note.rendering.as_deref(), Some("1234567893"));
    assert_eq!(note.patient.as_deref(), Some("NORTHSIDE|MRN1001"));
    assert_eq!(note.encounter.as_deref(), Some("NORTHSIDE|V2001"));
    // TXA-6 20260105101500, CST.
    assert_eq!(note.created, at("2026-01-05T16:15:00Z"));
    // MSH-7 20260105103000, open is rank 1.
    assert_eq!(note.version, timed_version("2026-01-05T16:30:00Z", 1));
    assert_eq!(note.attribute("document_type"), Some("PN"));
    assert_eq!(note.attribute("completion_status"), Some("IP"));
}

#[test]
fn unsigned_note_opens_chart() {
    let batch = accept("mdm_t02_unsigned.hl7");

    let chart = chart(&batch.events);
    assert_eq!(chart.change, ChartChange::Opened);
    assert_eq!(chart.encounter, "NORTHSIDE|V2001");
    assert_eq!(chart.clinician.as_deref(), Some("1234567893"));
    // PV1-45 20260105094500.
    assert_eq!(chart.visit_ended, at("2026-01-05T15:45:00Z"));
    // TXA-8 is empty, so EVN-2 20260105103000.
    assert_eq!(chart.at, at("2026-01-05T16:30:00Z"));
}

#[test]
fn signed_note_is_done_and_newer() {
    let unsigned = accept("mdm_t02_unsigned.hl7");
    let signed = accept("mdm_t04_signed.hl7");

    let note = only_item(&signed);
    assert_eq!(note.external_id, "note/NORTHSIDE|DOC5001");
    assert_eq!(note.state, EhrState::Done);
    assert_eq!(note.version, timed_version("2026-01-06T00:40:00Z", 2));
    assert!(note.version > only_item(&unsigned).version);
}

#[test]
fn signature_time_comes_from_txa22() {
    let batch = accept("mdm_t04_signed.hl7");

    let chart = chart(&batch.events);
    assert_eq!(chart.change, ChartChange::Signed);
    // TXA-22.15 20260105183000 CST.
    assert_eq!(chart.at, at("2026-01-06T00:30:00Z"));
    assert_eq!(chart.visit_ended, at("2026-01-05T15:45:00Z"));
}

#[test]
fn signed_edit_is_amended() {
    let batch = accept("mdm_t08_edit_signed.hl7");

    let note = only_item(&batch);
    assert_eq!(note.state, EhrState::Done);
    assert_eq!(note.version, timed_version("2026-01-06T15:10:00Z", 3));
    let chart = chart(&batch.events);
    assert_eq!(chart.change, ChartChange::Amended);
    // No TXA-22 time, so TXA-8 20260106090500.
    assert_eq!(chart.at, at("2026-01-06T15:05:00Z"));
}

#[test]
fn replacement_cancels_parent() {
    let batch = accept("mdm_t10_replacement.hl7");

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    assert_eq!(batch.items.len(), 2);
    let parent = item(&batch, "note/NORTHSIDE|DOC5001");
    let replacement = item(&batch, "note/NORTHSIDE|DOC5002");
    assert_eq!(parent.state, EhrState::Cancelled);
    assert_eq!(
        parent.attribute("replaced_by"),
        Some("note/NORTHSIDE|DOC5002")
    );
    assert_eq!(parent.version, timed_version("2026-01-06T16:00:00Z", 4));
    assert_eq!(replacement.state, EhrState::Open);
    assert_eq!(chart(&batch.events).change, ChartChange::Opened);
}

#[test]
fn cancelled_document_has_no_chart_event() {
    let batch = accept("mdm_t11_cancel.hl7");

    let note = only_item(&batch);
    assert_eq!(note.external_id, "note/NORTHSIDE|DOC5003");
    assert_eq!(note.state, EhrState::Cancelled);
    assert!(batch.events.is_empty());
}

#[test]
fn missing_completion_status_is_rejected() {
    let batch = accept("mdm_t02_no_status.hl7");

    assert!(batch.items.is_empty());
    assert!(batch.events.is_empty());
    assert_eq!(batch.rejects.len(), 1);
    assert_eq!(batch.rejects[0].field, "TXA-17");
    assert_eq!(
        batch.rejects[0].location,
        "message 1 (line 1, MSH-10 \"MDM0006\"), segment 5"
    );
}

#[test]
fn note_types_filter_documents() {
    let kept = accept_with("mdm_t02_unsigned.hl7", "note_types = [\"PN\", \"HP\"]\n");
    let dropped = accept_with("mdm_t02_unsigned.hl7", "note_types = [\"HP\"]\n");

    assert_eq!(kept.items.len(), 1);
    assert!(dropped.items.is_empty());
    assert!(dropped.events.is_empty());
    assert!(dropped.rejects.is_empty());
}
