//! `MedicationRequest` to refill request.
//!
//! A renewal reaches the EHR as a request that waits for a prescriber's
//! signature: a pharmacy's renewal request or a patient's portal request is
//! a `proposal`, and a renewal a staff member prepares is a `draft` order
//! that points to the prescription it renews. The rule:
//!
//! | status | intent | with a refill signal | result |
//! | --- | --- | --- | --- |
//! | `draft` | `proposal`, `plan`, `order`, `original-order`, `instance-order` | yes | open refill request |
//! | `active`, `on-hold` | `proposal`, `plan` | yes | open refill request |
//! | `active`, `on-hold` | any order intent | — | reject: already authorized, nothing to sign |
//! | `completed` | any | yes | refill request done (renewal sent) |
//! | `cancelled`, `stopped`, `entered-in-error` | any | yes | refill request cancelled |
//! | any | any | no | reject: not a refill request |
//!
//! A refill signal is any of:
//!
//! - `priorPrescription`: the request renews that prescription;
//! - a `category` code in the site's refill list (default `refill`,
//!   `renewal`, `refill-request`), because FHIR defines no such category;
//! - an extension URL from the site's `[refill] extensions` list that is
//!   present and not `false`;
//! - `courseOfTherapyType` `continuous` on a proposal or plan, which
//!   suggests continuing a long-term medication.
//!
//! Without a signal, an open order is a new prescription the clinician is
//! writing in the visit, which is not inbox work.

use switchboard_sdk::{Category, EhrState, WorkItem};

use super::{MapContext, MapError, attribute, priority_of, reject, require_key};
use crate::fhir::resources::MedicationRequest;
use crate::fhir::types::non_empty;
use crate::fhir::{Parsed, Resource};
use crate::redact;
use crate::time::{first_time, version_of};

const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";

/// Maps one MedicationRequest.
///
/// # Errors
///
/// A reject when the request is not a refill request, or lacks an id or a
/// date to order versions. A fatal error when reading its Medication fails.
pub fn map(
    context: &mut MapContext<'_>,
    location: &str,
    parsed: &Parsed,
    request: &MedicationRequest,
) -> Result<WorkItem, MapError> {
    let status = request.status.as_deref().unwrap_or_default();
    let intent = request.intent.as_deref().unwrap_or_default();
    let signal = refill_signal(context, request, intent);

    let state = state_of(location, status, intent)?;
    let Some(signal) = signal else {
        return Err(reject(
            location,
            "MedicationRequest.priorPrescription",
            format!(
                "{} is not a refill request: no priorPrescription, refill category, refill extension or continuous-therapy proposal",
                parsed.label()
            ),
        ));
    };

    let external_id = require_key(location, parsed)?;
    let authored = first_time([request.authored_on.as_deref()]);
    let rank = match state {
        EhrState::Open => 0,
        EhrState::Done => 6,
        EhrState::Cancelled => 7,
    };
    let version = version_of(&parsed.meta, authored, rank).ok_or_else(|| {
        reject(
            location,
            "MedicationRequest.meta.lastUpdated",
            "missing, and no authoredOn either; the connector needs one to order versions",
        )
    })?;

    let (title, rxnorm) = medication_label(context, parsed, request)?;
    let created = authored
        .or_else(|| first_time([parsed.meta.last_updated.as_deref()]))
        .unwrap_or_else(switchboard_sdk::host::now);

    let mut item = WorkItem::new(external_id, version, Category::Refill, title, created);
    item.state = state;
    item.priority = priority_of(request.priority.as_deref());
    item.patient = context.patient(request.subject.as_ref());
    item.encounter = request
        .encounter
        .as_ref()
        .and_then(|e| context.normalize(e));
    item.ordering = context.provider(request.requester.as_ref());
    item.attributes.push(attribute("fhir-status", status));
    item.attributes.push(attribute("intent", intent));
    item.attributes.push(attribute("refill-signal", signal));
    if let Some(rxnorm) = rxnorm {
        item.attributes.push(attribute("rxnorm", rxnorm));
    }
    if let Some(prior) = request
        .prior_prescription
        .as_ref()
        .and_then(|p| context.normalize(p))
    {
        item.attributes.push(attribute("prior-prescription", prior));
    }
    Ok(item)
}

