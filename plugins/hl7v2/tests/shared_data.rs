//! The connector against the public HL7 v2 samples in the project's shared
//! data folder (spec examples and vendor test messages with invented
//! people). Skipped, with a note, when the folder is not there.
//!
//! The labelled expectations below were written by hand from the message
//! fields before the connector was run on these files. Each comment gives
//! the fields that decide the value.

use std::path::{Path, PathBuf};

use hl7v2_connector::Hl7v2Connector;
use hl7v2_connector::parse::Header;
use switchboard_sdk::testing::{ConnectorHarness, MockHost};
use switchboard_sdk::{
    Batch, Category, ChartChange, EhrState, Event, Priority, ResultFlag, Timestamp, WorkItem,
};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/hl7v2");

fn samples_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(SAMPLES);
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("note: {SAMPLES} is missing; skipping the shared-sample tests");
        None
    }
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

/// Maps one sample file with a site in `zone`.
fn accept(dir: &Path, file: &str, zone: &str) -> Batch {
    let bytes = std::fs::read(dir.join(file)).unwrap();
    let mut harness =
        ConnectorHarness::<Hl7v2Connector>::new(MockHost::new().time_zone(zone), "").unwrap();
    harness.accept(&bytes, "application/hl7-v2").unwrap()
}

fn item<'b>(batch: &'b Batch, external_id: &str) -> &'b WorkItem {
    batch
        .items
        .iter()
        .find(|i| i.external_id == external_id)
        .unwrap_or_else(|| panic!("no item {external_id}; items: {:#?}", batch.items))
}

/// `rank << 48 | millis`, the result version layout.
fn result_version(rank: u64, time: &str) -> u64 {
    (rank << 48) | at(time).0 as u64
}

/// `millis << 4 | rank`, the layout of every other item.
fn timed_version(time: &str, rank: u64) -> u64 {
    ((at(time).0 as u64) << 4) | rank
}

/// Whether `field` looks like `OBX`, `OBX-8` or `TXA-22.15`.
fn names_a_field(field: &str) -> bool {
    let bytes = field.as_bytes();
    let id = bytes.len() >= 3
        && bytes[0].is_ascii_uppercase()
        && bytes[1..3]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    let rest = &field[field.len().min(3)..];
    id && (rest.is_empty()
        || rest.strip_prefix('-').is_some_and(|n| {
            n.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        }))
}

#[test]
fn every_sample_maps_or_rejects() {
    let Some(dir) = samples_dir() else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "expected the 21 shared samples, found {}",
        files.len()
    );

    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut harness = ConnectorHarness::<Hl7v2Connector>::new(
            MockHost::new().time_zone("America/Chicago"),
            "",
        )
        .unwrap();

        let batch = harness
            .accept(&bytes, "application/hl7-v2")
            .unwrap_or_else(|e| panic!("{name}: {e}"));

        for reject in &batch.rejects {
            assert!(
                names_a_field(&reject.field),
                "{name}: reject does not name a field: {reject}"
            );
            assert!(
                !reject.message.is_empty(),
                "{name}: reject without a reason: {reject}"
            );
        }
        let produced =
            batch.items.len() + batch.events.len() + batch.roster.len() + batch.rejects.len();
        if produced == 0 {
            // Only orders that are not referrals are dropped without output.
            let header = Header::read(&bytes).unwrap();
            assert!(
                matches!(header.message_code.as_str(), "ORM" | "OML"),
                "{name}: {} produced nothing",
                header.message_type
            );
        }
        println!(
            "{name}: {} items, {} events, {} roster hints, {} rejects",
            batch.items.len(),
            batch.events.len(),
            batch.roster.len(),
            batch.rejects.len()
        );
    }
}

