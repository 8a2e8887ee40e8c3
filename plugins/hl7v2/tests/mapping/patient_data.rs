//! Rejects, errors and log lines never quote field values. Each case puts a
//! made-up patient name and birth date into a field that fails, then checks
//! that the reject names the field and leaves the value out.

use switchboard_sdk::testing::{self, ConnectorHarness};
use switchboard_sdk::{Batch, ConnectorError};

use super::harness;
use hl7v2_connector::Hl7v2Connector;

/// The made-up name, which no message text, code or field name contains.
const NAME: &str = "ZZTESTNAME";

/// The made-up birth date, in HL7 and in ISO form.
const BIRTH_DATES: [&str; 2] = ["19741225", "1974-12-25"];

/// A valid result message. `{MSH-7}` and the other markers are replaced by a
/// case's values, and `{X}` by the value under test.
const ORU: &str = "MSH|^~\\&|LAB|FAC|EHR|CLINIC|{MSH-7}||{MSH-9}|CTRL1|P|2.5.1||||||{MSH-18}\r\
PID|1||MRN1^^^HOSP^MR||ZZTESTNAME^PETER||19741225|M\r\
OBR|1|P1|F1|2345-7^GLUCOSE^LN|||{OBR-7}||||||||||||||||||{OBR-25}\r\
OBX|1|NM|2345-7^GLUCOSE^LN||182|mg/dL|70-99|{OBX-8}|||{OBX-11}\r";

/// Builds the result message with `replacements` applied and every other
/// marker set to a valid value.
fn oru(replacements: &[(&str, &str)]) -> String {
    let defaults = [
        ("{MSH-7}", "20260105083000"),
        ("{MSH-9}", "ORU^R01^ORU_R01"),
        ("{MSH-18}", ""),
        ("{OBR-7}", "20260105080000"),
        ("{OBR-25}", "F"),
        ("{OBX-8}", "H"),
        ("{OBX-11}", "F"),
    ];
    let mut text = ORU.to_string();
    for (marker, value) in replacements.iter().chain(defaults.iter()) {
        text = text.replace(marker, value);
    }
    text
}

/// Everything the connector reports about `input`: each reject as the host
/// prints it, the error of a failed call, and every log line.
fn reports(harness: &mut ConnectorHarness<Hl7v2Connector>, input: &str) -> Vec<String> {
    let outcome = harness.accept(input.as_bytes(), "application/hl7-v2");

    let mut texts = match outcome {
        Ok(Batch { rejects, .. }) => rejects.iter().map(ToString::to_string).collect(),
        Err(error) => vec![error.to_string()],
    };
    texts.extend(testing::logs().iter().map(|line| format!("{line:?}")));
    texts
}

/// Checks that something was reported and that no report contains the
/// patient's name, birth date or `value`.
fn assert_clean(texts: &[String], value: &str) {
    assert!(!texts.is_empty(), "nothing was reported for {value:?}");
    for text in texts {
        for needle in [NAME, value].iter().chain(BIRTH_DATES.iter()) {
            assert!(
                !text.contains(needle),
                "{text:?} quotes {needle:?} from the input"
            );
        }
    }
}

#[test]
fn bad_message_times_are_not_quoted() {
    for value in [
        "ZZTESTNAME19741225",
        "1974-12-25",
        "19741225999999",
        "19741345",
        "19741225120000.ZZTESTNAME",
        "19741225+ZZTESTNAME",
        "19741225+2500",
    ] {
        let mut harness = harness("");

        let texts = reports(&mut harness, &oru(&[("{MSH-7}", value)]));

        assert_clean(&texts, value);
        assert!(texts[0].contains("field MSH-7"), "{}", texts[0]);
    }
}

#[test]
fn bad_date_names_field_and_form() {
    let mut harness = harness("");

    let texts = reports(&mut harness, &oru(&[("{OBR-7}", "ZZTESTNAME19741225")]));

    assert_eq!(
        texts[0],
        "message 1 (line 1, MSH-10 \"CTRL1\"), segment 3: field OBR-7: not an HL7 date/time: \
         expected YYYY[MM[DD[HH[MM[SS[.SSSS]]]]]][+/-ZZZZ], found 18 characters"
    );
}

