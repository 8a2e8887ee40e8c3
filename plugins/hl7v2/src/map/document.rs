//! MDM^T01–T11: a chart event for the visit and a `visit-note` item for the
//! document.

use switchboard_sdk::{
    Batch, Category, ChartChange, ChartEvent, EhrState, Event, Timestamp, WorkItem,
};

use super::fields::{self, PatientContext, entity, first_time, provider, push_attribute};
use super::version::time_first;
use super::{Context, Fault, Outcome};
use crate::parse::Segment;

/// TXA-17 (HL7 table 0271), document completion status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Completion {
    /// AU (authenticated) or LA (legally authenticated).
    Signed,
    /// DI (dictated), DO (documented), IP (in progress), IN (incomplete) or
    /// PA (pre-authenticated).
    Open,
}

fn completion(txa: &Segment<'_>) -> Result<Completion, Fault> {
    match &*fields::code(txa.field(17)) {
        "AU" | "LA" => Ok(Completion::Signed),
        "DI" | "DO" | "IP" | "IN" | "PA" => Ok(Completion::Open),
        "" => Err(Fault::at(
            txa,
            17,
            "the document completion status is missing; expected AU, LA, DI, DO, IP, IN or PA",
        )),
        _ => Err(Fault::at(
            txa,
            17,
            "the document completion status is not a code of HL7 table 0271 (AU, LA, DI, DO, IP, IN, PA)",
        )),
    }
}

/// Readable names of HL7 table 0270 document types, for item titles.
const DOCUMENT_TYPES: &[(&str, &str)] = &[
    ("AR", "autopsy report"),
    ("CD", "cardiodiagnostics"),
    ("CN", "consultation"),
    ("DI", "diagnostic imaging"),
    ("DS", "discharge summary"),
    ("ED", "emergency department report"),
    ("HP", "history and physical"),
    ("OP", "operative report"),
    ("PC", "psychiatric consultation"),
    ("PH", "psychiatric history and physical"),
    ("PN", "procedure note"),
    ("PR", "progress note"),
    ("SP", "surgical pathology"),
    ("TS", "transfer summary"),
];

/// Maps a document notification.
pub(crate) fn map(context: &Context<'_, '_>, trigger: &str) -> Result<Outcome, Fault> {
    let settings = context.settings;
    let message = context.message;
    let txa = message
        .segment("TXA")
        .ok_or_else(|| Fault::missing("TXA", "the document message has no TXA segment"))?;

    let document_type = fields::code(txa.field(2));
    if !settings.note_types.is_empty() && !settings.note_types.iter().any(|t| *t == *document_type)
    {
        return Ok(Outcome::Ignored(
            "its TXA-2 document type is not listed under note_types",
        ));
    }

    let message_time = context.message_time()?;
    let patient = PatientContext::read(message.segments(), settings);
    let cancelled = trigger == "T11";
    let amendment = matches!(trigger, "T05" | "T06" | "T07" | "T08" | "T09" | "T10");
    let completion = if cancelled {
        completion(&txa).unwrap_or(Completion::Open)
    } else {
        completion(&txa)?
    };
    let document = entity(txa.field(12));
    let key = match (&document, &patient.encounter) {
        (Some(document), _) => format!("note/{document}"),
        (None, Some(encounter)) => format!("note/encounter/{encounter}"),
        (None, None) => {
            return Err(Fault::at(
                &txa,
                12,
                "the document has no unique document number and the message no visit number (PV1-19) to key it by",
            ));
        }
    };
    let clinician = [5, 22, 9]
        .into_iter()
        .find_map(|n| provider(txa.field(n), settings.provider_ids))
        .or_else(|| patient.attending(settings));

    let (state, rank) = match (cancelled, completion) {
        (true, _) => (EhrState::Cancelled, 4),
        (false, Completion::Signed) if amendment => (EhrState::Done, 3),
        (false, Completion::Signed) => (EhrState::Done, 2),
        (false, Completion::Open) => (EhrState::Open, 1),
    };
    let created = first_time(&[(Some(txa), 6), (Some(txa), 4)], settings)?.unwrap_or(message_time);
    let title = title(&txa, &document_type);

    let mut item = WorkItem::new(
        key.clone(),
        time_first(message_time, rank),
        Category::VisitNote,
        title,
        created,
    );
    item.state = state;
    item.patient = patient.patient.clone();
    item.encounter = patient.encounter.clone();
    item.rendering = clinician.clone();
    item.pcp = patient.pcp.clone();
    push_attribute(&mut item.attributes, "document_type", &document_type);
    push_attribute(
        &mut item.attributes,
        "completion_status",
        &fields::code(txa.field(17)),
    );
    push_attribute(&mut item.attributes, "event", trigger);

    let mut batch = Batch::default();
    if let Some(parent) = replaced_document(&txa, trigger, message_time, &item) {
        batch.items.push(parent);
    }
    if !cancelled {
        let change = match completion {
            Completion::Signed if amendment => ChartChange::Amended,
            Completion::Signed => ChartChange::Signed,
            Completion::Open => ChartChange::Opened,
        };
        batch.events.push(Event::Chart(chart_event(
            context,
            &txa,
            &patient,
            &key,
            clinician,
            change,
            message_time,
        )?));
    }
    batch.items.push(item);
    Ok(Outcome::Mapped(batch))
}