#[test]
fn glucose_result_is_abnormal() {
    let Some(dir) = samples_dir() else {
        return;
    };

    let batch = accept(&dir, "ORU-R01-RMGEAD.hl7", "America/Chicago");

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    assert_eq!(batch.items.len(), 1);
    // OBR-3 is 1045813^GHH LAB: filler number with namespace.
    let result = item(&batch, "result/GHH LAB|1045813");
    assert_eq!(result.category, Category::Result);
    // The single OBX has OBX-8 H, abnormal in table 0078.
    assert_eq!(result.flag, ResultFlag::Abnormal);
    // OBX-11 F: final, rank 2; MSH-7 20020215093000+0600 is 03:30 UTC.
    assert_eq!(result.version, result_version(2, "2002-02-15T03:30:00Z"));
    assert_eq!(result.attribute("result_status"), Some("final"));
    // PID-3 555-44-4444 has no assigning authority.
    assert_eq!(result.patient.as_deref(), Some("555-44-4444"));
    // OBR-16 XCN-1.
    assert_eq!(result.ordering.as_deref(), Some("555-55-5555"));
    // OBR-4 text.
    assert_eq!(result.title, "GLUCOSE");
    // OBR-22 is empty, so OBR-7 20020215073000+0600.
    assert_eq!(result.created, at("2002-02-15T01:30:00Z"));
    assert_eq!(result.state, EhrState::Open);
}

#[test]
fn cbc_with_panic_values_is_critical() {
    let Some(dir) = samples_dir() else {
        return;
    };

    let batch = accept(&dir, "LRI_2.0-NG_CBC_Typ_Message.hl7", "America/Chicago");

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    assert_eq!(batch.items.len(), 1);
    // OBR-3 R-991133^NIST Lab Filler.
    let result = item(&batch, "result/NIST Lab Filler|R-991133");
    // Four OBX-8 HH (OBX 4, 14, 16, 18) make the order critical.
    assert_eq!(result.flag, ResultFlag::Critical);
    // One L, four HH and four A among 28 observations.
    assert_eq!(result.attribute("abnormal_observations"), Some("9"));
    assert_eq!(result.attribute("observations"), Some("28"));
    // Every OBX-11 is F; MSH-7 20110531140551-0500.
    assert_eq!(result.version, result_version(2, "2011-05-31T19:05:51Z"));
    // PID-3 PATID1234^^^NIST MPI^MR.
    assert_eq!(result.patient.as_deref(), Some("NIST MPI|PATID1234"));
    assert_eq!(result.ordering.as_deref(), Some("57422"));
    // OBR-22 20110104170028-0800.
    assert_eq!(result.created, at("2011-01-05T01:00:28Z"));
    assert_eq!(result.title, "CBC W Auto Differential panel in Blood");
}

#[test]
fn two_orders_with_pending_values_are_preliminary() {
    let Some(dir) = samples_dir() else {
        return;
    };

    let batch = accept(&dir, "LAB-ORU-1.hl7", "America/Chicago");

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    assert_eq!(batch.items.len(), 2);
    // MSH-7 20141006064500+0700 is 23:45 UTC the day before.
    let time = "2014-10-05T23:45:00Z";
    // First OBR: OBX-11 I, P, I, P, F. The I observations have neither value
    // nor flag so they do not count for the flag; the rest are N.
    let hemogram = item(&batch, "result/82503246");
    assert_eq!(hemogram.flag, ResultFlag::Normal);
    assert_eq!(hemogram.version, result_version(1, time));
    assert_eq!(hemogram.attribute("result_status"), Some("preliminary"));
    // OBR-16 ^URO^^^^DR has no id.
    assert_eq!(hemogram.ordering, None);
    // PID-3 10006579^^^1^MR: authority "1".
    assert_eq!(hemogram.patient.as_deref(), Some("1|10006579"));
    // Second OBR: five P observations, all N.
    let differential = item(&batch, "result/890775544");
    assert_eq!(differential.flag, ResultFlag::Normal);
    assert_eq!(differential.version, result_version(1, time));
}

