//! HL7 v2.5.1 messages of a simulated site: ORU^R01 for results (OBX-8
//! abnormal flags), MDM^T02 when a visit's note is created (TXA-17 `IP`)
//! and MDM^T04 when it is signed (TXA-17 `AU`, signing time in TXA-22.15),
//! and SIU^S12 for booked appointments.
//!
//! Segments end in `\r`. Times carry the site's UTC offset. Provider
//! fields (XCN) carry the roster id in component 1, which a site roster
//! resolves as the person's own id. Patients are `sim-<site>-<n>` under
//! the assigning authority `SIM`. Text is escaped with HL7's `\F\ \S\ \T\
//! \R\ \E\` sequences.

use chrono::TimeZone;
use chrono_tz::Tz;
use switchboard_sdk::{Priority, Timestamp};

use super::fhir::FeedMessage;
use super::generate::{ItemDetail, SimAppointment, SimEncounter, SimItem};
use super::output::SiteOutput;
use crate::local::{local_date, local_instant};

/// Content type of pipe-delimited HL7 v2 messages.
pub const HL7_V2: &str = "application/hl7-v2";

/// Formats an HL7 DTM in the site's offset, such as `20260309082000-0500`.
pub fn hl7_time(zone: Tz, at: Timestamp) -> String {
    zone.from_utc_datetime(&at.to_utc().naive_utc())
        .format("%Y%m%d%H%M%S%z")
        .to_string()
}

/// Escapes the delimiters `| ^ ~ \ &` in `text`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '&' => out.push_str("\\T\\"),
            '~' => out.push_str("\\R\\"),
            '\\' => out.push_str("\\E\\"),
            '\r' | '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Builds a segment from `(field number, value)` pairs; unlisted fields are
/// empty. Values are written as given, so escape text before passing it.
fn segment(name: &str, fields: &[(usize, String)]) -> String {
    let last = fields.iter().map(|(n, _)| *n).max().unwrap_or(0);
    let mut out = name.to_string();
    for n in 1..=last {
        out.push('|');
        if let Some((_, value)) = fields.iter().find(|(k, _)| *k == n) {
            out.push_str(value);
        }
    }
    out
}

fn msh(site: &str, sender: &str, at: &str, kind: &str, control: &str) -> String {
    // MSH-1 is the field separator itself and MSH-2 the encoding
    // characters, so the header is written out rather than built.
    format!("MSH|^~\\&|{sender}|{site}|SWITCHBOARD|{site}|{at}||{kind}|{control}|P|2.5.1")
}

fn message(segments: &[String]) -> String {
    let mut out = segments.join("\r");
    out.push('\r');
    out
}

/// Formats the PID-3 identifier of a `Patient/sim-…` reference.
fn patient_id(patient: &str) -> String {
    let id = patient.strip_prefix("Patient/").unwrap_or(patient);
    format!("{}^^^SIM^MR", escape(id))
}

fn provider(id: &str) -> String {
    escape(id)
}

fn pid(patient: &str) -> String {
    segment("PID", &[(1, "1".into()), (3, patient_id(patient))])
}

fn priority_code(priority: Priority) -> &'static str {
    match priority {
        Priority::Stat => "S",
        Priority::Asap => "A",
        Priority::Urgent => "A",
        Priority::Routine => "R",
    }
}

