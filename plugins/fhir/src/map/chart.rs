//! Encounters and their notes to charts: `visit-note` items and chart events.
//!
//! A chart is one encounter. The notes of a message (`Composition` and
//! `DocumentReference` resources) are grouped by the encounter they document,
//! together with the encounter itself when the message has it. When it does
//! not, the encounter is read from the server if reads are allowed.
//!
//! Note states:
//!
//! | resource | unsigned | signed (time) | amended (time) | ignored |
//! | --- | --- | --- | --- | --- |
//! | Composition `status` | `preliminary` | `final` (legal, professional or personal attester's time, else `date`) | `amended` (`meta.lastUpdated`, else `date`) | `entered-in-error` |
//! | DocumentReference `docStatus` | `preliminary` | `final` (`date`, else `meta.lastUpdated`) | `amended` (`meta.lastUpdated`, else `date`) | `entered-in-error`, or `status` `entered-in-error` |
//!
//! A DocumentReference without `docStatus` counts as the config's
//! `doc_status_default` (signed by default).
//!
//! For a finished encounter the connector emits a chart `opened` event at
//! the visit's end, a `signed` event at the first signature and an `amended`
//! event per amended note. It also emits one `visit-note` item per encounter
//! (external id `Encounter/{id}`) for the rendering clinician, open until a
//! note is signed and done after. An encounter that is cancelled or entered in
//! error withdraws the item. An encounter still in progress opens no chart.
//!
//! The rendering clinician is the encounter participant of type `PPRF`
//! (primary performer), else `ATND` (attender), else the first practitioner
//! participant, else a note's attester or author.
//!
//! The item's version puts the state above time: `(rank << 42) | millis`,
//! rank 1 for a signed or withdrawn chart and 0 for an open one. An
//! encounter page polled after its note was signed (say, because billing
//! touched the encounter later) then never reopens the chart, and an
//! unsigned addendum written after the signature does not either.

use std::collections::HashMap;
use std::rc::Rc;

use switchboard_sdk::{
    Batch, Category, ChartChange, ChartEvent, ConnectorError, EhrState, Event, Reject, Timestamp,
    WorkItem,
};

use super::{MapContext, MapError, attribute, reject};
use crate::config::DocStatusDefault;
use crate::fhir::resources::{Composition, DocumentReference, Encounter};
use crate::fhir::types::non_empty;
use crate::fhir::{Parsed, Resource};
use crate::redact;
use crate::time::{first_time, parse_time};

/// Milliseconds below the state rank in a visit-note version; 2^42 ms
/// reaches into the year 2109.
const TIME_BITS: u32 = 42;

/// Notes and encounters grouped by encounter, in the order first seen.
#[derive(Debug, Default)]
pub struct ChartBuilder {
    charts: Vec<ChartInput>,
    index: HashMap<String, usize>,
}

#[derive(Debug)]
struct ChartInput {
    /// `Encounter/{id}`, or the `urn:` of an encounter without an id.
    key: String,
    encounter: Option<(String, Rc<Parsed>)>,
    notes: Vec<(String, Rc<Parsed>)>,
}

impl ChartBuilder {
    fn chart(&mut self, key: String) -> &mut ChartInput {
        let next = self.charts.len();
        let index = *self.index.entry(key.clone()).or_insert(next);
        if index == next {
            self.charts.push(ChartInput {
                key,
                encounter: None,
                notes: Vec::new(),
            });
        }
        &mut self.charts[index]
    }

    /// Adds an encounter of the message.
    pub fn add_encounter(
        &mut self,
        location: &str,
        full_url: Option<&str>,
        parsed: Rc<Parsed>,
    ) -> Result<(), MapError> {
        let key = parsed
            .key()
            .or_else(|| full_url.map(str::to_string))
            .ok_or_else(|| {
                reject(
                    location,
                    "Encounter.id",
                    "missing; a chart needs the encounter's id",
                )
            })?;
        self.chart(key).encounter = Some((location.to_string(), parsed));
        Ok(())
    }

