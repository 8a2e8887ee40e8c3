//! ADT^A03 (visit ended), A04 (registration) and A08 (update): a chart
//! `opened` event when the visit ends, and roster hints for the providers
//! the message names.

use switchboard_sdk::{Batch, ChartChange, ChartEvent, Event, RosterHint};

use super::fields::{self, PatientContext, first_time, roster_hints};
use super::{Context, Fault, Outcome};
use crate::config::Settings;
use crate::parse::Message;

/// Maps a visit message.
///
/// A03 ends the visit, so its chart becomes open. The event carries the
/// visit number (PV1-19) and the attending doctor (PV1-7) as the clinician
/// who must sign the note. The visit's end (PV1-45 discharge time, else EVN-6
/// event time, else EVN-2, else MSH-7) is both `visit-ended` and `at`. A04
/// and A08 describe a visit that has not ended, so they give roster hints
/// only.
pub(crate) fn map(context: &Context<'_, '_>, trigger: &str) -> Result<Outcome, Fault> {
    let settings = context.settings;
    let message = context.message;
    let patient = PatientContext::read(message.segments(), settings);

    let mut batch = Batch {
        roster: hints(message, settings),
        ..Batch::default()
    };
    if trigger != "A03" {
        return Ok(Outcome::Mapped(batch));
    }

    let pv1 = patient.pv1.ok_or_else(|| {
        Fault::missing(
            "PV1",
            "the discharge message has no PV1 segment, so there is no visit to close",
        )
    })?;
    let encounter = patient.encounter.clone().ok_or_else(|| {
        Fault::at(
            &pv1,
            19,
            "the visit number is missing, so the chart cannot be identified",
        )
    })?;
    let evn = message.segment("EVN");
    let visit_ended = match first_time(&[(Some(pv1), 45), (evn, 6), (evn, 2)], settings)? {
        Some(at) => at,
        None => context.message_time()?,
    };

    batch.events.push(Event::Chart(ChartEvent {
        encounter,
        patient: patient.patient.clone(),
        clinician: patient.attending(settings),
        change: ChartChange::Opened,
        visit_ended,
        at: visit_ended,
    }));
    Ok(Outcome::Mapped(batch))
}

/// Roster hints, with HL7 table 0443 role codes: PV1-7 attending (AT), PV1-8
/// referring (RP), PV1-9 consulting (CP), PV1-17 admitting (AD), PD1-4
/// primary care provider (PP), and each ROL segment's person (ROL-4) with
/// its own role (ROL-3).
fn hints(message: &Message<'_>, settings: &Settings) -> Vec<RosterHint> {
    let ids = settings.provider_ids;
    let mut hints = Vec::new();
    if let Some(pv1) = message.segment("PV1") {
        for (n, role) in [(7, "AT"), (8, "RP"), (9, "CP"), (17, "AD")] {
            roster_hints(pv1.field(n), role, ids, &mut hints);
        }
    }
    if let Some(pd1) = message.segment("PD1") {
        roster_hints(pd1.field(4), "PP", ids, &mut hints);
    }
    for rol in message.segments_named("ROL") {
        let role = fields::code(rol.field(3));
        if !role.is_empty() {
            roster_hints(rol.field(4), &role, ids, &mut hints);
        }
    }
    hints
}
