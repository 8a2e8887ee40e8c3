//! The output forms: chart events, day slices, the site file, FHIR and HL7.

use switchboard_sdk::{ChartChange, Priority};

use super::at;
use crate::sim::*;

fn small_run() -> SimOutput {
    let mut config = PracticeConfig::default();
    config.sites.truncate(1);
    run(&config, 3, 11, &mut PhysicianDefault).unwrap()
}

#[test]
fn site_file_parses_as_roster() {
    let output = small_run();
    let site = &output.sites[0];

    let text = site.site_toml().unwrap();
    let parsed = switchboard_sdk::site::parse_site(&text).unwrap();

    assert_eq!(parsed, site.roster());
    assert!(text.contains("closing_time = \"18:00\""));
    assert!(text.contains("fallback_owner = \"dr-lee\""));
}

#[test]
fn chart_events_open_then_sign() {
    let output = small_run();
    let site = &output.sites[0];

    let events = site.chart_events();

    let opened = events
        .iter()
        .filter(|e| e.change == ChartChange::Opened)
        .count();
    let signed = events
        .iter()
        .filter(|e| e.change == ChartChange::Signed)
        .count();
    assert_eq!(opened, site.encounters.len());
    assert_eq!(signed, site.outcome.signed.iter().flatten().count());
    assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
}

#[test]
fn day_output_partitions_the_run() {
    let output = small_run();
    let site = &output.sites[0];

    let items: usize = output.range.dates().map(|d| site.day(d).items.len()).sum();
    let completions: usize = output
        .range
        .dates()
        .map(|d| site.day(d).completions.len())
        .sum();

    assert_eq!(items, site.items.len());
    assert_eq!(completions, site.completions().len());
}

/// True when `id` is a valid FHIR id: 1 to 64 letters, digits, `-`, `.`.
fn is_fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

fn resources_of(body: &serde_json::Value) -> Vec<serde_json::Value> {
    if body["resourceType"] == "Bundle" {
        body["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"].clone())
            .collect()
    } else {
        vec![body.clone()]
    }
}

#[test]
fn fhir_feed_is_valid_json_with_fhir_ids() {
    let output = small_run();

    let feed = fhir::feed(&output.sites[0]);

    assert!(feed.windows(2).all(|w| w[0].at <= w[1].at));
    for message in &feed {
        let body: serde_json::Value = serde_json::from_str(&message.body).unwrap();
        for resource in resources_of(&body) {
            let id = resource["id"].as_str().unwrap();
            assert!(is_fhir_id(id), "invalid id {id}");
            assert!(resource.get("name").is_none(), "a resource carries a name");
            assert!(
                resource.as_object().unwrap().values().all(|v| !v.is_null()),
                "null field in {id}"
            );
        }
    }
}

