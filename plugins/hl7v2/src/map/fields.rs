//! Readers for the field types every mapper shares: identifiers (CX and
//! EI), providers (XCN), coded values (CWE), times (DTM) and priorities, and
//! the patient context (PID, PD1, PV1, ROL) of a group of segments.

use std::borrow::Cow;

use switchboard_sdk::{Attribute, Priority, RosterHint, Timestamp};

use super::Fault;
use crate::config::{ProviderIds, Settings};
use crate::parse::{Component, Field, Repetition, Segment};
use crate::time::parse_dtm;

/// Reads field `n` of `segment` as a time (its first component, so the
/// older TS type with a precision component works too).
///
/// # Errors
///
/// A [`Fault`] naming the field when it contains something other than a
/// DTM.
pub(crate) fn time(
    segment: &Segment<'_>,
    n: usize,
    settings: &Settings,
) -> Result<Option<Timestamp>, Fault> {
    component_time(segment, n, 1, settings)
}

/// Reads component `component` of field `n` (first repetition) as a time.
///
/// # Errors
///
/// A [`Fault`] naming the field (and the component when it is not the
/// first) when it contains something other than a DTM.
pub(crate) fn component_time(
    segment: &Segment<'_>,
    n: usize,
    component: usize,
    settings: &Settings,
) -> Result<Option<Timestamp>, Fault> {
    let text = segment.field(n).component(component).text();
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match parse_dtm(text) {
        Ok(value) => Ok(Some(value.to_timestamp(settings.local_times))),
        Err(reason) => {
            let mut fault = Fault::at(segment, n, reason);
            if component > 1 {
                fault.field = format!("{}.{component}", fault.field);
            }
            Err(fault)
        }
    }
}

/// The first time found among `candidates` (segment and field number),
/// reading them in order and stopping at the first that is present.
///
/// # Errors
///
/// A [`Fault`] for the first candidate that is present but invalid.
pub(crate) fn first_time(
    candidates: &[(Option<Segment<'_>>, usize)],
    settings: &Settings,
) -> Result<Option<Timestamp>, Fault> {
    for (segment, n) in candidates {
        if let Some(segment) = segment
            && let Some(at) = time(segment, *n, settings)?
        {
            return Ok(Some(at));
        }
    }
    Ok(None)
}

/// Joins an id and its assigning authority as `authority|id`, the FHIR
/// token form, or returns the id alone when there is no authority.
pub(crate) fn qualify(id: &str, authority: &str) -> String {
    if authority.is_empty() {
        id.to_string()
    } else {
        format!("{authority}|{id}")
    }
}

/// The namespace id of an HD value held in a component, else its universal
/// id.
fn authority(component: Component<'_>) -> Cow<'_, str> {
    let namespace = component.subcomponent(1).text();
    if namespace.trim().is_empty() {
        component.subcomponent(2).text()
    } else {
        namespace
    }
}

/// An extended composite id (CX, as in PID-3 and PV1-19): the first
/// repetition with a non-empty CX-1, written with its CX-4 assigning
/// authority when there is one.
pub(crate) fn identifier(field: Field<'_>) -> Option<String> {
    field.repetitions().find_map(|repetition| {
        let id = repetition.component(1).text();
        let id = id.trim();
        if id.is_empty() {
            return None;
        }
        Some(qualify(id, authority(repetition.component(4)).trim()))
    })
}

/// An entity identifier (EI, as in OBR-3 and TXA-12): EI-1 written with its
/// EI-2 namespace (else EI-3 universal id) when there is one.
pub(crate) fn entity(field: Field<'_>) -> Option<String> {
    let repetition = field.repetition(1);
    let id = repetition.component(1).text();
    let id = id.trim();
    if id.is_empty() {
        return None;
    }
    let namespace = repetition.component(2).text();
    let namespace = if namespace.trim().is_empty() {
        repetition.component(3).text()
    } else {
        namespace
    };
    Some(qualify(id, namespace.trim()))
}

/// A provider reference from an XCN field (OBR-16, PV1-7, TXA-5): XCN-1 of
/// the first repetition that has one, qualified by XCN-9 when the site's
/// `provider_ids` setting is `qualified`.
pub(crate) fn provider(field: Field<'_>, ids: ProviderIds) -> Option<String> {
    field
        .repetitions()
        .find_map(|repetition| provider_id(repetition, ids))
}

/// The provider reference of one XCN repetition.
pub(crate) fn provider_id(repetition: Repetition<'_>, ids: ProviderIds) -> Option<String> {
    let id = repetition.component(1).text();
    let id = id.trim();
    if id.is_empty() {
        return None;
    }
    match ids {
        ProviderIds::Id => Some(id.to_string()),
        ProviderIds::Qualified => Some(qualify(id, authority(repetition.component(9)).trim())),
    }
}

/// A roster hint for every XCN repetition of `field` that has an id.
pub(crate) fn roster_hints(
    field: Field<'_>,
    role: &str,
    ids: ProviderIds,
    hints: &mut Vec<RosterHint>,
) {
    for repetition in field.repetitions() {
        let Some(ehr_id) = provider_id(repetition, ids) else {
            continue;
        };
        if hints
            .iter()
            .any(|h| h.ehr_id == ehr_id && h.role_code.as_deref() == Some(role))
        {
            continue;
        }
        hints.push(RosterHint {
            ehr_id,
            name: provider_name(repetition),
            role_code: Some(role.to_string()),
        });
    }
}

/// A practitioner's display name from XCN-2 (family) and XCN-3 (given),
/// written `Family, Given`.
fn provider_name(repetition: Repetition<'_>) -> Option<String> {
    let family = repetition.component(2).text();
    let given = repetition.component(3).text();
    match (family.trim(), given.trim()) {
        ("", "") => None,
        (family, "") => Some(family.to_string()),
        ("", given) => Some(given.to_string()),
        (family, given) => Some(format!("{family}, {given}")),
    }
}

/// The identifier (component 1) of a coded field, trimmed.
pub(crate) fn code<'a>(field: Field<'a>) -> Cow<'a, str> {
    trimmed(field.component(1).text())
}

/// The readable text of a coded field (CE, CWE): the text (component 2),
/// else the original text (component 9), else the alternate text
/// (component 5), else the code.
pub(crate) fn coded_text<'a>(field: Field<'a>) -> Option<Cow<'a, str>> {
    [2, 9, 5, 1]
        .into_iter()
        .map(|n| trimmed(field.component(n).text()))
        .find(|text| !text.is_empty())
}