    /// Adds a note of the message under the encounter it documents.
    ///
    /// # Errors
    ///
    /// A reject when the note names no encounter.
    pub fn add_note(
        &mut self,
        context: &MapContext<'_>,
        location: &str,
        parsed: Rc<Parsed>,
    ) -> Result<(), MapError> {
        let (reference, field) = match &parsed.body {
            Resource::Composition(note) => (note.encounter.as_ref(), "Composition.encounter"),
            Resource::DocumentReference(note) => (
                note.context.as_ref().and_then(|c| c.encounter.first()),
                "DocumentReference.context.encounter",
            ),
            _ => return Ok(()),
        };
        let key = reference
            .and_then(|r| context.normalize(r))
            .ok_or_else(|| {
                reject(
                    location,
                    field,
                    format!(
                        "missing; {} documents no encounter, so it is not a visit note",
                        parsed.label()
                    ),
                )
            })?;
        self.chart(key).notes.push((location.to_string(), parsed));
        Ok(())
    }

    /// Builds every chart into `batch`.
    ///
    /// # Errors
    ///
    /// The first failed read of an encounter.
    pub fn finish(
        self,
        context: &mut MapContext<'_>,
        batch: &mut Batch,
    ) -> Result<(), ConnectorError> {
        for chart in self.charts {
            let mut rejects = Vec::new();
            match build(context, chart, &mut rejects) {
                Ok(Some((item, events))) => {
                    batch.items.push(item);
                    batch.events.extend(events);
                }
                Ok(None) => {}
                Err(MapError::Reject(reject)) => rejects.push(reject),
                Err(MapError::Fatal(error)) => return Err(error),
            }
            batch.rejects.extend(rejects);
        }
        Ok(())
    }
}

/// A note's effect on the chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NoteState {
    Unsigned,
    Signed(Timestamp),
    Amended(Timestamp),
}

/// The parts of one note a chart uses.
#[derive(Debug)]
struct NoteView {
    state: NoteState,
    signer: Option<String>,
    patient: Option<String>,
    visit_end: Option<Timestamp>,
    changed: Option<Timestamp>,
}

fn build(
    context: &mut MapContext<'_>,
    chart: ChartInput,
    rejects: &mut Vec<Reject>,
) -> Result<Option<(WorkItem, Vec<Event>)>, MapError> {
    let (location, encounter) = locate_encounter(context, &chart)?;

    let mut notes = Vec::new();
    for (note_location, parsed) in &chart.notes {
        match view_note(context, note_location, parsed) {
            Ok(Some(view)) => notes.push(view),
            Ok(None) => {}
            Err(MapError::Reject(reject)) => rejects.push(reject),
            Err(fatal) => return Err(fatal),
        }
    }

    let encounter_view = encounter.as_ref().and_then(|e| match &e.body {
        Resource::Encounter(encounter) => Some(encounter),
        _ => None,
    });
    if let Some(view) = encounter_view {
        if let Some(withdrawn) = withdrawn_chart(&location, &chart.key, encounter.as_deref(), view)?
        {
            return Ok(Some((withdrawn, Vec::new())));
        }
        check_class(context, &location, view)?;
    } else if notes.is_empty() {
        return Ok(None);
    }

    let visit_ended = visit_end(encounter_view, &notes).ok_or_else(|| {
        let field = if encounter_view.is_some() { "Encounter.period.end" } else { "Encounter" };
        reject(&location, field, format!("the end of visit {} is unknown: the encounter has no period end and no note gives a service period", chart.key))
    })?;
    let clinician = encounter_view
        .and_then(|e| rendering_clinician(context, e))
        .or_else(|| notes.iter().find_map(|n| n.signer.clone()));
    let patient = encounter_view
        .and_then(|e| context.patient(e.subject.as_ref()))
        .or_else(|| notes.iter().find_map(|n| n.patient.clone()));

    let signed_at = notes
        .iter()
        .filter_map(|n| {
            if let NoteState::Signed(at) = n.state {
                Some(at)
            } else {
                None
            }
        })
        .min();
    let amended: Vec<Timestamp> = notes
        .iter()
        .filter_map(|n| {
            if let NoteState::Amended(at) = n.state {
                Some(at)
            } else {
                None
            }
        })
        .collect();
    let done = signed_at.is_some() || !amended.is_empty();

    let mut events = vec![chart_event(
        &chart.key,
        &patient,
        &clinician,
        ChartChange::Opened,
        visit_ended,
        visit_ended,
    )];
    if let Some(at) = signed_at {
        events.push(chart_event(
            &chart.key,
            &patient,
            &clinician,
            ChartChange::Signed,
            visit_ended,
            at,
        ));
    }
    for at in &amended {
        events.push(chart_event(
            &chart.key,
            &patient,
            &clinician,
            ChartChange::Amended,
            visit_ended,
            *at,
        ));
    }

    let latest = notes
        .iter()
        .filter_map(|n| n.changed)
        .chain(
            encounter
                .as_ref()
                .and_then(|e| first_time([e.meta.last_updated.as_deref()])),
        )
        .chain(signed_at)
        .chain(amended.iter().copied())
        .chain([visit_ended])
        .max()
        .unwrap_or(visit_ended);
    let title = encounter_view
        .and_then(encounter_title)
        .unwrap_or_else(|| "Visit note".to_string());

    let mut item = WorkItem::new(
        chart.key.clone(),
        chart_version(u64::from(done), latest),
        Category::VisitNote,
        title,
        visit_ended,
    );
    item.state = if done { EhrState::Done } else { EhrState::Open };
    item.patient = patient;
    item.encounter = Some(chart.key.clone());
    item.rendering = clinician;
    if let Some(class) = encounter_view
        .and_then(|e| e.class.as_ref())
        .and_then(|c| c.code.clone())
    {
        item.attributes.push(attribute("encounter-class", class));
    }
    item.attributes
        .push(attribute("notes", notes.len().to_string()));
    let note_status = if done {
        "signed"
    } else if notes.is_empty() {
        "none"
    } else {
        "unsigned"
    };
    item.attributes.push(attribute("note-status", note_status));
    Ok(Some((item, events)))
}

