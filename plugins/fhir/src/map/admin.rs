//! Claims, appointments, forms, referrals and staff.
//!
//! - `Claim` with `status` `active` and `use` `claim` becomes a claim
//!   `submitted` event. The date of service is `billablePeriod.start`, else
//!   the earliest item service date, else `created`. The submission time is
//!   `created`. Drafts, withdrawn claims and pre-authorizations are rejected.
//! - `Appointment` that is `pending`, `booked`, `arrived` or `checked-in`
//!   becomes an appointment event for pre-visit prep. The event has no status,
//!   so cancelled, no-show and erroneous appointments are rejected rather
//!   than sent as if they were still on the schedule.
//! - `QuestionnaireResponse` becomes a `form` item: `in-progress` is a form
//!   someone still has to finish, `completed` and `amended` close it,
//!   `stopped` and `entered-in-error` withdraw it.
//! - `ServiceRequest` becomes a `referral` item when its category is the
//!   SNOMED CT concept 3457005 (patient referral) or its category or code
//!   text contains "referral". Other orders are read only as the `basedOn` of
//!   results.
//! - `Practitioner` and `PractitionerRole` become roster hints: the
//!   practitioner's `Practitioner/{id}` and, when it has one, a second hint
//!   under its bare NPI, with the display name and the role's first code
//!   (or its text when it has no code).
//!   These are staff, never patients.

use switchboard_sdk::{
    Appointment as AppointmentEvent, Category, ClaimEvent, EhrState, Event, RosterHint, WorkItem,
};

use super::{MapContext, MapError, attribute, priority_of, reject, require_key};
use crate::fhir::resources::{Appointment, Claim, QuestionnaireResponse, ServiceRequest};
use crate::fhir::types::{CodeableConcept, non_empty};
use crate::fhir::{Parsed, Resource};
use crate::redact;
use crate::refs::{NPI_SYSTEM, is_npi};
use crate::time::{first_time, version_of};

const SNOMED: &str = "http://snomed.info/sct";
const SNOMED_PATIENT_REFERRAL: &str = "3457005";

/// Maps a Claim to a `submitted` event.
///
/// # Errors
///
/// A reject for claims that were not submitted or lack dates.
pub fn claim(
    context: &MapContext<'_>,
    location: &str,
    parsed: &Parsed,
    claim: &Claim,
) -> Result<Event, MapError> {
    match claim.status.as_deref().unwrap_or_default() {
        "active" => {}
        "draft" => return Err(reject(location, "Claim.status", "draft: not submitted yet")),
        "cancelled" | "entered-in-error" => {
            return Err(reject(
                location,
                "Claim.status",
                "withdrawn; there is no submission to count",
            ));
        }
        "" => return Err(reject(location, "Claim.status", "missing")),
        other => {
            return Err(reject(
                location,
                "Claim.status",
                format!("not a FHIR R4 claim status ({})", redact::found(other)),
            ));
        }
    }
    if let Some(purpose) = claim.use_.as_deref().filter(|u| *u != "claim") {
        return Err(reject(
            location,
            "Claim.use",
            format!(
                "use {} asks a payer in advance; only use \"claim\" is a submitted claim",
                redact::code(purpose, &["preauthorization", "predetermination"])
            ),
        ));
    }
    let key = require_key(location, parsed)?;

    let submitted = first_time([
        claim.created.as_deref(),
        parsed.meta.last_updated.as_deref(),
    ])
    .ok_or_else(|| {
        reject(
            location,
            "Claim.created",
            "missing; the submission time is unknown",
        )
    })?;
    let item_dates = claim
        .item
        .iter()
        .filter_map(|i| {
            first_time([
                i.serviced_date.as_deref(),
                i.serviced_period.as_ref().and_then(|p| p.start.as_deref()),
            ])
        })
        .min();
    let visit_date = first_time([claim
        .billable_period
        .as_ref()
        .and_then(|p| p.start.as_deref())])
    .or(item_dates)
    .unwrap_or(submitted);
    let encounter = claim
        .item
        .iter()
        .flat_map(|i| i.encounter.iter())
        .find_map(|e| context.normalize(e));

    Ok(Event::Claim(ClaimEvent {
        claim: key,
        encounter,
        visit_date,
        submitted,
    }))
}