/// Builds the ORU^R01 of a result, or `None` for other items.
pub fn oru_r01(zone: Tz, site: &str, item: &SimItem, control: &str) -> Option<String> {
    let ItemDetail::Result {
        panel,
        order_id,
        collected,
        observations,
    } = &item.detail
    else {
        return None;
    };
    let work = &item.item;
    let reported = hl7_time(zone, work.created);
    let ordering = item.ordering.as_deref().map(provider).unwrap_or_default();
    let service = format!("{}^{}^LN", panel.loinc, escape(panel.name));

    let mut segments = vec![
        msh(site, "SIMLAB", &reported, "ORU^R01^ORU_R01", control),
        pid(work.patient.as_deref().unwrap_or_default()),
        segment("PD1", &[(4, provider(&item.pcp))]),
        segment("PV1", &[(1, "1".into()), (2, "O".into())]),
        segment(
            "ORC",
            &[
                (1, "RE".into()),
                (2, format!("{order_id}^SIM")),
                (3, format!("{}^SIMLAB", item.resource_id)),
                (12, ordering.clone()),
            ],
        ),
        segment(
            "OBR",
            &[
                (1, "1".into()),
                (2, format!("{order_id}^SIM")),
                (3, format!("{}^SIMLAB", item.resource_id)),
                (4, service),
                (7, hl7_time(zone, *collected)),
                (16, ordering),
                (22, reported.clone()),
                (25, "F".into()),
            ],
        ),
        segment(
            "TQ1",
            &[(1, "1".into()), (9, priority_code(work.priority).into())],
        ),
    ];
    for (n, observation) in observations.iter().enumerate() {
        let analyte = &observation.analyte;
        segments.push(segment(
            "OBX",
            &[
                (1, (n + 1).to_string()),
                (2, "NM".into()),
                (3, format!("{}^{}^LN", analyte.loinc, escape(analyte.name))),
                (5, format!("{:.*}", analyte.decimals, observation.value)),
                (6, escape(analyte.unit)),
                (
                    7,
                    format!(
                        "{:.*}-{:.*}",
                        analyte.decimals, analyte.low, analyte.decimals, analyte.high
                    ),
                ),
                (8, observation.interpretation.into()),
                (11, "F".into()),
                (14, hl7_time(zone, *collected)),
            ],
        ));
    }
    Some(message(&segments))
}

/// Builds the MDM of a visit's note: T02 (`IP`, in progress) when `signed` is
/// `None`, else T04 (`AU`, authenticated) with the signing time.
pub fn mdm(
    zone: Tz,
    site: &str,
    encounter: &SimEncounter,
    signed: Option<Timestamp>,
    control: &str,
) -> String {
    let (trigger, status, at) = match signed {
        Some(at) => ("T04", "AU", at),
        None => ("T02", "IP", encounter.end),
    };
    let at_text = hl7_time(zone, at);
    let clinician = provider(&encounter.clinician);
    let mut txa = vec![
        (1, "1".to_string()),
        (2, "PN^Progress note^HL70270".to_string()),
        (3, "TX".to_string()),
        (4, hl7_time(zone, encounter.start)),
        (5, clinician.clone()),
        (6, hl7_time(zone, encounter.end)),
        (12, format!("{}-note^SIM", escape(&encounter.id))),
        (17, status.to_string()),
    ];
    if signed.is_some() {
        // XCN component 15 is the authentication time.
        txa.push((22, format!("{clinician}{}{at_text}", "^".repeat(14))));
    }

    message(&[
        msh(
            site,
            "SIMEHR",
            &at_text,
            &format!("MDM^{trigger}^MDM_T02"),
            control,
        ),
        segment("EVN", &[(1, trigger.into()), (2, at_text.clone())]),
        pid(&encounter.patient),
        segment(
            "PV1",
            &[
                (1, "1".into()),
                (2, "O".into()),
                (7, clinician),
                (19, format!("{}^^^SIM^VN", escape(&encounter.id))),
                (44, hl7_time(zone, encounter.start)),
                (45, hl7_time(zone, encounter.end)),
            ],
        ),
        segment("TXA", &txa),
    ])
}