/// Finds the encounter of a chart, in the message or else on the server
/// through the first note, and the location to report it under.
fn locate_encounter(
    context: &mut MapContext<'_>,
    chart: &ChartInput,
) -> Result<(String, Option<Rc<Parsed>>), MapError> {
    if let Some((location, parsed)) = &chart.encounter {
        return Ok((location.clone(), Some(parsed.clone())));
    }
    let Some((location, first_note)) = chart.notes.first() else {
        return Ok((String::new(), None));
    };
    let found = context
        .resolver
        .resolve(first_note, &chart.key, &["Encounter"])?
        .found();
    Ok((
        location.clone(),
        found.filter(|p| matches!(p.body, Resource::Encounter(_))),
    ))
}

/// Builds the withdrawn item for a cancelled encounter. Returns `None` for a
/// finished encounter and a reject for one that has not finished.
fn withdrawn_chart(
    location: &str,
    key: &str,
    parsed: Option<&Parsed>,
    encounter: &Encounter,
) -> Result<Option<WorkItem>, MapError> {
    match encounter.status.as_deref().unwrap_or_default() {
        "finished" => Ok(None),
        "cancelled" | "entered-in-error" => {
            let changed = parsed
                .and_then(|p| first_time([p.meta.last_updated.as_deref()]))
                .or_else(|| first_time([encounter.period.as_ref().and_then(|p| p.end.as_deref().or(p.start.as_deref()))]))
                .ok_or_else(|| reject(location, "Encounter.meta.lastUpdated", "missing, and no period either; the connector needs a time to order versions"))?;
            let mut item = WorkItem::new(
                key.to_string(),
                chart_version(1, changed),
                Category::VisitNote,
                encounter_title(encounter).unwrap_or_else(|| "Visit note".to_string()),
                changed,
            );
            item.state = EhrState::Cancelled;
            item.encounter = Some(key.to_string());
            Ok(Some(item))
        }
        "" => Err(reject(location, "Encounter.status", "missing")),
        status @ ("planned" | "arrived" | "triaged" | "in-progress" | "onleave") => Err(reject(
            location,
            "Encounter.status",
            format!("{status}: the visit has not ended, so its chart is not open yet"),
        )),
        other => Err(reject(
            location,
            "Encounter.status",
            format!(
                "the status does not say whether the visit ended ({})",
                redact::found(other)
            ),
        )),
    }
}