/// Maps an Appointment to an appointment event.
///
/// # Errors
///
/// A reject for appointments that are not on the schedule or lack a patient
/// or start.
pub fn appointment(
    context: &MapContext<'_>,
    location: &str,
    parsed: &Parsed,
    appointment: &Appointment,
) -> Result<Event, MapError> {
    match appointment.status.as_deref().unwrap_or_default() {
        "pending" | "booked" | "arrived" | "checked-in" => {}
        status @ ("proposed" | "waitlist") => {
            return Err(reject(
                location,
                "Appointment.status",
                format!("{status}: not scheduled yet"),
            ));
        }
        "fulfilled" => {
            return Err(reject(
                location,
                "Appointment.status",
                "fulfilled: the visit took place; its encounter carries the chart",
            ));
        }
        status @ ("cancelled" | "noshow" | "entered-in-error") => {
            return Err(reject(
                location,
                "Appointment.status",
                format!("{status}: the appointment event cannot withdraw a visit, so none is sent"),
            ));
        }
        "" => return Err(reject(location, "Appointment.status", "missing")),
        other => {
            return Err(reject(
                location,
                "Appointment.status",
                format!(
                    "not a FHIR R4 appointment status ({})",
                    redact::found(other)
                ),
            ));
        }
    }
    let key = require_key(location, parsed)?;
    let actors: Vec<_> = appointment
        .participant
        .iter()
        .filter_map(|p| p.actor.as_ref())
        .collect();
    let patient = actors
        .iter()
        .find_map(|a| context.patient(Some(a)))
        .ok_or_else(|| {
            reject(
                location,
                "Appointment.participant",
                "no Patient participant; the appointment event needs the patient",
            )
        })?;
    let start = first_time([appointment.start.as_deref()]).ok_or_else(|| {
        reject(
            location,
            "Appointment.start",
            "missing or not a FHIR instant",
        )
    })?;
    let kind = appointment
        .appointment_type
        .as_ref()
        .and_then(|t| t.first_code().or(t.label()))
        .or_else(|| {
            appointment
                .service_type
                .iter()
                .find_map(CodeableConcept::label)
        })
        .unwrap_or("visit");

    Ok(Event::Appointment(AppointmentEvent {
        external_id: key,
        patient,
        clinician: context.first_provider(actors.iter().copied()),
        start,
        kind: kind.to_string(),
    }))
}

/// Maps a QuestionnaireResponse to a `form` item.
///
/// # Errors
///
/// A reject for an unknown status or a missing id or date.
pub fn form(
    context: &MapContext<'_>,
    location: &str,
    parsed: &Parsed,
    response: &QuestionnaireResponse,
) -> Result<WorkItem, MapError> {
    let status = response.status.as_deref().unwrap_or_default();
    let (state, rank) = match status {
        "in-progress" => (EhrState::Open, 0),
        "completed" | "amended" => (EhrState::Done, 6),
        "stopped" | "entered-in-error" => (EhrState::Cancelled, 7),
        "" => return Err(reject(location, "QuestionnaireResponse.status", "missing")),
        other => {
            return Err(reject(
                location,
                "QuestionnaireResponse.status",
                format!("not a FHIR R4 response status ({})", redact::found(other)),
            ));
        }
    };
    let key = require_key(location, parsed)?;
    let authored = first_time([response.authored.as_deref()]);
    let version = version_of(&parsed.meta, authored, rank)
        .ok_or_else(|| reject(location, "QuestionnaireResponse.authored", "missing, and no meta.versionId or meta.lastUpdated either; the connector needs one to order versions"))?;
    let questionnaire = response
        .questionnaire
        .as_deref()
        .and_then(|q| non_empty(Some(q)));
    let title = questionnaire
        .and_then(questionnaire_name)
        .map_or_else(|| "Form".to_string(), |name| format!("Form {name}"));
    let created = authored
        .or_else(|| first_time([parsed.meta.last_updated.as_deref()]))
        .unwrap_or_else(switchboard_sdk::host::now);

    let mut item = WorkItem::new(key, version, Category::Form, title, created);
    item.state = state;
    item.patient = context.patient(response.subject.as_ref());
    item.encounter = response
        .encounter
        .as_ref()
        .and_then(|e| context.normalize(e));
    item.attributes.push(attribute("fhir-status", status));
    if let Some(questionnaire) = questionnaire {
        item.attributes
            .push(attribute("questionnaire", questionnaire));
    }
    if let Some(author) = context.provider(response.author.as_ref()) {
        item.attributes.push(attribute("author", author));
    }
    Ok(item)
}

/// The last path segment of a Questionnaire canonical, without its version.
fn questionnaire_name(canonical: &str) -> Option<&str> {
    let without_version = canonical.split('|').next()?;
    without_version.rsplit('/').find(|s| !s.is_empty())
}