fn trimmed(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
        Cow::Owned(s) if s.trim().len() == s.len() => Cow::Owned(s),
        Cow::Owned(s) => Cow::Owned(s.trim().to_string()),
    }
}

/// Maps an HL7 priority code (table 0027 and TQ1-9): S stat, A asap,
/// T (timing critical) urgent, R routine. Other codes (P preoperative,
/// C callback, PRN) give `None`, so the next source is read.
pub(crate) fn priority(code: &str) -> Option<Priority> {
    match code.trim() {
        "S" => Some(Priority::Stat),
        "A" => Some(Priority::Asap),
        "T" => Some(Priority::Urgent),
        "R" => Some(Priority::Routine),
        _ => None,
    }
}

/// The priority of an order group: TQ1-9, else the sixth component of a
/// quantity/timing field (OBR-27 or ORC-7), else a plain priority field
/// (OBR-5), else routine.
pub(crate) fn order_priority(
    tq1: Option<Segment<'_>>,
    timing: &[(Option<Segment<'_>>, usize)],
    plain: Option<(Segment<'_>, usize)>,
) -> Priority {
    let from_tq1 = tq1.and_then(|tq1| priority(&code(tq1.field(9))));
    let from_timing = || {
        timing.iter().find_map(|(segment, n)| {
            segment.and_then(|s| priority(&s.field(*n).component(6).text()))
        })
    };
    let from_plain = || plain.and_then(|(segment, n)| priority(&code(segment.field(n))));
    from_tq1
        .or_else(from_timing)
        .or_else(from_plain)
        .unwrap_or(Priority::Routine)
}

/// An attribute.
pub(crate) fn attribute(key: &str, value: impl Into<String>) -> Attribute {
    Attribute {
        key: key.to_string(),
        value: value.into(),
    }
}

/// Pushes an attribute when `value` is not empty.
pub(crate) fn push_attribute(attributes: &mut Vec<Attribute>, key: &str, value: &str) {
    let value = value.trim();
    if !value.is_empty() {
        attributes.push(attribute(key, value));
    }
}

/// The patient-level facts of a group of segments, read from the first PID,
/// PD1 and PV1 segments in it and its ROL segments.
#[derive(Clone, Debug, Default)]
pub(crate) struct PatientContext<'a> {
    pub(crate) pv1: Option<Segment<'a>>,
    /// PID-3 (else PID-2, else PID-4) as `authority|id`.
    pub(crate) patient: Option<String>,
    /// PV1-19, the visit number, as `authority|id`.
    pub(crate) encounter: Option<String>,
    /// PD1-4, else the person of a ROL segment with role PP.
    pub(crate) pcp: Option<String>,
}

impl<'a> PatientContext<'a> {
    /// Reads the context from `segments`.
    pub(crate) fn read(segments: &[Segment<'a>], settings: &Settings) -> Self {
        let find = |name: &str| segments.iter().find(|s| s.is(name)).copied();
        let pid = find("PID");
        let pv1 = find("PV1");

        let patient =
            pid.and_then(|pid| [3, 2, 4].into_iter().find_map(|n| identifier(pid.field(n))));
        let encounter = pv1.and_then(|pv1| identifier(pv1.field(19)));
        let from_pd1 = find("PD1").and_then(|pd1| provider(pd1.field(4), settings.provider_ids));
        let from_rol = || {
            segments
                .iter()
                .filter(|s| s.is("ROL") && code(s.field(3)) == "PP")
                .find_map(|rol| provider(rol.field(4), settings.provider_ids))
        };

        PatientContext {
            pv1,
            patient,
            encounter,
            pcp: from_pd1.or_else(from_rol),
        }
    }

    /// PV1-7, the attending doctor.
    pub(crate) fn attending(&self, settings: &Settings) -> Option<String> {
        self.pv1
            .and_then(|pv1| provider(pv1.field(7), settings.provider_ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Message;

    fn segment<'a>(message: &Message<'a>, name: &str) -> Segment<'a> {
        message.segment(name).unwrap()
    }

    /// Builds a segment with `values` at the given field numbers.
    fn build(name: &str, values: &[(usize, &str)]) -> String {
        let last = values.iter().map(|(n, _)| *n).max().unwrap_or(0);
        let fields: Vec<&str> = (1..=last)
            .map(|n| values.iter().find(|(k, _)| *k == n).map_or("", |(_, v)| *v))
            .collect();
        format!("{name}|{}", fields.join("|"))
    }

    #[test]
    fn identifier_includes_authority() {
        let message =
            Message::parse("MSH|^~\\&\rPID|1||~12345^^^HOSP&1.2.3&ISO^MR~999^^^SSA^SS").unwrap();

        assert_eq!(
            identifier(segment(&message, "PID").field(3)),
            Some("HOSP|12345".to_string())
        );
    }

    #[test]
    fn identifier_falls_back_to_universal_id() {
        let message = Message::parse("MSH|^~\\&\rPID|1||12345^^^&1.2.3&ISO").unwrap();

        assert_eq!(
            identifier(segment(&message, "PID").field(3)),
            Some("1.2.3|12345".to_string())
        );
    }

    #[test]
    fn entity_uses_namespace() {
        let message = Message::parse("MSH|^~\\&\rOBR|1|P1|F9^LAB^2.16.1^ISO").unwrap();
        let obr = segment(&message, "OBR");

        assert_eq!(entity(obr.field(3)), Some("LAB|F9".to_string()));
        assert_eq!(entity(obr.field(2)), Some("P1".to_string()));
        assert_eq!(entity(obr.field(4)), None);
    }

    #[test]
    fn provider_ids_follow_setting() {
        let obr = build(
            "OBR",
            &[(1, "1"), (16, "^NOID~57422^Radon^Nicholas^^^^^^NIST-AA-1")],
        );
        let text = format!("MSH|^~\\&\r{obr}");
        let message = Message::parse(&text).unwrap();
        let field = segment(&message, "OBR").field(16);

        assert_eq!(provider(field, ProviderIds::Id), Some("57422".to_string()));
        assert_eq!(
            provider(field, ProviderIds::Qualified),
            Some("NIST-AA-1|57422".to_string())
        );
    }

    #[test]
    fn coded_text_prefers_text() {
        let obr = build("OBR", &[(1, "1"), (4, "57021-8^CBC^LN"), (27, "^^^^^S")]);
        let tq1 = build("TQ1", &[(1, "1"), (9, "A^ASAP^HL70485")]);
        let text = format!("MSH|^~\\&\r{obr}\r{tq1}");
        let message = Message::parse(&text).unwrap();
        let obr = segment(&message, "OBR");

        assert_eq!(coded_text(obr.field(4)).as_deref(), Some("CBC"));
        assert_eq!(coded_text(obr.field(5)), None);
        assert_eq!(
            order_priority(None, &[(Some(obr), 27)], None),
            Priority::Stat
        );
        assert_eq!(
            order_priority(message.segment("TQ1"), &[(Some(obr), 27)], None),
            Priority::Asap
        );
        assert_eq!(
            order_priority(None, &[(Some(obr), 26)], None),
            Priority::Routine
        );
    }

    #[test]
    fn pcp_comes_from_pd1_or_rol() {
        let message =
            Message::parse("MSH|^~\\&\rPID|1||7\rROL|1|AD|PP^Primary Care Provider|881^Lee^Ana")
                .unwrap();

        let context = PatientContext::read(message.segments(), &Settings::default());

        assert_eq!(context.pcp, Some("881".to_string()));
        assert_eq!(context.patient, Some("7".to_string()));
    }

    #[test]
    fn roster_hints_carry_names_and_roles() {
        let message =
            Message::parse("MSH|^~\\&\rPV1|1|O|||||0210^ATTEND^AARON^A~0210^ATTEND^AARON").unwrap();
        let mut hints = Vec::new();

        roster_hints(
            segment(&message, "PV1").field(7),
            "AT",
            ProviderIds::Id,
            &mut hints,
        );

        assert_eq!(
            hints,
            [RosterHint {
                ehr_id: "0210".to_string(),
                name: Some("ATTEND, AARON".to_string()),
                role_code: Some("AT".to_string()),
            }]
        );
    }
}
