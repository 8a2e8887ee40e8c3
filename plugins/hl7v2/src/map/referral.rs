//! REF^I12 (new referral), I13 (modify) and I14 (cancel): one `referral`
//! item per message, from its RF1 segment.

use switchboard_sdk::{Batch, Category, EhrState, WorkItem};

use super::fields::{self, PatientContext, coded_text, entity, first_time, push_attribute};
use super::version::time_first;
use super::{Context, Fault, Outcome};
use crate::parse::{Message, Segment};

/// Maps a referral message.
pub(crate) fn map(context: &Context<'_, '_>, trigger: &str) -> Result<Outcome, Fault> {
    let settings = context.settings;
    let message = context.message;
    let rf1 = message
        .segment("RF1")
        .ok_or_else(|| Fault::missing("RF1", "the referral message has no RF1 segment"))?;
    let message_time = context.message_time()?;
    let patient = PatientContext::read(message.segments(), settings);

    let id = entity(rf1.field(6))
        .or_else(|| entity(rf1.field(11)))
        .ok_or_else(|| {
            Fault::at(
                &rf1,
                6,
                "the referral has no originating (RF1-6) or external (RF1-11) referral identifier",
            )
        })?;
    let (state, rank) = if trigger == "I14" {
        (EhrState::Cancelled, 3)
    } else {
        referral_state(&rf1)
    };
    let created = first_time(&[(Some(rf1), 9), (Some(rf1), 7)], settings)?.unwrap_or(message_time);
    let title = match coded_text(rf1.field(3)) {
        Some(kind) => format!("{kind} referral"),
        None => "referral".to_string(),
    };

    let mut item = WorkItem::new(
        format!("referral/{id}"),
        time_first(message_time, rank),
        Category::Referral,
        title,
        created,
    );
    item.state = state;
    item.priority = fields::priority(&fields::code(rf1.field(2))).unwrap_or_default();
    item.due = fields::time(&rf1, 8, settings)?;
    item.patient = patient.patient.clone();
    item.encounter = patient.encounter.clone();
    item.pcp = patient.pcp.clone();
    item.ordering = provider_in_role(message, "RP").or_else(|| {
        patient
            .pv1
            .and_then(|pv1| fields::provider(pv1.field(8), settings.provider_ids))
    });
    push_attribute(
        &mut item.attributes,
        "referral_status",
        &fields::code(rf1.field(1)),
    );
    push_attribute(
        &mut item.attributes,
        "referral_type",
        &fields::code(rf1.field(3)),
    );
    push_attribute(
        &mut item.attributes,
        "referral_reason",
        &fields::code(rf1.field(10)),
    );
    if let Some(referred_to) = provider_in_role(message, "RT") {
        item.attributes
            .push(fields::attribute("referred_to", referred_to));
    }

    let mut batch = Batch::default();
    batch.items.push(item);
    Ok(Outcome::Mapped(batch))
}

/// The state RF1-1 (HL7 table 0283) gives the referral: P (pending) and R
/// (rejected: another provider must be found) are open, A (accepted) is done,
/// E (expired) is cancelled. An empty or unknown status is open.
fn referral_state(rf1: &Segment<'_>) -> (EhrState, u8) {
    match &*fields::code(rf1.field(1)) {
        "A" => (EhrState::Done, 2),
        "E" => (EhrState::Cancelled, 3),
        _ => (EhrState::Open, 1),
    }
}

/// The provider id of the first PRD segment whose PRD-1 role is `role` (RP
/// referring, RT referred to), from PRD-7 (provider identifiers).
fn provider_in_role(message: &Message<'_>, role: &str) -> Option<String> {
    message
        .segments_named("PRD")
        .filter(|prd| fields::code(prd.field(1)) == role)
        .find_map(|prd| {
            let id = prd.field(7).component(1).text();
            let id = id.trim();
            (!id.is_empty()).then(|| id.to_string())
        })
}