/// The FHIR R4 `medicationrequest-intent` codes, which a reject may quote.
const INTENTS: &[&str] = &[
    "proposal",
    "plan",
    "order",
    "original-order",
    "reflex-order",
    "filler-order",
    "instance-order",
    "option",
];

fn state_of(location: &str, status: &str, intent: &str) -> Result<EhrState, MapError> {
    match (status, intent) {
        ("draft", "proposal" | "plan" | "order" | "original-order" | "instance-order") => {
            Ok(EhrState::Open)
        }
        ("active" | "on-hold", "proposal" | "plan") => Ok(EhrState::Open),
        ("active" | "on-hold", _) => Err(reject(
            location,
            "MedicationRequest.intent",
            format!(
                "an {status} request with intent {} is already authorized; only drafts, proposals and plans wait for a prescriber",
                redact::code(intent, INTENTS)
            ),
        )),
        ("completed", _) => Ok(EhrState::Done),
        ("cancelled" | "stopped" | "entered-in-error", _) => Ok(EhrState::Cancelled),
        ("draft", _) => Err(reject(
            location,
            "MedicationRequest.intent",
            format!(
                "intent {} is not a request a prescriber signs",
                redact::code(intent, INTENTS)
            ),
        )),
        ("", _) => Err(reject(location, "MedicationRequest.status", "missing")),
        (other, _) => Err(reject(
            location,
            "MedicationRequest.status",
            format!(
                "not a request status the connector maps ({})",
                redact::found(other)
            ),
        )),
    }
}

fn refill_signal(
    context: &MapContext<'_>,
    request: &MedicationRequest,
    intent: &str,
) -> Option<&'static str> {
    let settings = context.settings;
    if request.prior_prescription.is_some() {
        return Some("prior-prescription");
    }
    let refill_category = request
        .category
        .iter()
        .flat_map(|c| {
            c.coding
                .iter()
                .filter_map(|coding| coding.code.as_deref())
                .chain(c.text.as_deref())
        })
        .any(|code| {
            settings
                .refill_categories
                .iter()
                .any(|r| r.eq_ignore_ascii_case(code))
        });
    if refill_category {
        return Some("category");
    }
    let refill_extension = request
        .extension
        .iter()
        .any(|e| e.value_boolean != Some(false) && settings.refill_extensions.contains(&e.url));
    if refill_extension {
        return Some("extension");
    }
    let continuous = request
        .course_of_therapy_type
        .as_ref()
        .is_some_and(|c| c.has_code("continuous"));
    if continuous && matches!(intent, "proposal" | "plan") {
        return Some("continuous-therapy");
    }
    None
}

/// Returns the medication's label and RxNorm code, from the request's concept
/// or from the Medication it references (contained, in the message, or read).
fn medication_label(
    context: &mut MapContext<'_>,
    parsed: &Parsed,
    request: &MedicationRequest,
) -> Result<(String, Option<String>), MapError> {
    if let Some(concept) = &request.medication_codeable_concept
        && let Some(label) = concept.label()
    {
        return Ok((
            label.to_string(),
            concept.code_in(RXNORM).map(str::to_string),
        ));
    }
    let Some(medication_reference) = &request.medication_reference else {
        return Ok(("Refill request".to_string(), None));
    };
    if let Some(reference) = non_empty(medication_reference.reference.as_deref()) {
        let medication = context
            .resolver
            .resolve(parsed, reference, &["Medication"])?
            .found();
        if let Some(Resource::Medication(medication)) = medication.as_deref().map(|m| &m.body)
            && let Some(code) = &medication.code
            && let Some(label) = code.label()
        {
            return Ok((label.to_string(), code.code_in(RXNORM).map(str::to_string)));
        }
    }
    let label = non_empty(medication_reference.display.as_deref()).unwrap_or("Refill request");
    Ok((label.to_string(), None))
}
