//! The public parser API on the fixture files, as the host uses it.

use std::borrow::Cow;

use hl7v2_connector::parse::{
    Charset, Delimiters, Header, Message, ParseError, decode, split_batch,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
    std::fs::read(format!("{path}{name}")).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

#[test]
fn header_gives_ack_fields() {
    let header = Header::read(&fixture("oru_r01_abnormal.hl7")).unwrap();

    assert_eq!(header.control_id, "ORU0001");
    assert_eq!(header.message_code, "ORU");
    assert_eq!(header.trigger_event, "R01");
    assert_eq!(header.message_type, "ORU^R01^ORU_R01");
    assert_eq!(header.sending_application, "LABSYS");
    assert_eq!(header.sending_facility, "ACME LAB");
    assert_eq!(header.processing_id, "P");
    assert_eq!(header.version, "2.5.1");
    assert_eq!(header.accept_ack_type, "AL");
    assert_eq!(header.delimiters, Delimiters::STANDARD);
}

#[test]
fn header_of_framed_message_is_read() {
    let header = Header::read(&fixture("adt_a04_mllp_framed.hl7")).unwrap();

    assert_eq!(header.control_id, "ADT0005");
}

#[test]
fn batch_splits_into_messages_with_lines() {
    let input = fixture("oru_batch.hl7");

    let envelope = split_batch(&input).unwrap();

    let lines: Vec<usize> = envelope.messages.iter().map(|m| m.line).collect();
    assert_eq!(lines, [3, 7, 11]);
    assert!(envelope.problems.is_empty(), "{:?}", envelope.problems);
}

#[test]
fn z_segments_are_kept() {
    let text = String::from_utf8(fixture("oru_r01_two_patients.hl7")).unwrap();

    let message = Message::parse(&text).unwrap();

    let zpd = message.segment("ZPD").unwrap();
    assert_eq!(zpd.index(), 3);
    assert_eq!(zpd.field(2).text(), "PORTAL-ENROLLED");
    assert_eq!(message.segments_named("PID").count(), 2);
}

#[test]
fn raw_line_break_stays_in_field() {
    let text = String::from_utf8(fixture("oru_r01_wrapped_text.hl7")).unwrap();

    let message = Message::parse(&text).unwrap();

    let obx = message.segment("OBX").unwrap();
    assert_eq!(
        obx.field(5).text(),
        "Impression: nodule 6 mm.\nFollow-up CT advised."
    );
    assert_eq!(obx.field(8).text(), "A");
    assert_eq!(message.segments().len(), 4);
}

#[test]
fn latin1_is_converted() {
    let bytes = fixture("oru_r01_latin1.hl7");

    let text = decode(&bytes).unwrap();
    let message = Message::parse(&text).unwrap();

    assert!(matches!(text, Cow::Owned(_)));
    assert_eq!(message.charset(), Charset::Latin1);
    assert_eq!(
        message.segment("OBR").unwrap().field(4).component(2).text(),
        "Prüfung Créatinine"
    );
}

#[test]
fn utf8_with_bom_is_borrowed() {
    let bytes = fixture("oru_r01_bom_lf.hl7");

    let text = decode(&bytes).unwrap();
    let message = Message::parse(&text).unwrap();

    assert!(matches!(text, Cow::Borrowed(_)));
    assert_eq!(message.charset(), Charset::Utf8);
    assert_eq!(message.segments().len(), 4);
}

#[test]
fn custom_delimiters_split_every_level() {
    let text = String::from_utf8(fixture("oru_r01_custom_delimiters.hl7")).unwrap();

    let message = Message::parse(&text).unwrap();

    assert_eq!(message.delimiters().encoding_characters(), "@!$%");
    let pid = message.segment("PID").unwrap();
    assert_eq!(pid.field(3).component(4).subcomponent(2).text(), "1.2.3");
    let obx = message.segment("OBX").unwrap();
    let flags: Vec<_> = obx
        .field(8)
        .repetitions()
        .map(|r| r.text().into_owned())
        .collect();
    assert_eq!(flags, ["H", "A"]);
}

#[test]
fn null_differs_from_empty() {
    let text = String::from_utf8(fixture("oru_r01_escapes.hl7")).unwrap();

    let message = Message::parse(&text).unwrap();

    let obr = message.segment("OBR").unwrap();
    assert!(obr.field(16).is_null());
    assert!(!obr.field(16).is_empty());
    assert!(obr.field(5).is_empty());
    assert!(!obr.field(5).is_null());
}

#[test]
fn repeated_separator_is_an_error() {
    let text = String::from_utf8(fixture("malformed_msh2.hl7")).unwrap();

    let error = Message::parse(&text).unwrap_err();

    assert!(
        matches!(&error, ParseError::InvalidDelimiters { field, .. } if field == "MSH-2"),
        "{error}"
    );
    assert_eq!(error.field(), "MSH-2");
}

#[test]
fn crlf_terminators_leave_no_carriage_returns() {
    let text = String::from_utf8(fixture("oru_r01_critical_crlf.hl7")).unwrap();

    let message = Message::parse(&text).unwrap();

    assert!(message.segments().iter().all(|s| !s.raw().contains('\r')));
    assert_eq!(message.segments().len(), 8);
}
