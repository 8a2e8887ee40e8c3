//! ORM^O01 and OML^O21: referral orders become `referral` items. Other
//! orders are ignored, because a primary-care inbox acts on their results
//! (ORU), not on the orders it placed itself.

use switchboard_sdk::{Batch, Category, EhrState, WorkItem};

use super::fields::{
    self, PatientContext, coded_text, entity, first_time, order_priority, provider, push_attribute,
};
use super::groups::{OrderGroup, OrderStart, order_groups};
use super::version::time_first;
use super::{Context, Fault, Outcome};
use crate::config::Settings;
use crate::parse::Segment;

/// Maps the referral orders of an order message.
pub(crate) fn map(context: &Context<'_, '_>) -> Result<Outcome, Fault> {
    let settings = context.settings;
    let segments = context.message.segments();
    let groups = order_groups(segments, OrderStart::OrcOrObr);
    let referrals: Vec<&OrderGroup<'_, '_>> = groups
        .iter()
        .filter(|g| g.obr.is_some_and(|obr| is_referral(&obr, settings)))
        .collect();
    if referrals.is_empty() {
        return Ok(Outcome::Ignored(
            "it holds no referral order; results of other orders arrive as ORU",
        ));
    }

    let message_time = context.message_time()?;
    let patient = PatientContext::read(segments, settings);
    let mut batch = Batch::default();
    for group in referrals {
        batch
            .items
            .push(referral_item(context, group, &patient, message_time)?);
    }
    Ok(Outcome::Mapped(batch))
}

/// Whether the OBR-4 service is a referral: its code (OBR-4.1 or the
/// alternate OBR-4.4) is listed in `referral_order_codes`, or its text
/// contains one of `referral_order_words`.
fn is_referral(obr: &Segment<'_>, settings: &Settings) -> bool {
    let service = obr.field(4);
    let codes = [service.component(1).text(), service.component(4).text()];
    if codes.iter().any(|code| {
        !code.trim().is_empty()
            && settings
                .referral_order_codes
                .iter()
                .any(|c| c == code.trim())
    }) {
        return true;
    }
    let texts = [
        service.component(2).text(),
        service.component(5).text(),
        service.component(9).text(),
    ];
    texts.iter().any(|text| {
        let text = text.to_lowercase();
        settings
            .referral_order_words
            .iter()
            .any(|word| text.contains(word.as_str()))
    })
}

/// The state an order's control code (ORC-1) and status (ORC-5) give it,
/// with its version rank: cancel and discontinue codes cancel it, a
/// completed status (CM) makes it done, anything else keeps it open.
pub(crate) fn order_state(orc: Option<Segment<'_>>) -> (EhrState, u8) {
    let Some(orc) = orc else {
        return (EhrState::Open, 1);
    };
    let control = fields::code(orc.field(1));
    let status = fields::code(orc.field(5));
    match (&*control, &*status) {
        ("CA" | "OC" | "OD" | "DC" | "DR" | "CR" | "OR", _) | (_, "CA" | "DC") => {
            (EhrState::Cancelled, 3)
        }
        (_, "CM") => (EhrState::Done, 2),
        _ => (EhrState::Open, 1),
    }
}

fn referral_item(
    context: &Context<'_, '_>,
    group: &OrderGroup<'_, '_>,
    patient: &PatientContext<'_>,
    message_time: switchboard_sdk::Timestamp,
) -> Result<WorkItem, Fault> {
    let settings = context.settings;
    let Some(obr) = group.obr else {
        return Err(Fault::missing("OBR", "a referral order has no OBR segment"));
    };
    let orc = group.orc;

    let id = orc
        .and_then(|orc| entity(orc.field(2)))
        .or_else(|| entity(obr.field(2)))
        .or_else(|| orc.and_then(|orc| entity(orc.field(3))))
        .or_else(|| entity(obr.field(3)))
        .ok_or_else(|| Fault::at(&obr, 2, "the referral order has no placer (ORC-2, OBR-2) or filler (ORC-3, OBR-3) order number"))?;
    let (state, rank) = order_state(orc);
    let created = first_time(&[(orc, 9)], settings)?.unwrap_or(message_time);
    let title = coded_text(obr.field(4)).map_or_else(|| "referral".to_string(), |t| t.into_owned());

    let mut item = WorkItem::new(
        format!("referral/{id}"),
        time_first(message_time, rank),
        Category::Referral,
        title,
        created,
    );
    item.state = state;
    item.priority = order_priority(
        group.first("TQ1"),
        &[(Some(obr), 27), (orc, 7)],
        Some((obr, 5)),
    );
    item.patient = patient.patient.clone();
    item.encounter = patient.encounter.clone();
    item.pcp = patient.pcp.clone();
    item.ordering = orc
        .and_then(|orc| provider(orc.field(12), settings.provider_ids))
        .or_else(|| provider(obr.field(16), settings.provider_ids));
    push_attribute(
        &mut item.attributes,
        "order_code",
        &fields::code(obr.field(4)),
    );
    push_attribute(
        &mut item.attributes,
        "coding_system",
        &obr.field(4).component(3).text(),
    );
    if let Some(orc) = orc {
        push_attribute(
            &mut item.attributes,
            "order_control",
            &fields::code(orc.field(1)),
        );
    }
    Ok(item)
}