#[test]
fn bad_status_codes_are_not_quoted() {
    for marker in ["{OBX-11}", "{OBR-25}"] {
        let mut harness = harness("");

        let texts = reports(&mut harness, &oru(&[(marker, NAME), ("{OBX-11}", "")]));

        assert_clean(&texts, NAME);
    }
}

#[test]
fn unmapped_flag_outside_table_is_not_quoted() {
    let mut harness = harness("unmapped_flag = \"reject\"\nreplace_default_flags = true");

    let texts = reports(&mut harness, &oru(&[("{OBX-8}", NAME)]));

    assert_clean(&texts, NAME);
    assert!(
        texts[0].ends_with(
            "field OBX-8: an abnormal flag of 10 characters outside HL7 table 0078 is not in the site's flag table; add it under [flags]"
        ),
        "{}",
        texts[0]
    );
}

#[test]
fn unmapped_table_flag_is_named() {
    let mut harness = harness("unmapped_flag = \"reject\"\nreplace_default_flags = true");

    let texts = reports(&mut harness, &oru(&[("{OBX-8}", "HH")]));

    assert!(
        texts[0].ends_with(
            "field OBX-8: abnormal flag HH (HL7 table 0078) is not in the site's flag table; add it under [flags]"
        ),
        "{}",
        texts[0]
    );
}

#[test]
fn bad_message_types_are_not_quoted() {
    for value in ["ZZTESTNAME^19741225", "ORU^ZZTESTNAME", "ZZTESTNAME"] {
        let mut harness = harness("");

        let texts = reports(&mut harness, &oru(&[("{MSH-9}", value)]));

        assert_clean(&texts, value);
        assert!(texts[0].contains("field MSH-9"), "{}", texts[0]);
    }
}

#[test]
fn unhandled_type_is_named() {
    let mut harness = harness("");

    let texts = reports(&mut harness, &oru(&[("{MSH-9}", "DFT^P03")]));

    assert!(
        texts[0].ends_with(
            "field MSH-9: message type DFT^P03 is not handled by this connector; list it under `ignore` to drop it without a reject"
        ),
        "{}",
        texts[0]
    );
}

#[test]
fn ignored_type_log_is_not_quoted() {
    let mut harness = harness("ignore_processing_ids = [\"P\"]");

    let texts = reports(&mut harness, &oru(&[("{MSH-9}", "ZZTESTNAME^19741225")]));

    assert_clean(&texts, "ZZTESTNAME^19741225");
}

#[test]
fn bad_charset_is_not_quoted() {
    let mut harness = harness("");

    let texts = reports(&mut harness, &oru(&[("{MSH-18}", "ZZTESTNAME 19741225")]));

    assert_clean(&texts, "ZZTESTNAME 19741225");
    assert!(texts[0].contains("field MSH-18"), "{}", texts[0]);
}

#[test]
fn bad_segment_id_is_not_quoted() {
    let input = oru(&[]).replace("PID|1|", "Zztestn|1|");
    let mut harness = harness("");

    let texts = reports(&mut harness, &input);

    assert_clean(&texts, "Zztestn");
    assert!(
        texts[0].contains("the 7 characters before the first field separator are not a segment id"),
        "{}",
        texts[0]
    );
}

#[test]
fn text_before_header_is_not_quoted() {
    let input = format!("ZZTESTNAME, PETER {}\r{}", BIRTH_DATES[0], oru(&[]));
    let mut harness = harness("");

    let error = harness
        .accept(input.as_bytes(), "application/hl7-v2")
        .unwrap_err();

    assert!(matches!(error, ConnectorError::Malformed(_)), "{error}");
    assert_clean(&[error.to_string()], "PETER");
}

#[test]
fn bad_encoding_characters_are_not_quoted() {
    let input = oru(&[]).replacen("MSH|^~\\&|", "MSH|^~\\&ZZTESTNAME|", 1);
    let mut harness = harness("");

    let texts = reports(&mut harness, &input);

    assert_clean(&texts, NAME);
    assert!(texts[0].contains("field MSH-2"), "{}", texts[0]);
}