#[test]
fn fhir_result_carries_interpretation() {
    let output = small_run();
    let site = &output.sites[0];
    let abnormal = site
        .items
        .iter()
        .find(|i| i.kind == WorkKind::ResultAbnormal)
        .expect("three days hold an abnormal result");
    let zone = site.facts().zone;

    let resources = fhir::item_resources(zone, abnormal, None);

    let report = resources.last().unwrap();
    assert_eq!(report["resourceType"], "DiagnosticReport");
    assert_eq!(report["status"], "final");
    let codes: Vec<&str> = resources
        .iter()
        .filter(|r| r["resourceType"] == "Observation")
        .map(|r| {
            r["interpretation"][0]["coding"][0]["code"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(codes.iter().any(|c| *c == "H" || *c == "L"), "{codes:?}");
    assert!(
        codes.iter().all(|c| ["N", "H", "L"].contains(c)),
        "{codes:?}"
    );
    assert_eq!(resources[0]["resourceType"], "ServiceRequest");
    assert_eq!(
        report["basedOn"][0]["reference"],
        format!("ServiceRequest/{}", resources[0]["id"].as_str().unwrap())
    );
}

#[test]
fn fhir_note_turns_final_when_signed() {
    let output = small_run();
    let site = &output.sites[0];
    let (index, encounter) = site
        .encounters
        .iter()
        .enumerate()
        .find(|(i, _)| site.outcome.signed[*i].is_some())
        .unwrap();
    let signed = site.outcome.signed[index].unwrap();
    let zone = site.facts().zone;

    let open = fhir::note(zone, encounter, None);
    let done = fhir::note(zone, encounter, Some(signed));

    assert_eq!(open["docStatus"], "preliminary");
    assert_eq!(done["docStatus"], "final");
    assert_eq!(done["date"], fhir::fhir_time(zone, signed));
    assert_eq!(
        done["authenticator"]["reference"],
        format!("Practitioner/{}", encounter.clinician)
    );
    assert_eq!(
        done["context"]["encounter"][0]["reference"],
        format!("Encounter/{}", encounter.id)
    );
    assert_eq!(done["meta"]["versionId"], "2");
}

#[test]
fn fhir_time_uses_site_offset() {
    let chicago: chrono_tz::Tz = "America/Chicago".parse().unwrap();

    assert_eq!(
        fhir::fhir_time(chicago, at("2026-03-09T13:20:00Z")),
        "2026-03-09T08:20:00-05:00"
    );
    assert_eq!(
        fhir::fhir_time(chicago, at("2026-03-06T14:20:00Z")),
        "2026-03-06T08:20:00-06:00"
    );
}

#[test]
fn fhir_day_bundle_and_updates_split_versions() {
    let output = small_run();
    let site = &output.sites[0];
    let first = output.range.start;

    let bundle = fhir::day_bundle(site, first);
    let updates = fhir::day_updates_ndjson(site, first);

    let resources = resources_of(&bundle);
    assert!(resources.iter().all(|r| r["meta"]["versionId"] == "1"));
    let encounters = resources
        .iter()
        .filter(|r| r["resourceType"] == "Encounter")
        .count();
    assert_eq!(encounters, site.day(first).encounters.len());
    for line in updates.lines() {
        let resource: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(resource["meta"]["versionId"], "2");
    }
}

fn segments(message: &str) -> Vec<&str> {
    message.split('\r').filter(|s| !s.is_empty()).collect()
}

fn field(segment: &str, n: usize) -> &str {
    segment.split('|').nth(n).unwrap_or("")
}

#[test]
fn hl7_feed_uses_carriage_returns_and_known_types() {
    let output = small_run();

    let feed = hl7::feed(&output.sites[0]);

    for message in &feed {
        assert!(!message.body.contains('\n'));
        assert!(message.body.ends_with('\r'));
        let msh = segments(&message.body)[0];
        assert!(msh.starts_with("MSH|^~\\&|"), "{msh}");
        assert_eq!(field(msh, 9), message.key);
        let kind = field(msh, 8);
        assert!(
            [
                "ORU^R01^ORU_R01",
                "MDM^T02^MDM_T02",
                "MDM^T04^MDM_T02",
                "SIU^S12^SIU_S12"
            ]
            .contains(&kind),
            "{kind}"
        );
    }
}

#[test]
fn hl7_oru_carries_obx8_flags() {
    let output = small_run();
    let site = &output.sites[0];
    let critical_or_abnormal = site
        .items
        .iter()
        .find(|i| i.kind == WorkKind::ResultAbnormal)
        .unwrap();
    let zone = site.facts().zone;

    let message = hl7::oru_r01(zone, "northside", critical_or_abnormal, "c-1").unwrap();

    let obx: Vec<&str> = segments(&message)
        .into_iter()
        .filter(|s| s.starts_with("OBX|"))
        .collect();
    let flags: Vec<&str> = obx.iter().map(|s| field(s, 8)).collect();
    assert!(flags.iter().any(|f| *f == "H" || *f == "L"), "{flags:?}");
    let obr = segments(&message)
        .into_iter()
        .find(|s| s.starts_with("OBR|"))
        .unwrap();
    assert_eq!(field(obr, 25), "F");
    assert_eq!(
        field(obr, 16),
        critical_or_abnormal.ordering.as_deref().unwrap()
    );
}

#[test]
fn hl7_mdm_signals_signature_in_txa17() {
    let output = small_run();
    let site = &output.sites[0];
    let (index, encounter) = site
        .encounters
        .iter()
        .enumerate()
        .find(|(i, _)| site.outcome.signed[*i].is_some())
        .unwrap();
    let signed = site.outcome.signed[index].unwrap();
    let zone = site.facts().zone;

    let open = hl7::mdm(zone, "northside", encounter, None, "c-1");
    let done = hl7::mdm(zone, "northside", encounter, Some(signed), "c-2");

    let txa = |m: &str| {
        segments(m)
            .into_iter()
            .find(|s| s.starts_with("TXA|"))
            .unwrap()
            .to_string()
    };
    assert_eq!(field(&txa(&open), 17), "IP");
    assert_eq!(field(&txa(&done), 17), "AU");
    let signer = field(&txa(&done), 22).to_string();
    assert_eq!(
        signer.split('^').nth(14),
        Some(hl7::hl7_time(zone, signed).as_str())
    );
    let pv1 = segments(&done)
        .into_iter()
        .find(|s| s.starts_with("PV1|"))
        .unwrap();
    assert_eq!(field(pv1, 45), hl7::hl7_time(zone, encounter.end));
    assert_eq!(field(pv1, 19), format!("{}^^^SIM^VN", encounter.id));
}

#[test]
fn hl7_siu_names_clinician_and_start() {
    let output = small_run();
    let site = &output.sites[0];
    let appointment = &site.appointments[0];
    let zone = site.facts().zone;

    let message = hl7::siu_s12(zone, "northside", appointment, appointment.start, "c-1");

    let sch = segments(&message)
        .into_iter()
        .find(|s| s.starts_with("SCH|"))
        .unwrap();
    assert_eq!(field(sch, 2), format!("{}^SIM", appointment.id));
    let tq1 = segments(&message)
        .into_iter()
        .find(|s| s.starts_with("TQ1|"))
        .unwrap();
    assert_eq!(field(tq1, 7), hl7::hl7_time(zone, appointment.start));
    let aip = segments(&message)
        .into_iter()
        .find(|s| s.starts_with("AIP|"))
        .unwrap();
    assert_eq!(field(aip, 3), appointment.clinician);
}

#[test]
fn urgent_items_get_priority() {
    let output = small_run();

    let critical = output.sites[0]
        .items
        .iter()
        .filter(|i| i.kind == WorkKind::ResultCritical);

    assert!(
        critical
            .into_iter()
            .all(|i| i.item.priority == Priority::Stat)
    );
}