#[test]
fn signed_document_closes_note() {
    let Some(dir) = samples_dir() else {
        return;
    };

    let batch = accept(&dir, "MDM-T02-01.hl7", "America/Chicago");

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    // TXA-12 is the document number; TXA-17 AU means signed, so done.
    let note = item(&batch, "note/1.2.840.317.5947431.51.20080131160038");
    assert_eq!(note.category, Category::VisitNote);
    assert_eq!(note.state, EhrState::Done);
    assert_eq!(note.flag, ResultFlag::None);
    // TXA-5 is empty, so the authenticator TXA-22.
    assert_eq!(note.rendering.as_deref(), Some("54321"));
    assert_eq!(note.encounter.as_deref(), Some("10000001"));
    // MSH-7 200801311600+0215 is 13:45 UTC; signed is rank 2.
    assert_eq!(note.version, timed_version("2008-01-31T13:45:00Z", 2));
    let [Event::Chart(chart)] = batch.events.as_slice() else {
        panic!("expected one chart event: {:?}", batch.events);
    };
    assert_eq!(chart.change, ChartChange::Signed);
    assert_eq!(chart.encounter, "10000001");
    // TXA-22.15 200801311600+0215.
    assert_eq!(chart.at, at("2008-01-31T13:45:00Z"));
    // PV1-45 is absent, so TXA-4 200801311555+0215.
    assert_eq!(chart.visit_ended, at("2008-01-31T13:40:00Z"));
}

#[test]
fn document_in_progress_opens_chart() {
    let Some(dir) = samples_dir() else {
        return;
    };

    let batch = accept(&dir, "MDM-T02-03.hl7", "America/Chicago");

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    // TXA-17 IP: in progress, so open.
    let note = item(&batch, "note/2RWRVAJ627408");
    assert_eq!(note.state, EhrState::Open);
    assert_eq!(note.rendering.as_deref(), Some("C006"));
    assert_eq!(note.patient.as_deref(), Some("SIMULATOR MRN|3196695816"));
    // TXA-2 DS without text.
    assert_eq!(note.title, "discharge summary");
    let [Event::Chart(chart)] = batch.events.as_slice() else {
        panic!("expected one chart event: {:?}", batch.events);
    };
    assert_eq!(chart.change, ChartChange::Opened);
    // PV1-19 is empty, so the chart is keyed by the note.
    assert_eq!(chart.encounter, "note/2RWRVAJ627408");
    // TXA-4 and TXA-8 are both 20210801090642+0215.
    assert_eq!(chart.visit_ended, at("2021-08-01T06:51:42Z"));
    assert_eq!(chart.at, at("2021-08-01T06:51:42Z"));
}

#[test]
fn discharge_opens_chart_in_site_time() {
    let Some(dir) = samples_dir() else {
        return;
    };

    let batch = accept(&dir, "nhapi-adt_a03.hl7", "Europe/Rome");

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    let [Event::Chart(chart)] = batch.events.as_slice() else {
        panic!("expected one chart event: {:?}", batch.events);
    };
    assert_eq!(chart.change, ChartChange::Opened);
    assert_eq!(chart.encounter, "2008003369");
    assert_eq!(chart.clinician.as_deref(), Some("13936"));
    // First PID-3 repetition 5520255^^^PK.
    assert_eq!(chart.patient.as_deref(), Some("PK|5520255"));
    // PV1-45 200803031508 has no offset: 15:08 in Rome, UTC+1 in March
    // before daylight saving starts.
    assert_eq!(chart.visit_ended, at("2008-03-03T14:08:00Z"));
    let roles: Vec<_> = batch
        .roster
        .iter()
        .map(|h| (h.ehr_id.as_str(), h.role_code.as_deref()))
        .collect();
    assert_eq!(roles, [("13936", Some("AT")), ("5068", Some("AD"))]);
}

#[test]
fn new_appointment_is_an_event() {
    let Some(dir) = samples_dir() else {
        return;
    };

    let batch = accept(&dir, "SIU-S12-01.hl7", "America/Chicago");

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    assert!(batch.items.is_empty());
    let [Event::Appointment(appointment)] = batch.events.as_slice() else {
        panic!("expected one appointment: {:?}", batch.events);
    };
    // SCH-2 filler appointment id.
    assert_eq!(appointment.external_id, "36996");
    // PID-3 PATID1234^5^M11^test1&2.16.1&HCD: namespace test1.
    assert_eq!(appointment.patient, "test1|PATID1234");
    // AIP-3 1210^GE^Robert.
    assert_eq!(appointment.clinician.as_deref(), Some("1210"));
    // TQ1-7 20210924093000+0215.
    assert_eq!(appointment.start, at("2021-09-24T07:15:00Z"));
    // SCH-7 comes first among the kind fields.
    assert_eq!(appointment.kind, "EMERGENCY");
}