/// The HL7 v3 ActEncounterCode values FHIR R4 uses for `Encounter.class`,
/// which a reject may quote.
const ENCOUNTER_CLASSES: &[&str] = &[
    "AMB", "EMER", "FLD", "HH", "IMP", "ACUTE", "NONAC", "OBSENC", "PRENC", "SS", "VR",
];

fn check_class(
    context: &MapContext<'_>,
    location: &str,
    encounter: &Encounter,
) -> Result<(), MapError> {
    let allowed = &context.settings.encounter_classes;
    if allowed.is_empty() {
        return Ok(());
    }
    let class = encounter
        .class
        .as_ref()
        .and_then(|c| c.code.as_deref())
        .unwrap_or_default();
    if allowed.iter().any(|a| a == class) {
        Ok(())
    } else {
        Err(reject(
            location,
            "Encounter.class",
            format!(
                "class {} is not in encounter_classes ({}), so it opens no chart",
                redact::code(class, ENCOUNTER_CLASSES),
                allowed.join(", ")
            ),
        ))
    }
}

fn view_note(
    context: &MapContext<'_>,
    location: &str,
    parsed: &Parsed,
) -> Result<Option<NoteView>, MapError> {
    let changed = first_time([parsed.meta.last_updated.as_deref()]);
    match &parsed.body {
        Resource::Composition(note) => view_composition(context, location, parsed, note, changed),
        Resource::DocumentReference(note) => {
            view_document(context, location, parsed, note, changed)
        }
        _ => Ok(None),
    }
}

fn view_composition(
    context: &MapContext<'_>,
    location: &str,
    parsed: &Parsed,
    note: &Composition,
    changed: Option<Timestamp>,
) -> Result<Option<NoteView>, MapError> {
    let date = first_time([note.date.as_deref()]);
    let attested = ["legal", "professional", "personal"]
        .iter()
        .find_map(|mode| {
            note.attester
                .iter()
                .find(|a| a.mode.as_deref() == Some(*mode))
                .and_then(|a| a.time.as_deref())
                .and_then(parse_time)
        });
    let state = match note.status.as_deref().unwrap_or_default() {
        "preliminary" => NoteState::Unsigned,
        "final" => NoteState::Signed(
            attested
                .or(date)
                .or(changed)
                .ok_or_else(|| missing_time(location, "Composition.date", parsed))?,
        ),
        "amended" => NoteState::Amended(
            changed
                .or(date)
                .ok_or_else(|| missing_time(location, "Composition.date", parsed))?,
        ),
        "entered-in-error" => {
            return Err(reject(
                location,
                "Composition.status",
                format!(
                    "{} was entered in error; it does not change the chart",
                    parsed.label()
                ),
            ));
        }
        "" => return Err(reject(location, "Composition.status", "missing")),
        other => {
            return Err(reject(
                location,
                "Composition.status",
                format!(
                    "not a FHIR R4 composition status ({})",
                    redact::found(other)
                ),
            ));
        }
    };
    let attesters = note.attester.iter().filter_map(|a| a.party.as_ref());
    Ok(Some(NoteView {
        state,
        signer: context.first_provider(attesters.chain(note.author.iter())),
        patient: context.patient(note.subject.as_ref()),
        visit_end: None,
        changed: changed.or(date),
    }))
}

