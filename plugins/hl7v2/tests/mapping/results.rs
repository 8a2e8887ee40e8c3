//! ORU^R01 results.

use switchboard_sdk::{Category, EhrState, Priority, ResultFlag};

use super::{accept, accept_with, at, item, only_item, result_version};

#[test]
fn abnormal_result_maps_every_field() {
    let batch = accept("oru_r01_abnormal.hl7");

    let result = only_item(&batch);
    assert_eq!(result.external_id, "result/ACME LAB|FL1001");
    assert_eq!(result.category, Category::Result);
    assert_eq!(result.flag, ResultFlag::Abnormal);
    assert_eq!(result.priority, Priority::Stat);
    assert_eq!(result.state, EhrState::Open);
    assert_eq!(result.title, "Comprehensive metabolic panel");
    assert_eq!(result.patient.as_deref(), Some("NORTHSIDE|MRN1001"));
    assert_eq!(result.encounter.as_deref(), Some("NORTHSIDE|V2001"));
    assert_eq!(result.ordering.as_deref(), Some("1234567893"));
    assert_eq!(result.pcp.as_deref(), Some("1234567893"));
    assert_eq!(result.rendering, None);
    // OBR-22 20260105081500-0600.
    assert_eq!(result.created, at("2026-01-05T14:15:00Z"));
    // Final (rank 2) at MSH-7 20260105083000-0600.
    assert_eq!(result.version, result_version(2, "2026-01-05T14:30:00Z"));
    assert_eq!(result.due, None);
}

#[test]
fn result_attributes_describe_the_order() {
    let batch = accept("oru_r01_abnormal.hl7");

    let result = only_item(&batch);
    assert_eq!(result.attribute("order_code"), Some("24323-8"));
    assert_eq!(result.attribute("coding_system"), Some("LN"));
    assert_eq!(result.attribute("result_status"), Some("final"));
    assert_eq!(result.attribute("observations"), Some("3"));
    assert_eq!(result.attribute("abnormal_observations"), Some("1"));
}

#[test]
fn repeated_flag_takes_most_severe() {
    let batch = accept("oru_r01_critical_crlf.hl7");

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    let potassium = item(&batch, "result/ACME LAB|FL2002");
    assert_eq!(potassium.flag, ResultFlag::Critical);
    // OBR-5 R.
    assert_eq!(potassium.priority, Priority::Routine);
}

#[test]
fn local_times_use_daylight_saving() {
    let batch = accept("oru_r01_critical_crlf.hl7");

    let cbc = item(&batch, "result/ACME LAB|FL2001");
    assert_eq!(cbc.flag, ResultFlag::Normal);
    // OBR-27.6 A.
    assert_eq!(cbc.priority, Priority::Asap);
    // OBR-7 202607010800 in CDT (UTC-5); MSH-7 202607011000.
    assert_eq!(cbc.created, at("2026-07-01T13:00:00Z"));
    assert_eq!(cbc.version, result_version(2, "2026-07-01T15:00:00Z"));
}

#[test]
fn versions_rank_status_before_time() {
    let final_result = only_item(&accept("oru_r01_v1_final.hl7")).clone();
    let late_preliminary = only_item(&accept("oru_r01_v2_late_preliminary.hl7")).clone();
    let corrected = only_item(&accept("oru_r01_v3_corrected.hl7")).clone();

    assert_eq!(
        final_result.version,
        result_version(2, "2026-01-06T14:00:00Z")
    );
    assert_eq!(
        late_preliminary.version,
        result_version(1, "2026-01-06T15:00:00Z")
    );
    assert_eq!(corrected.version, result_version(3, "2026-01-06T18:00:00Z"));
    assert!(late_preliminary.version < final_result.version);
    assert!(final_result.version < corrected.version);
    assert_eq!(corrected.attribute("result_status"), Some("corrected"));
    assert_eq!(
        late_preliminary.attribute("result_status"),
        Some("preliminary")
    );
}

#[test]
fn unknown_codes_are_unknown_by_default() {
    let batch = accept("oru_r01_site_flags.hl7");

    assert_eq!(only_item(&batch).flag, ResultFlag::Unknown);
}

#[test]
fn site_flag_table_overrides_defaults() {
    let batch = accept_with(
        "oru_r01_site_flags.hl7",
        "[flags]\n\"1\" = \"abnormal\"\n\"2\" = \"critical\"\n",
    );

    assert_eq!(only_item(&batch).flag, ResultFlag::Abnormal);
}

