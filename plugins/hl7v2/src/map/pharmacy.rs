//! RDE^O11 (pharmacy encoded order) and RDS^O13 (dispense): one `refill`
//! item per order (ORC), keyed by the order number so the dispense closes
//! the item the order opened.

use switchboard_sdk::{Batch, Category, EhrState, Timestamp, WorkItem};

use super::fields::{
    self, PatientContext, coded_text, entity, first_time, order_priority, provider, push_attribute,
};
use super::groups::{OrderGroup, OrderStart, order_groups};
use super::order::order_state;
use super::version::time_first;
use super::{Context, Fault, Outcome};
use crate::parse::Segment;

/// Maps an encoded order: each order is a refill to send, open until its
/// dispense arrives (or cancelled by its control code). RXE-12, RXE-16 and
/// RXE-17 give the refill context (refills allowed, remaining, dispensed).
pub(crate) fn map_order(context: &Context<'_, '_>) -> Result<Outcome, Fault> {
    map_groups(context, "RXE", order_item)
}

fn order_item(
    context: &Context<'_, '_>,
    group: &OrderGroup<'_, '_>,
    rxe: &Segment<'_>,
    patient: &PatientContext<'_>,
    message_time: Timestamp,
) -> Result<WorkItem, Fault> {
    let settings = context.settings;
    let orc = group.orc;
    let (state, rank) = order_state(orc);
    let rxo = group.first("RXO");
    let id = order_number(group, rxe, 15)?;
    let created = first_time(&[(orc, 9)], settings)?.unwrap_or(message_time);
    let title = coded_text(rxe.field(2))
        .or_else(|| rxo.and_then(|rxo| coded_text(rxo.field(1))))
        .map_or_else(|| "refill".to_string(), |t| t.into_owned());

    let mut item = WorkItem::new(
        format!("refill/{id}"),
        time_first(message_time, rank),
        Category::Refill,
        title,
        created,
    );
    item.state = state;
    item.priority = order_priority(group.first("TQ1"), &[(Some(*rxe), 1), (orc, 7)], None);
    item.ordering = orc
        .and_then(|orc| provider(orc.field(12), settings.provider_ids))
        .or_else(|| provider(rxe.field(13), settings.provider_ids))
        .or_else(|| rxo.and_then(|rxo| provider(rxo.field(14), settings.provider_ids)));
    fill_patient(&mut item, patient);
    push_attribute(
        &mut item.attributes,
        "medication_code",
        &fields::code(rxe.field(2)),
    );
    push_attribute(
        &mut item.attributes,
        "coding_system",
        &rxe.field(2).component(3).text(),
    );
    push_attribute(
        &mut item.attributes,
        "refills_allowed",
        &rxe.field(12).text(),
    );
    push_attribute(
        &mut item.attributes,
        "refills_remaining",
        &rxe.field(16).text(),
    );
    push_attribute(
        &mut item.attributes,
        "refills_dispensed",
        &rxe.field(17).text(),
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

/// Maps a dispense: each dispensed order's refill is done.
pub(crate) fn map_dispense(context: &Context<'_, '_>) -> Result<Outcome, Fault> {
    map_groups(context, "RXD", dispense_item)
}

fn dispense_item(
    context: &Context<'_, '_>,
    group: &OrderGroup<'_, '_>,
    rxd: &Segment<'_>,
    patient: &PatientContext<'_>,
    message_time: Timestamp,
) -> Result<WorkItem, Fault> {
    let settings = context.settings;
    let orc = group.orc;
    let id = order_number(group, rxd, 7)?;
    let created = first_time(&[(Some(*rxd), 3), (orc, 9)], settings)?.unwrap_or(message_time);
    let title = coded_text(rxd.field(2)).map_or_else(|| "refill".to_string(), |t| t.into_owned());

    let mut item = WorkItem::new(
        format!("refill/{id}"),
        time_first(message_time, 2),
        Category::Refill,
        title,
        created,
    );
    item.state = EhrState::Done;
    item.ordering = orc
        .and_then(|orc| provider(orc.field(12), settings.provider_ids))
        .or_else(|| provider(rxd.field(10), settings.provider_ids));
    fill_patient(&mut item, patient);
    push_attribute(
        &mut item.attributes,
        "medication_code",
        &fields::code(rxd.field(2)),
    );
    push_attribute(
        &mut item.attributes,
        "coding_system",
        &rxd.field(2).component(3).text(),
    );
    push_attribute(
        &mut item.attributes,
        "dispensed_amount",
        &rxd.field(4).text(),
    );
    Ok(item)
}

type ItemBuilder = fn(
    &Context<'_, '_>,
    &OrderGroup<'_, '_>,
    &Segment<'_>,
    &PatientContext<'_>,
    Timestamp,
) -> Result<WorkItem, Fault>;

/// Runs `build` on every order group that contains a `detail` segment (RXE or
/// RXD). A group without one is rejected, naming the missing segment.
fn map_groups(
    context: &Context<'_, '_>,
    detail: &str,
    build: ItemBuilder,
) -> Result<Outcome, Fault> {
    let message_time = context.message_time()?;
    let segments = context.message.segments();
    let patient = PatientContext::read(segments, context.settings);

    let mut batch = Batch::default();
    for group in order_groups(segments, OrderStart::Orc) {
        let Some(segment) = group.first(detail) else {
            let orc = group.orc.map_or(0, |orc| orc.index());
            return Err(Fault {
                segment: Some(orc),
                field: detail.to_string(),
                message: format!("this order has no {detail} segment"),
            });
        };
        batch
            .items
            .push(build(context, &group, &segment, &patient, message_time)?);
    }
    if batch.items.is_empty() {
        return Err(Fault::missing(
            "ORC",
            "the pharmacy message has no ORC segment, so there is no order to report",
        ));
    }
    Ok(Outcome::Mapped(batch))
}

/// The order number that keys a refill: the placer order number (ORC-2),
/// else the filler order number (ORC-3), else the prescription number
/// (field `prescription` of the detail segment: RXE-15 or RXD-7).
fn order_number(
    group: &OrderGroup<'_, '_>,
    detail: &Segment<'_>,
    prescription: usize,
) -> Result<String, Fault> {
    let orc = group.orc;
    orc.and_then(|orc| entity(orc.field(2)))
        .or_else(|| orc.and_then(|orc| entity(orc.field(3))))
        .or_else(|| {
            let number = detail.field(prescription).text();
            let number = number.trim();
            (!number.is_empty()).then(|| number.to_string())
        })
        .ok_or_else(|| match orc {
            Some(orc) => Fault::at(&orc, 2, format!("the order has no placer (ORC-2) or filler (ORC-3) order number, and no prescription number ({}-{prescription})", detail.name())),
            None => Fault::missing("ORC-2", "the order has no ORC segment with an order number"),
        })
}

fn fill_patient(item: &mut WorkItem, patient: &PatientContext<'_>) {
    item.patient = patient.patient.clone();
    item.encounter = patient.encounter.clone();
    item.pcp = patient.pcp.clone();
}