#[test]
fn bad_trailer_count_is_not_quoted() {
    let input = format!(
        "BHS|^~\\&|LAB\r{}BTS|ZZTESTNAME\rZZTESTNAME|19741225\r",
        oru(&[])
    );
    let mut harness = harness("");

    let texts = reports(&mut harness, &input);

    assert_clean(&texts, NAME);
    assert_eq!(
        texts[0],
        "line 6: field BTS-1: not a count of messages: expected a whole number, found 10 characters"
    );
    assert_eq!(
        texts[1],
        "line 7: field line: this line is outside any message (after a batch trailer or before the first MSH) and was skipped"
    );
}

#[test]
fn long_control_id_is_left_out() {
    let input = oru(&[("{OBX-11}", "ZZ")]).replace("|CTRL1|", "|ZZTESTNAME PETER 19741225|");
    let mut harness = harness("");

    let texts = reports(&mut harness, &input);

    assert_clean(&texts, "PETER");
    assert!(
        texts[0].starts_with("message 1 (line 1), segment 4:"),
        "{}",
        texts[0]
    );
}

#[test]
fn document_fields_are_not_quoted() {
    let mdm = "MSH|^~\\&|EHR|FAC|SB|CLINIC|20260105103000||MDM^T02^MDM_T02|MDM1|P|2.5.1\r\
PID|1||MRN1^^^HOSP^MR||ZZTESTNAME^PETER||19741225|M\r\
PV1|1|O|||||1234567893^LEE^ANA||||||||||||V1^^^HOSP^VN\r\
TXA|1|PN|TX|20260105093000|1234567893^LEE^ANA|20260105101500||||||DOC1|||||{TXA-17}|||||{TXA-22}\r";
    let cases = [
        ("{TXA-17}", NAME, "TXA-17"),
        (
            "{TXA-22}",
            "1^LEE^ANA^^^^^^^^^^^^ZZTESTNAME19741225",
            "TXA-22.15",
        ),
    ];

    for (marker, value, field) in cases {
        let input = mdm
            .replace(marker, value)
            .replace("{TXA-17}", "AU")
            .replace("{TXA-22}", "");
        let mut harness = harness("");

        let texts = reports(&mut harness, &input);

        assert_clean(&texts, value);
        assert!(
            texts[0].contains(&format!("field {field}:")),
            "{}",
            texts[0]
        );
    }
}

#[test]
fn other_family_times_are_not_quoted() {
    let siu = "MSH|^~\\&|EHR|FAC|SB|CLINIC|20260301100000||SIU^S12^SIU_S12|SIU1|P|2.5.1\r\
SCH|APT-P1|APT1^HOSP|||||AWV^Annual wellness visit^L||||^^^ZZTESTNAME19741225\r\
PID|1||MRN1^^^HOSP^MR||ZZTESTNAME^PETER||19741225|M\r";
    let referral = "MSH|^~\\&|EHR|FAC|SB|CLINIC|20260106110000||REF^I12^REF_I12|REF1|P|2.5.1\r\
RF1|P^Pending^HL70283|S|SPEC^Specialist|||REF1^HOSP|ZZTESTNAME19741225\r\
PID|1||MRN1^^^HOSP^MR||ZZTESTNAME^PETER||19741225|M\r";
    let discharge = "MSH|^~\\&|EHR|FAC|SB|CLINIC|20260105095000||ADT^A03^ADT_A03|ADT1|P|2.5.1\r\
EVN|A03|20260105095000\r\
PID|1||MRN1^^^HOSP^MR||ZZTESTNAME^PETER||19741225|M\r\
PV1|1|O|||||1234567893^LEE^ANA||||||||||||V1^^^HOSP^VN||||||||||||||||||||||||||ZZTESTNAME19741225\r";

    for (input, field) in [
        (siu, "SCH-11.4"),
        (referral, "RF1-7"),
        (discharge, "PV1-45"),
    ] {
        let mut harness = harness("");

        let texts = reports(&mut harness, input);

        assert_clean(&texts, "ZZTESTNAME19741225");
        assert!(
            texts[0].contains(&format!("field {field}:")),
            "{}",
            texts[0]
        );
    }
}