/// The item title: TXA-2 text, else the table 0270 name of its code, else
/// the code, else `visit note`.
fn title(txa: &Segment<'_>, code: &str) -> String {
    let text = txa.field(2).component(2).text();
    if !text.trim().is_empty() {
        return text.trim().to_string();
    }
    match DOCUMENT_TYPES.iter().find(|(c, _)| *c == code) {
        Some((_, name)) => (*name).to_string(),
        None if !code.is_empty() => code.to_string(),
        None => "visit note".to_string(),
    }
}

/// For a replacement (T09, T10), the replaced document named in TXA-13,
/// cancelled: its note is superseded by the new one.
fn replaced_document(
    txa: &Segment<'_>,
    trigger: &str,
    message_time: Timestamp,
    replacement: &WorkItem,
) -> Option<WorkItem> {
    if !matches!(trigger, "T09" | "T10") {
        return None;
    }
    let parent = entity(txa.field(13))?;
    let mut item = WorkItem::new(
        format!("note/{parent}"),
        time_first(message_time, 4),
        Category::VisitNote,
        replacement.title.clone(),
        replacement.created,
    );
    item.state = EhrState::Cancelled;
    item.patient = replacement.patient.clone();
    item.encounter = replacement.encounter.clone();
    item.rendering = replacement.rendering.clone();
    item.attributes.push(fields::attribute(
        "replaced_by",
        replacement.external_id.clone(),
    ));
    Some(item)
}

/// The chart event: keyed by the visit number (PV1-19), else by the note's
/// key. The visit ended at PV1-45, else TXA-4 (activity time), else MSH-7.
/// A signature happened at TXA-22.15 (authentication time), else TXA-8
/// (edit time), else EVN-2, else MSH-7; other changes at TXA-8, EVN-2 or
/// MSH-7.
fn chart_event(
    context: &Context<'_, '_>,
    txa: &Segment<'_>,
    patient: &PatientContext<'_>,
    key: &str,
    clinician: Option<String>,
    change: ChartChange,
    message_time: Timestamp,
) -> Result<ChartEvent, Fault> {
    let settings = context.settings;
    let evn = context.message.segment("EVN");
    let visit_ended =
        first_time(&[(patient.pv1, 45), (Some(*txa), 4)], settings)?.unwrap_or(message_time);
    let signed_at = match change {
        ChartChange::Signed | ChartChange::Amended => authentication_time(txa, settings)?,
        ChartChange::Opened => None,
    };
    let at = match signed_at {
        Some(at) => at,
        None => first_time(&[(Some(*txa), 8), (evn, 2)], settings)?.unwrap_or(message_time),
    };

    Ok(ChartEvent {
        encounter: patient.encounter.clone().unwrap_or_else(|| key.to_string()),
        patient: patient.patient.clone(),
        clinician,
        change,
        visit_ended,
        at,
    })
}

/// The first authentication time in TXA-22 (component 15 of each
/// repetition).
fn authentication_time(
    txa: &Segment<'_>,
    settings: &crate::config::Settings,
) -> Result<Option<Timestamp>, Fault> {
    let field = txa.field(22);
    for repetition in field.repetitions() {
        let text = repetition.component(15).text();
        if text.trim().is_empty() {
            continue;
        }
        return match crate::time::parse_dtm(&text) {
            Ok(value) => Ok(Some(value.to_timestamp(settings.local_times))),
            Err(reason) => Err(Fault {
                segment: Some(txa.index()),
                field: "TXA-22.15".to_string(),
                message: reason,
            }),
        };
    }
    Ok(None)
}