fn view_document(
    context: &MapContext<'_>,
    location: &str,
    parsed: &Parsed,
    note: &DocumentReference,
    changed: Option<Timestamp>,
) -> Result<Option<NoteView>, MapError> {
    if note.status.as_deref() == Some("entered-in-error") {
        return Err(reject(
            location,
            "DocumentReference.status",
            format!(
                "{} was entered in error; it does not change the chart",
                parsed.label()
            ),
        ));
    }
    let date = first_time([note.date.as_deref()]);
    let doc_status = match note.doc_status.as_deref() {
        Some(status) => status,
        None => match context.settings.doc_status_default {
            DocStatusDefault::Final => "final",
            DocStatusDefault::Preliminary => "preliminary",
        },
    };
    let state = match doc_status {
        "preliminary" => NoteState::Unsigned,
        "final" => NoteState::Signed(
            date.or(changed)
                .ok_or_else(|| missing_time(location, "DocumentReference.date", parsed))?,
        ),
        "amended" => NoteState::Amended(
            changed
                .or(date)
                .ok_or_else(|| missing_time(location, "DocumentReference.date", parsed))?,
        ),
        "entered-in-error" => {
            return Err(reject(
                location,
                "DocumentReference.docStatus",
                format!(
                    "{} was entered in error; it does not change the chart",
                    parsed.label()
                ),
            ));
        }
        other => {
            return Err(reject(
                location,
                "DocumentReference.docStatus",
                format!(
                    "not a FHIR R4 composition status ({})",
                    redact::found(other)
                ),
            ));
        }
    };
    let period = note.context.as_ref().and_then(|c| c.period.as_ref());
    let authenticator = note.authenticator.iter();
    Ok(Some(NoteView {
        state,
        signer: context.first_provider(authenticator.chain(note.author.iter())),
        patient: context.patient(note.subject.as_ref()),
        visit_end: period.and_then(|p| first_time([p.end.as_deref(), p.start.as_deref()])),
        changed: changed.or(date),
    }))
}

fn missing_time(location: &str, field: &str, parsed: &Parsed) -> MapError {
    reject(
        location,
        field,
        format!(
            "missing, and no meta.lastUpdated either; the signing time of {} is unknown",
            parsed.label()
        ),
    )
}

/// Returns the end of the visit: the encounter's period end, else the latest
/// participant period end, else a note's service period.
fn visit_end(encounter: Option<&Encounter>, notes: &[NoteView]) -> Option<Timestamp> {
    let from_encounter = encounter.and_then(|e| {
        let own = e
            .period
            .as_ref()
            .and_then(|p| first_time([p.end.as_deref()]));
        own.or_else(|| {
            e.participant
                .iter()
                .filter_map(|p| {
                    p.period
                        .as_ref()
                        .and_then(|p| first_time([p.end.as_deref()]))
                })
                .max()
        })
    });
    from_encounter.or_else(|| notes.iter().find_map(|n| n.visit_end))
}

fn rendering_clinician(context: &MapContext<'_>, encounter: &Encounter) -> Option<String> {
    let with_type = |code: &str| {
        encounter
            .participant
            .iter()
            .filter(|p| p.kind.iter().any(|k| k.has_code(code)))
            .find_map(|p| context.provider(p.individual.as_ref()))
    };
    with_type("PPRF").or_else(|| with_type("ATND")).or_else(|| {
        encounter
            .participant
            .iter()
            .find_map(|p| context.provider(p.individual.as_ref()))
    })
}

fn encounter_title(encounter: &Encounter) -> Option<String> {
    let typed = encounter
        .kind
        .iter()
        .find_map(|k| k.label())
        .or_else(|| encounter.service_type.as_ref().and_then(|s| s.label()));
    let class = encounter
        .class
        .as_ref()
        .and_then(|c| non_empty(c.display.as_deref()).or(non_empty(c.code.as_deref())));
    typed.or(class).map(str::to_string)
}

fn chart_event(
    encounter: &str,
    patient: &Option<String>,
    clinician: &Option<String>,
    change: ChartChange,
    visit_ended: Timestamp,
    at: Timestamp,
) -> Event {
    Event::Chart(ChartEvent {
        encounter: encounter.to_string(),
        patient: patient.clone(),
        clinician: clinician.clone(),
        change,
        visit_ended,
        at,
    })
}

/// `(rank << 42) | millis`; see the module docs.
fn chart_version(rank: u64, at: Timestamp) -> u64 {
    let millis = u64::try_from(at.0).unwrap_or(0) & ((1 << TIME_BITS) - 1);
    (rank << TIME_BITS) | millis
}