/// Builds the SIU^S12 of a booked appointment, sent at `booked`.
pub fn siu_s12(
    zone: Tz,
    site: &str,
    appointment: &SimAppointment,
    booked: Timestamp,
    control: &str,
) -> String {
    let start = hl7_time(zone, appointment.start);
    let end = hl7_time(zone, appointment.end);
    let minutes = appointment.end.minutes_since(appointment.start).to_string();
    let kind = format!(
        "{}^{}^HL70276",
        appointment.visit_code,
        escape(appointment.visit_text)
    );
    message(&[
        msh(
            site,
            "SIMEHR",
            &hl7_time(zone, booked),
            "SIU^S12^SIU_S12",
            control,
        ),
        segment(
            "SCH",
            &[
                (1, format!("{}^SIM", escape(&appointment.id))),
                (2, format!("{}^SIM", escape(&appointment.id))),
                (6, "NEW".into()),
                (7, kind.clone()),
                (8, "ROUTINE".into()),
                (9, minutes),
                (10, "min".into()),
            ],
        ),
        segment("TQ1", &[(1, "1".into()), (7, start.clone()), (8, end)]),
        pid(&appointment.patient),
        segment("RGS", &[(1, "1".into())]),
        segment("AIS", &[(1, "1".into()), (3, kind), (4, start)]),
        segment(
            "AIP",
            &[
                (1, "1".into()),
                (3, provider(&appointment.clinician)),
                (4, "MD^Physician".into()),
            ],
        ),
    ])
}

/// A message of the feed before its control id is known.
enum Pending<'a> {
    Schedule(&'a SimAppointment, Timestamp),
    Note(&'a SimEncounter, Option<Timestamp>),
    Result(&'a SimItem),
}

/// Builds every HL7 message of the site in time order: SIU^S12 per appointment
/// (at the start of its visit date), MDM^T02 at each visit's end, MDM^T04
/// at each signature and ORU^R01 per result. Control ids are
/// `<site>-<n>`, numbered in time order.
pub fn feed(site: &SiteOutput) -> Vec<FeedMessage> {
    let zone = site.facts().zone;
    let id = site.id();

    let mut pending: Vec<(Timestamp, String, Pending<'_>)> = Vec::new();
    for a in &site.appointments {
        let booked = local_instant(zone, local_date(zone, a.start), 0);
        pending.push((
            booked,
            format!("SIU {}", a.id),
            Pending::Schedule(a, booked),
        ));
    }
    for (i, e) in site.encounters.iter().enumerate() {
        pending.push((e.end, format!("MDM {} open", e.id), Pending::Note(e, None)));
        if let Some(at) = site.outcome.signed[i] {
            pending.push((
                at,
                format!("MDM {} signed", e.id),
                Pending::Note(e, Some(at)),
            ));
        }
    }
    for item in site
        .items
        .iter()
        .filter(|i| matches!(i.detail, ItemDetail::Result { .. }))
    {
        pending.push((
            item.item.created,
            format!("ORU {}", item.resource_id),
            Pending::Result(item),
        ));
    }
    pending.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));

    pending
        .into_iter()
        .enumerate()
        .map(|(n, (at, _, what))| {
            let control = format!("{id}-{}", n + 1);
            let body = match what {
                Pending::Schedule(appointment, booked) => {
                    siu_s12(zone, id, appointment, booked, &control)
                }
                Pending::Note(encounter, signed) => mdm(zone, id, encounter, signed, &control),
                Pending::Result(item) => oru_r01(zone, id, item, &control).unwrap_or_default(),
            };
            FeedMessage {
                at,
                content_type: HL7_V2,
                key: control,
                body,
            }
        })
        .collect()
}

/// Selects the messages of [`feed`] sent on local `date`.
pub fn day_messages(site: &SiteOutput, date: chrono::NaiveDate) -> Vec<FeedMessage> {
    let zone = site.facts().zone;
    feed(site)
        .into_iter()
        .filter(|m| local_date(zone, m.at) == date)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_replaces_delimiters() {
        assert_eq!(escape("a|b^c&d~e\\f"), "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f");
    }

    #[test]
    fn segment_fills_skipped_fields() {
        assert_eq!(
            segment("PV1", &[(1, "1".into()), (3, "x".into())]),
            "PV1|1||x"
        );
    }

    #[test]
    fn time_carries_offset() {
        let chicago: Tz = "America/Chicago".parse().unwrap();
        let at = Timestamp::parse_rfc3339("2026-03-09T13:20:00Z").unwrap();

        assert_eq!(hl7_time(chicago, at), "20260309082000-0500");
    }
}