/// Maps a ServiceRequest that is a referral to a `referral` item.
///
/// # Errors
///
/// A reject for orders that are not referrals, unknown statuses, or a
/// missing id or date.
pub fn referral(
    context: &MapContext<'_>,
    location: &str,
    parsed: &Parsed,
    request: &ServiceRequest,
) -> Result<WorkItem, MapError> {
    if !is_referral(request) {
        return Err(reject(
            location,
            "ServiceRequest.category",
            format!(
                "{} is an order, not a referral; orders are read only as the basedOn of results",
                parsed.label()
            ),
        ));
    }
    let status = request.status.as_deref().unwrap_or_default();
    let (state, rank) = match status {
        "draft" | "active" | "on-hold" => (EhrState::Open, 0),
        "completed" => (EhrState::Done, 6),
        "revoked" | "entered-in-error" => (EhrState::Cancelled, 7),
        "" => return Err(reject(location, "ServiceRequest.status", "missing")),
        other => {
            return Err(reject(
                location,
                "ServiceRequest.status",
                format!(
                    "not a referral status the connector maps ({})",
                    redact::found(other)
                ),
            ));
        }
    };
    let key = require_key(location, parsed)?;
    let authored = first_time([request.authored_on.as_deref()]);
    let version = version_of(&parsed.meta, authored, rank)
        .ok_or_else(|| reject(location, "ServiceRequest.authoredOn", "missing, and no meta.versionId or meta.lastUpdated either; the connector needs one to order versions"))?;
    let title = request
        .code
        .as_ref()
        .and_then(CodeableConcept::label)
        .unwrap_or("Referral")
        .to_string();
    let created = authored
        .or_else(|| first_time([parsed.meta.last_updated.as_deref()]))
        .unwrap_or_else(switchboard_sdk::host::now);

    let mut item = WorkItem::new(key, version, Category::Referral, title, created);
    item.state = state;
    item.priority = priority_of(request.priority.as_deref());
    item.patient = context.patient(request.subject.as_ref());
    item.encounter = request
        .encounter
        .as_ref()
        .and_then(|e| context.normalize(e));
    item.ordering = context.provider(request.requester.as_ref());
    item.attributes.push(attribute("fhir-status", status));
    Ok(item)
}

fn is_referral(request: &ServiceRequest) -> bool {
    let coded = request
        .category
        .iter()
        .any(|c| c.code_in(SNOMED) == Some(SNOMED_PATIENT_REFERRAL));
    let named = request
        .category
        .iter()
        .chain(request.code.iter())
        .filter_map(CodeableConcept::label)
        .any(|label| label.to_ascii_lowercase().contains("referral"));
    coded || named
}

/// Roster hints of a Practitioner or PractitionerRole; none for other
/// resources or for staff marked inactive.
pub fn roster_hints(parsed: &Parsed, context: &MapContext<'_>) -> Vec<RosterHint> {
    if is_inactive(parsed) {
        return Vec::new();
    }
    match &parsed.body {
        Resource::Practitioner(practitioner) => {
            let name = practitioner.name.iter().find_map(|n| n.display());
            let npi = practitioner
                .identifier
                .iter()
                .filter(|i| i.system.as_deref() == Some(NPI_SYSTEM))
                .find_map(|i| i.value.clone().filter(|v| is_npi(v)));
            parsed
                .key()
                .into_iter()
                .chain(npi)
                .map(|ehr_id| RosterHint {
                    ehr_id,
                    name: name.clone(),
                    role_code: None,
                })
                .collect()
        }
        Resource::PractitionerRole(role) => {
            let practitioner = role.practitioner.as_ref();
            let Some(ehr_id) = practitioner
                .and_then(|p| context.normalize(p))
                .or_else(|| parsed.key())
            else {
                return Vec::new();
            };
            vec![RosterHint {
                ehr_id,
                name: practitioner
                    .and_then(|p| non_empty(p.display.as_deref()))
                    .map(str::to_string),
                role_code: role
                    .code
                    .iter()
                    .find_map(|c| c.first_code().or(c.label()))
                    .map(str::to_string),
            }]
        }
        _ => Vec::new(),
    }
}

/// True for a Practitioner or PractitionerRole with `active` set to false.
pub fn is_inactive(parsed: &Parsed) -> bool {
    match &parsed.body {
        Resource::Practitioner(p) => p.active == Some(false),
        Resource::PractitionerRole(r) => r.active == Some(false),
        _ => false,
    }
}

/// Checks a search `outcome` entry: errors become rejects, warnings are dropped.
///
/// # Errors
///
/// A reject with the server's issues when the outcome contains an error.
pub fn search_outcome(location: &str, parsed: &Parsed) -> Result<(), MapError> {
    match &parsed.body {
        Resource::OperationOutcome(outcome) if outcome.is_error() => Err(reject(
            location,
            "OperationOutcome",
            format!("the server reported: {}", outcome.summary()),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questionnaire_name_drops_base_and_version() {
        assert_eq!(
            questionnaire_name("http://example.org/Questionnaire/phq-9|1.0"),
            Some("phq-9")
        );
        assert_eq!(questionnaire_name("Questionnaire/intake"), Some("intake"));
    }
}
