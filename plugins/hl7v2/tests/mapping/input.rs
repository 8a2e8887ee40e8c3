//! Whole inputs: batches, concatenated messages, framing, malformed input,
//! content types and the type filters of the configuration.

use hl7v2_connector::Hl7v2Connector;
use switchboard_sdk::testing::{ConnectorHarness, MockHost};
use switchboard_sdk::{Batch, ConnectorError};

use super::{accept, accept_with, fixture, harness, item};

#[test]
fn batch_keeps_good_messages_and_rejects_bad_one() {
    let batch = accept("oru_batch.hl7");

    assert_eq!(batch.items.len(), 2);
    item(&batch, "result/ACME LAB|FL9001");
    item(&batch, "result/ACME LAB|FL9003");
    assert_eq!(batch.rejects.len(), 1);
    assert_eq!(batch.rejects[0].field, "OBX-11");
    // The second message starts on line 7, after FHS, BHS and four lines.
    assert_eq!(
        batch.rejects[0].location,
        "message 2 (line 7, MSH-10 \"B0002\"), segment 4"
    );
}

#[test]
fn trailer_count_mismatch_is_reported() {
    let batch = accept("oru_batch_count_mismatch.hl7");

    assert_eq!(batch.items.len(), 1);
    assert_eq!(batch.rejects.len(), 1);
    assert_eq!(batch.rejects[0].field, "BTS-1");
    assert_eq!(batch.rejects[0].location, "line 6");
}

#[test]
fn concatenated_messages_are_split() {
    let batch = accept("oru_concatenated_lf.hl7");

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    item(&batch, "result/ACME LAB|FL9201");
    item(&batch, "result/ACME LAB|FL9202");
}

#[test]
fn mllp_framed_file_is_read() {
    let batch = accept("adt_a04_mllp_framed.hl7");

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    assert_eq!(batch.roster.len(), 1);
}

#[test]
fn unhandled_type_names_msh9() {
    let batch = accept("dft_p03_unhandled.hl7");

    assert_eq!(batch.rejects.len(), 1);
    assert_eq!(batch.rejects[0].field, "MSH-9");
    assert!(
        batch.rejects[0].message.contains("DFT^P03"),
        "{}",
        batch.rejects[0]
    );
    assert_eq!(
        batch.rejects[0].location,
        "message 1 (line 1, MSH-10 \"DFT0001\"), segment 1"
    );
}

#[test]
fn bad_encoding_characters_name_msh2() {
    let batch = accept("malformed_msh2.hl7");

    assert!(batch.items.is_empty());
    assert_eq!(batch.rejects.len(), 1);
    assert_eq!(batch.rejects[0].field, "MSH-2");
}

#[test]
fn input_without_message_is_malformed() {
    let error = harness("")
        .accept(&fixture("not_hl7.txt"), "application/hl7-v2")
        .unwrap_err();

    assert!(matches!(error, ConnectorError::Malformed(_)), "{error}");
}

#[test]
fn empty_input_is_malformed() {
    let error = harness("").accept(b"", "application/hl7-v2").unwrap_err();

    assert!(matches!(error, ConnectorError::Malformed(_)), "{error}");
}

#[test]
fn foreign_content_type_is_unsupported() {
    let error = harness("")
        .accept(&fixture("oru_r01_abnormal.hl7"), "application/fhir+json")
        .unwrap_err();

    assert!(matches!(error, ConnectorError::Unsupported(_)), "{error}");
}

#[test]
fn generic_content_types_are_tried() {
    for content_type in [
        "",
        "text/plain",
        "application/octet-stream",
        "x-application/hl7-v2+er7",
    ] {
        let batch = harness("")
            .accept(&fixture("oru_r01_abnormal.hl7"), content_type)
            .unwrap();

        assert_eq!(batch.items.len(), 1, "{content_type}");
    }
}

#[test]
fn accept_list_rejects_other_types() {
    let batch = accept_with("mdm_t02_unsigned.hl7", "accept = [\"ORU^R01\"]\n");

    assert_eq!(batch.rejects.len(), 1);
    assert_eq!(batch.rejects[0].field, "MSH-9");
    assert!(
        batch.rejects[0].message.contains("accept"),
        "{}",
        batch.rejects[0]
    );
}

#[test]
fn ignored_types_produce_nothing() {
    let batch = accept_with("dft_p03_unhandled.hl7", "ignore = [\"DFT^*\"]\n");

    assert_eq!(batch, Batch::default());
}

#[test]
fn ignored_processing_ids_produce_nothing() {
    let batch = accept_with("oru_r01_abnormal.hl7", "ignore_processing_ids = [\"P\"]\n");

    assert_eq!(batch, Batch::default());
}

#[test]
fn invalid_config_is_rejected_with_position() {
    let error =
        ConnectorHarness::<Hl7v2Connector>::new(MockHost::new(), "provider_ids = \"npi\"\n")
            .unwrap_err();

    assert_eq!(error.line, Some(1));
    assert!(error.message.contains("npi"), "{error}");
}
