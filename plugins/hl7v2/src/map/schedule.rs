//! SIU^S12 (new appointment), S13 (rescheduled) and S14 (modified): one
//! appointment event.

use switchboard_sdk::{Appointment, Batch, Event};

use super::fields::{self, PatientContext, component_time, entity, first_time, provider};
use super::{Context, Fault, Outcome};
use crate::config::KindField;

/// Maps a scheduling message.
pub(crate) fn map(context: &Context<'_, '_>) -> Result<Outcome, Fault> {
    let settings = context.settings;
    let message = context.message;
    let sch = message
        .segment("SCH")
        .ok_or_else(|| Fault::missing("SCH", "the scheduling message has no SCH segment"))?;
    let patient = PatientContext::read(message.segments(), settings);
    let ais = message.segment("AIS");

    let external_id = entity(sch.field(2))
        .or_else(|| entity(sch.field(1)))
        .ok_or_else(|| {
            Fault::at(
                &sch,
                2,
                "the appointment has no filler (SCH-2) or placer (SCH-1) appointment id",
            )
        })?;
    let patient_id = patient.patient.clone().ok_or_else(|| {
        Fault::missing(
            "PID-3",
            "the appointment has no patient identifier in PID-3 (or PID-2, PID-4)",
        )
    })?;
    let start = match first_time(&[(message.segment("TQ1"), 7), (ais, 4)], settings)? {
        Some(start) => start,
        None => component_time(&sch, 11, 4, settings)?.ok_or_else(|| {
            Fault::missing(
                "TQ1-7",
                "the appointment has no start time in TQ1-7, AIS-4 or SCH-11.4",
            )
        })?,
    };
    let clinician = message
        .segments_named("AIP")
        .find_map(|aip| provider(aip.field(3), settings.provider_ids))
        .or_else(|| patient.attending(settings));

    let kind = settings
        .appointment_kind
        .iter()
        .find_map(|field| {
            let (segment, n) = match field {
                KindField::Sch7 => (Some(sch), 7),
                KindField::Sch8 => (Some(sch), 8),
                KindField::Ais3 => (ais, 3),
            };
            segment.and_then(|s| kind_of(s.field(n)))
        })
        .unwrap_or_default();

    let mut batch = Batch::default();
    batch.events.push(Event::Appointment(Appointment {
        external_id,
        patient: patient_id,
        clinician,
        start,
        kind,
    }));
    Ok(Outcome::Mapped(batch))
}

/// The visit type from a coded field: its code, else its text.
fn kind_of(field: crate::parse::Field<'_>) -> Option<String> {
    let code = fields::code(field);
    if !code.is_empty() {
        return Some(code.into_owned());
    }
    fields::coded_text(field).map(|t| t.into_owned())
}