#[test]
fn pending_referral_is_open() {
    let Some(dir) = samples_dir() else {
        return;
    };

    let batch = accept(&dir, "REF-I12-01.hl7", "America/Chicago");

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    // RF1-6 226839^EPIC.
    let referral = item(&batch, "referral/EPIC|226839");
    assert_eq!(referral.category, Category::Referral);
    // RF1-1 P (pending).
    assert_eq!(referral.state, EhrState::Open);
    // RF1-2 R.
    assert_eq!(referral.priority, Priority::Routine);
    // RF1-3 Med^Medical.
    assert_eq!(referral.title, "Medical referral");
    // PRD with role RP has PRD-7 PLN1001; the RT one PLN5010.
    assert_eq!(referral.ordering.as_deref(), Some("PLN1001"));
    assert_eq!(referral.attribute("referred_to"), Some("PLN5010"));
    // PID-3 authority ADT1; PV1-19 5001^^^AccMgr.
    assert_eq!(referral.patient.as_deref(), Some("ADT1|PATID1234"));
    assert_eq!(referral.encounter.as_deref(), Some("AccMgr|5001"));
    // RF1-8 20220210 is site-local midnight, CST (UTC-6).
    assert_eq!(referral.due, Some(at("2022-02-10T06:00:00Z")));
    // RF1-9 20220125.
    assert_eq!(referral.created, at("2022-01-25T06:00:00Z"));
    // MSH-7 202201251620+0000, open is rank 1.
    assert_eq!(referral.version, timed_version("2022-01-25T16:20:00Z", 1));
}

#[test]
fn encoded_order_opens_refill_and_dispense_closes_it() {
    let Some(dir) = samples_dir() else {
        return;
    };

    let order = accept(&dir, "RDE-O11-01.hl7", "America/Chicago");
    let dispense = accept(&dir, "RDS-O13-01.hl7", "America/Chicago");

    assert!(order.rejects.is_empty(), "{:?}", order.rejects);
    assert!(dispense.rejects.is_empty(), "{:?}", dispense.rejects);
    // Both carry ORC-2 1163422591^EPC, so they name the same refill.
    let opened = item(&order, "refill/EPC|1163422591");
    let closed = item(&dispense, "refill/EPC|1163422591");
    // ORC-1 NW: a new order, open until dispensed.
    assert_eq!(opened.state, EhrState::Open);
    assert_eq!(opened.category, Category::Refill);
    // RXE-12 twelve refills allowed.
    assert_eq!(opened.attribute("refills_allowed"), Some("12"));
    // ORC-12 is empty and RXE-13 has no id, so RXO-14.
    assert_eq!(opened.ordering.as_deref(), Some("OP-14"));
    assert_eq!(closed.state, EhrState::Done);
    // RXD-2 text.
    assert_eq!(closed.title, "Doxycycline");
    // ORC-12 is empty, so RXD-10.
    assert_eq!(closed.ordering.as_deref(), Some("9941339108"));
    // Same MSH-7 (202108181126+0215), so the done rank 2 beats open rank 1.
    assert!(closed.version > opened.version);
}

#[test]
fn non_referral_order_is_ignored() {
    let Some(dir) = samples_dir() else {
        return;
    };

    // OBR-4 24725-4^CT Head is not a referral.
    let batch = accept(&dir, "ORM-O01-01.hl7", "America/Chicago");

    assert_eq!(batch, Batch::default());
}

#[test]
fn unhandled_admission_names_msh9() {
    let Some(dir) = samples_dir() else {
        return;
    };

    // MSH-2 is written ^~\\& (a doubled escape character), which the parser
    // tolerates; MSH-9 ADT^A01 is not a type the connector maps.
    let batch = accept(&dir, "sample_unix.hl7", "America/Chicago");

    assert_eq!(batch.rejects.len(), 1, "{:?}", batch.rejects);
    assert_eq!(batch.rejects[0].field, "MSH-9");
    assert!(
        batch.rejects[0].message.contains("ADT^A01"),
        "{}",
        batch.rejects[0]
    );
}