#[test]
fn empty_key_maps_missing_flag() {
    let batch = accept_with(
        "oru_r01_site_flags.hl7",
        "[flags]\n\"1\" = \"normal\"\n\"\" = \"normal\"\n",
    );

    assert_eq!(only_item(&batch).flag, ResultFlag::Normal);
}

#[test]
fn unmapped_flag_can_reject() {
    let batch = accept_with("oru_r01_site_flags.hl7", "unmapped_flag = \"reject\"\n");

    assert!(batch.items.is_empty());
    assert_eq!(batch.rejects.len(), 1);
    assert_eq!(batch.rejects[0].field, "OBX-8");
    assert_eq!(
        batch.rejects[0].location,
        "message 1 (line 1, MSH-10 \"ORU0004\"), segment 4"
    );
}

#[test]
fn custom_delimiters_are_honoured() {
    let batch = accept("oru_r01_custom_delimiters.hl7");

    let result = only_item(&batch);
    assert_eq!(result.external_id, "result/ACME LAB|FL5001");
    assert_eq!(result.title, "Lipid panel * fasting");
    assert_eq!(result.patient.as_deref(), Some("NORTHSIDE|MRN1002"));
    assert_eq!(result.ordering.as_deref(), Some("1234567893"));
    assert_eq!(result.flag, ResultFlag::Abnormal);
}

#[test]
fn escapes_are_decoded_in_titles() {
    let batch = accept("oru_r01_escapes.hl7");

    let result = only_item(&batch);
    assert_eq!(result.title, r"Iron & TIBC | ferritin ^ A~B \ A");
    // OBR-16 is "" (explicit null), so ORC-12.
    assert_eq!(result.ordering.as_deref(), Some("5550001"));
}

#[test]
fn latin1_message_is_decoded() {
    let batch = accept("oru_r01_latin1.hl7");

    let result = only_item(&batch);
    assert_eq!(result.title, "Prüfung Créatinine");
    // MSH-7 20260110080000+0100.
    assert_eq!(result.version, result_version(2, "2026-01-10T07:00:00Z"));
}

#[test]
fn bom_and_line_feeds_are_accepted() {
    let batch = accept("oru_r01_bom_lf.hl7");

    let result = only_item(&batch);
    assert_eq!(result.title, "Créatinine sérique");
    assert_eq!(result.flag, ResultFlag::Critical);
}

#[test]
fn each_patient_keeps_its_orders() {
    let batch = accept("oru_r01_two_patients.hl7");

    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    let first = item(&batch, "result/ACME LAB|FL1201");
    let second = item(&batch, "result/ACME LAB|FL1202");
    assert_eq!(first.patient.as_deref(), Some("NORTHSIDE|MRN1001"));
    assert_eq!(first.flag, ResultFlag::Abnormal);
    assert_eq!(second.patient.as_deref(), Some("NORTHSIDE|MRN1002"));
    assert_eq!(second.flag, ResultFlag::Normal);
}

#[test]
fn wrapped_text_keeps_its_segment() {
    let batch = accept("oru_r01_wrapped_text.hl7");

    let result = only_item(&batch);
    assert_eq!(result.flag, ResultFlag::Abnormal);
    assert_eq!(result.attribute("result_status"), Some("final"));
}

#[test]
fn unknown_status_rejects_message() {
    let batch = accept("oru_r01_bad_status.hl7");

    assert!(batch.items.is_empty());
    assert_eq!(batch.rejects.len(), 1);
    assert_eq!(batch.rejects[0].field, "OBX-11");
    assert_eq!(
        batch.rejects[0].location,
        "message 1 (line 1, MSH-10 \"ORU0014\"), segment 4"
    );
}

#[test]
fn qualified_provider_ids_include_authority() {
    let batch = accept_with("oru_r01_abnormal.hl7", "provider_ids = \"qualified\"\n");

    let result = only_item(&batch);
    // PD1-4 carries XCN-9 NPI; OBR-16 has no authority.
    assert_eq!(result.pcp.as_deref(), Some("NPI|1234567893"));
    assert_eq!(result.ordering.as_deref(), Some("1234567893"));
}

#[test]
fn utc_setting_reads_local_times_as_utc() {
    let batch = accept_with("oru_r01_critical_crlf.hl7", "local_times = \"utc\"\n");

    let cbc = item(&batch, "result/ACME LAB|FL2001");
    assert_eq!(cbc.created, at("2026-07-01T08:00:00Z"));
}
