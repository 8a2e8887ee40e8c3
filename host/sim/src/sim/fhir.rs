//! FHIR R4 JSON of a simulated site, in the shapes the FHIR connector reads.
//!
//! | work | resources | open | done |
//! | --- | --- | --- | --- |
//! | visit | `Encounter` + `DocumentReference` | `docStatus` `preliminary` | `docStatus` `final`, `date` = signing time, `authenticator` |
//! | refill | `MedicationRequest` (`intent` `proposal`, `priorPrescription`) | `active` | `completed` |
//! | result | `ServiceRequest` (lab order) + `Observation`s with `interpretation` + `DiagnosticReport` | `final` | no FHIR form; see below |
//! | message | `Task` focused on a `Communication` | `requested` | `completed` |
//! | form | `QuestionnaireResponse` | `in-progress` | `completed` |
//! | referral | `ServiceRequest` (category SNOMED CT 3457005) | `active` | `completed` |
//! | prior authorization | `Task` focused on a `CoverageEligibilityRequest` | `requested` | `completed` |
//! | other | `Task` | `requested` | `completed` |
//! | appointment | `Appointment` | `booked` | — |
//! | claim | `Claim` (`use` `claim`) | `active` at submission | — |
//!
//! A result's review happens inside the EHR's in-basket and changes no
//! FHIR resource, so result completions exist only as
//! [`super::output::Completion`] records (feed them to the host's item
//! actions). Times carry the site's UTC offset. Ids are synthetic
//! (`sim-<site>-…`); patients are `Patient/sim-<site>-<n>`.

use chrono::{SecondsFormat, TimeZone};
use chrono_tz::Tz;
use serde_json::{Value, json};
use switchboard_sdk::Timestamp;

use super::generate::{ItemDetail, SimAppointment, SimEncounter, SimItem, practitioner_ref};
use super::output::{SiteOutput, claim_ref, encounter_ref};
use crate::local::{local_date, local_instant};

/// Content type of FHIR JSON messages.
pub const FHIR_JSON: &str = "application/fhir+json";

/// Canonical base of the simulator's own code systems and questionnaires
/// (the reserved `.example` domain, so nothing resolves).
const SIM_BASE: &str = "http://switchboard.example";

/// One message of a time-ordered feed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FeedMessage {
    /// When the EHR would send it.
    pub at: Timestamp,
    /// MIME type of `body`.
    pub content_type: &'static str,
    /// The resource key, or the HL7 message control id, of the content.
    pub key: String,
    /// The message.
    pub body: String,
}

/// Formats a FHIR instant in the site's offset, such as `2026-03-09T08:20:00-05:00`.
pub fn fhir_time(zone: Tz, at: Timestamp) -> String {
    zone.from_utc_datetime(&at.to_utc().naive_utc())
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn reference(target: &str) -> Value {
    json!({ "reference": target })
}

fn meta(zone: Tz, version: u32, at: Timestamp) -> Value {
    json!({ "versionId": version.to_string(), "lastUpdated": fhir_time(zone, at) })
}

/// Removes top-level fields whose value is `null`, which FHIR JSON does
/// not allow (optional references are built as `Option`s).
fn without_nulls(mut resource: Value) -> Value {
    if let Some(fields) = resource.as_object_mut() {
        fields.retain(|_, v| !v.is_null());
    }
    resource
}

/// Builds the `Appointment` of a booked visit.
pub fn appointment(zone: Tz, appointment: &SimAppointment, booked: Timestamp) -> Value {
    json!({
        "resourceType": "Appointment",
        "id": appointment.id,
        "meta": meta(zone, 1, booked),
        "status": "booked",
        "appointmentType": {
            "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v2-0276", "code": appointment.visit_code }],
            "text": appointment.visit_text
        },
        "start": fhir_time(zone, appointment.start),
        "end": fhir_time(zone, appointment.end),
        "minutesDuration": appointment.end.minutes_since(appointment.start),
        "participant": [
            { "actor": reference(&appointment.patient), "required": "required", "status": "accepted" },
            { "actor": reference(&practitioner_ref(&appointment.clinician)), "required": "required", "status": "accepted" }
        ]
    })
}

/// Builds the finished `Encounter` of a visit.
pub fn encounter(zone: Tz, encounter: &SimEncounter) -> Value {
    json!({
        "resourceType": "Encounter",
        "id": encounter.id,
        "meta": meta(zone, 1, encounter.end),
        "status": "finished",
        "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory" },
        "type": [{ "text": encounter.visit_text }],
        "subject": reference(&encounter.patient),
        "participant": [{
            "type": [{ "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "code": "PPRF",
                "display": "primary performer"
            }] }],
            "individual": reference(&practitioner_ref(&encounter.clinician))
        }],
        "appointment": [reference(&format!("Appointment/{}", encounter.appointment))],
        "period": { "start": fhir_time(zone, encounter.start), "end": fhir_time(zone, encounter.end) }
    })
}

/// Formats the FHIR id of a visit's note.
pub fn note_id(encounter: &SimEncounter) -> String {
    format!("{}-note", encounter.id)
}

/// Builds the visit's note: `preliminary` until `signed`, then `final` with the
/// signing time as `date` and the clinician as authenticator. The note
/// carries the visit's period so it maps without its encounter.
pub fn note(zone: Tz, encounter: &SimEncounter, signed: Option<Timestamp>) -> Value {
    let clinician = practitioner_ref(&encounter.clinician);
    let mut note = json!({
        "resourceType": "DocumentReference",
        "id": note_id(encounter),
        "meta": meta(zone, 1, encounter.end),
        "status": "current",
        "docStatus": "preliminary",
        "type": { "coding": [{ "system": "http://loinc.org", "code": "11506-3", "display": "Progress note" }] },
        "subject": reference(&encounter.patient),
        "date": fhir_time(zone, encounter.end),
        "author": [reference(&clinician)],
        "content": [{ "attachment": { "contentType": "text/plain", "title": "Progress note" } }],
        "context": {
            "encounter": [reference(&encounter_ref(encounter))],
            "period": { "start": fhir_time(zone, encounter.start), "end": fhir_time(zone, encounter.end) }
        }
    });
    if let Some(at) = signed {
        note["meta"] = meta(zone, 2, at);
        note["docStatus"] = json!("final");
        note["date"] = json!(fhir_time(zone, at));
        note["authenticator"] = reference(&clinician);
    }
    note
}

/// Builds the `Claim` of a visit, submitted at `submitted`.
pub fn claim(zone: Tz, encounter: &SimEncounter, submitted: Timestamp) -> Value {
    let id = claim_ref(encounter)
        .trim_start_matches("Claim/")
        .to_string();
    json!({
        "resourceType": "Claim",
        "id": id,
        "meta": meta(zone, 1, submitted),
        "status": "active",
        "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional" }] },
        "use": "claim",
        "patient": reference(&encounter.patient),
        "created": fhir_time(zone, submitted),
        "provider": reference(&practitioner_ref(&encounter.clinician)),
        "priority": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal" }] },
        "insurance": [{ "sequence": 1, "focal": true, "coverage": { "display": "Synthetic coverage" } }],
        "billablePeriod": { "start": fhir_time(zone, encounter.start), "end": fhir_time(zone, encounter.end) },
        "item": [{
            "sequence": 1,
            "productOrService": { "text": encounter.visit_text },
            "servicedDate": local_date(zone, encounter.start).to_string(),
            "encounter": [reference(&encounter_ref(encounter))]
        }]
    })
}

/// Builds the resources of an item: its primary resource last, companions (a
/// result's order and observations) first. `completed` turns the primary
/// resource into its done state where FHIR has one.
pub fn item_resources(zone: Tz, item: &SimItem, completed: Option<Timestamp>) -> Vec<Value> {
    item_resources_raw(zone, item, completed)
        .into_iter()
        .map(without_nulls)
        .collect()
}

fn item_resources_raw(zone: Tz, item: &SimItem, completed: Option<Timestamp>) -> Vec<Value> {
    let work = &item.item;
    let created = work.created;
    let patient = work.patient.clone().unwrap_or_default();
    let ordering = item.ordering.as_deref().map(practitioner_ref);
    let (version, changed) = match completed {
        Some(at) => (2, at),
        None => (1, created),
    };
    let done = completed.is_some();

    match &item.detail {
        ItemDetail::Result {
            panel,
            order_id,
            collected,
            observations,
        } => {
            let code = json!({ "coding": [{ "system": "http://loinc.org", "code": panel.loinc, "display": panel.name }], "text": panel.name });
            let order = json!({
                "resourceType": "ServiceRequest",
                "id": order_id,
                "meta": meta(zone, 1, *collected),
                "status": "completed",
                "intent": "order",
                "category": [{ "coding": [{ "system": "http://snomed.info/sct", "code": "108252007", "display": "Laboratory procedure" }] }],
                "priority": work.priority.as_str(),
                "code": code,
                "subject": reference(&patient),
                "authoredOn": fhir_time(zone, *collected),
                "requester": ordering.as_deref().map(reference)
            });
            let mut resources = vec![order];
            for observation in observations {
                let analyte = &observation.analyte;
                resources.push(json!({
                    "resourceType": "Observation",
                    "id": observation.id,
                    "meta": meta(zone, 1, created),
                    "status": "final",
                    "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory" }] }],
                    "code": { "coding": [{ "system": "http://loinc.org", "code": analyte.loinc, "display": analyte.name }], "text": analyte.name },
                    "subject": reference(&patient),
                    "effectiveDateTime": fhir_time(zone, *collected),
                    "issued": fhir_time(zone, created),
                    "valueQuantity": { "value": observation.value, "unit": analyte.unit, "system": "http://unitsofmeasure.org", "code": analyte.unit },
                    "interpretation": [{ "coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "code": observation.interpretation
                    }] }],
                    "referenceRange": [{
                        "low": { "value": analyte.low, "unit": analyte.unit, "system": "http://unitsofmeasure.org", "code": analyte.unit },
                        "high": { "value": analyte.high, "unit": analyte.unit, "system": "http://unitsofmeasure.org", "code": analyte.unit }
                    }]
                }));
            }
            let results: Vec<Value> = observations
                .iter()
                .map(|o| reference(&format!("Observation/{}", o.id)))
                .collect();
            resources.push(json!({
                "resourceType": "DiagnosticReport",
                "id": item.resource_id,
                "meta": meta(zone, 1, created),
                "status": "final",
                "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB" }] }],
                "code": code,
                "subject": reference(&patient),
                "effectiveDateTime": fhir_time(zone, *collected),
                "issued": fhir_time(zone, created),
                "basedOn": [reference(&format!("ServiceRequest/{order_id}"))],
                "result": results
            }));
            resources
        }
        ItemDetail::Refill {
            medication,
            prior_id,
        } => vec![json!({
            "resourceType": "MedicationRequest",
            "id": item.resource_id,
            "meta": meta(zone, version, changed),
            "status": if done { "completed" } else { "active" },
            "intent": "proposal",
            "category": [{ "coding": [{ "system": format!("{SIM_BASE}/CodeSystem/sim-request"), "code": "refill" }], "text": "refill" }],
            "priority": work.priority.as_str(),
            "medicationCodeableConcept": { "text": medication },
            "subject": reference(&patient),
            "authoredOn": fhir_time(zone, created),
            "requester": ordering.as_deref().map(reference),
            "priorPrescription": reference(&format!("MedicationRequest/{prior_id}"))
        })],
        ItemDetail::Message {
            communication_id, ..
        } => vec![task(
            zone,
            item,
            "patient-message",
            Some(format!("Communication/{communication_id}")),
            completed,
        )],
        ItemDetail::PriorAuth { request_id, .. } => vec![task(
            zone,
            item,
            "prior-authorization",
            Some(format!("CoverageEligibilityRequest/{request_id}")),
            completed,
        )],
        ItemDetail::Other { .. } => vec![task(zone, item, "fyi", None, completed)],
        ItemDetail::Form { questionnaire, .. } => vec![json!({
            "resourceType": "QuestionnaireResponse",
            "id": item.resource_id,
            "meta": meta(zone, version, changed),
            "questionnaire": format!("{SIM_BASE}/Questionnaire/{questionnaire}"),
            "status": if done { "completed" } else { "in-progress" },
            "subject": reference(&patient),
            "authored": fhir_time(zone, created)
        })],
        ItemDetail::Referral { .. } => vec![json!({
            "resourceType": "ServiceRequest",
            "id": item.resource_id,
            "meta": meta(zone, version, changed),
            "status": if done { "completed" } else { "active" },
            "intent": "order",
            "category": [{ "coding": [{ "system": "http://snomed.info/sct", "code": "3457005", "display": "Patient referral" }] }],
            "priority": work.priority.as_str(),
            "code": { "text": work.title },
            "subject": reference(&patient),
            "authoredOn": fhir_time(zone, created),
            "requester": ordering.as_deref().map(reference)
        })],
    }
}

fn task(
    zone: Tz,
    item: &SimItem,
    code: &str,
    focus: Option<String>,
    completed: Option<Timestamp>,
) -> Value {
    let work = &item.item;
    let (version, changed) = match completed {
        Some(at) => (2, at),
        None => (1, work.created),
    };
    let mut task = json!({
        "resourceType": "Task",
        "id": item.resource_id,
        "meta": meta(zone, version, changed),
        "status": if completed.is_some() { "completed" } else { "requested" },
        "intent": "order",
        "priority": work.priority.as_str(),
        "code": { "coding": [{ "system": format!("{SIM_BASE}/CodeSystem/sim-task"), "code": code }], "text": work.title },
        "for": reference(work.patient.as_deref().unwrap_or_default()),
        "authoredOn": fhir_time(zone, work.created),
        "lastModified": fhir_time(zone, changed),
        "owner": reference(&practitioner_ref(&item.pcp))
    });
    if let Some(focus) = focus {
        task["focus"] = reference(&focus);
    }
    if let Some(ordering) = &item.ordering {
        task["requester"] = reference(&practitioner_ref(ordering));
    }
    if let Some(due) = work.due {
        task["restriction"] = json!({ "period": { "end": fhir_time(zone, due) } });
    }
    task
}

/// Wraps `resources` in a `collection` Bundle.
pub fn bundle(resources: Vec<Value>) -> Value {
    let entries: Vec<Value> = resources
        .into_iter()
        .map(|resource| {
            let url = format!(
                "{}/{}",
                resource["resourceType"].as_str().unwrap_or_default(),
                resource["id"].as_str().unwrap_or_default()
            );
            json!({ "fullUrl": url, "resource": resource })
        })
        .collect();
    json!({ "resourceType": "Bundle", "type": "collection", "entry": entries })
}

/// Writes resources as NDJSON: one compact resource per line.
pub fn ndjson(resources: &[Value]) -> String {
    let mut out = String::new();
    for resource in resources {
        out.push_str(&resource.to_string());
        out.push('\n');
    }
    out
}

/// Returns when an appointment appears in the feed: the start of its
/// visit date.
fn booked_at(zone: Tz, appointment: &SimAppointment) -> Timestamp {
    local_instant(zone, local_date(zone, appointment.start), 0)
}

/// Builds every FHIR change of the site as messages in time order: one per
/// appointment, visit (Encounter with its preliminary note), item
/// arrival, signature (the final note), completion and claim. Each body is
/// one resource, or a `collection` Bundle when companions travel together.
pub fn feed(site: &SiteOutput) -> Vec<FeedMessage> {
    let zone = site.facts().zone;
    let mut messages = Vec::new();
    let message = |at: Timestamp, key: String, resources: Vec<Value>| {
        let body = if resources.len() == 1 {
            resources.into_iter().next().unwrap_or_default()
        } else {
            bundle(resources)
        };
        FeedMessage {
            at,
            content_type: FHIR_JSON,
            key,
            body: body.to_string(),
        }
    };

    for a in &site.appointments {
        let at = booked_at(zone, a);
        messages.push(message(
            at,
            format!("Appointment/{}", a.id),
            vec![appointment(zone, a, at)],
        ));
    }
    for (i, e) in site.encounters.iter().enumerate() {
        messages.push(message(
            e.end,
            encounter_ref(e),
            vec![encounter(zone, e), note(zone, e, None)],
        ));
        if let Some(at) = site.outcome.signed[i] {
            messages.push(message(
                at,
                format!("DocumentReference/{}", note_id(e)),
                vec![note(zone, e, Some(at))],
            ));
        }
        if let Some(at) = site.outcome.claims[i] {
            messages.push(message(at, claim_ref(e), vec![claim(zone, e, at)]));
        }
    }
    for (i, item) in site.items.iter().enumerate() {
        let key = item.item.external_id.clone();
        messages.push(message(
            item.item.created,
            key.clone(),
            item_resources(zone, item, None),
        ));
        if let (Some(at), true) = (site.outcome.completed[i], has_done_state(item)) {
            messages.push(message(at, key, item_resources(zone, item, Some(at))));
        }
    }

    messages.sort_by(|a, b| (a.at, &a.key).cmp(&(b.at, &b.key)));
    messages
}

/// Returns false for results, whose review has no FHIR form.
pub fn has_done_state(item: &SimItem) -> bool {
    !matches!(item.detail, ItemDetail::Result { .. })
}

/// Builds a `collection` Bundle of everything that first appears on `date`, in
/// its initial state: appointments of the date, visits ending that date
/// (Encounter and preliminary note), item arrivals with their companions,
/// and claims submitted that date.
pub fn day_bundle(site: &SiteOutput, date: chrono::NaiveDate) -> Value {
    let zone = site.facts().zone;
    let on = |at: Timestamp| local_date(zone, at) == date;
    let mut timed: Vec<(Timestamp, Value)> = Vec::new();

    for a in site.appointments.iter().filter(|a| on(a.start)) {
        let at = booked_at(zone, a);
        timed.push((at, appointment(zone, a, at)));
    }
    for (i, e) in site.encounters.iter().enumerate() {
        if on(e.end) {
            timed.push((e.end, encounter(zone, e)));
            timed.push((e.end, note(zone, e, None)));
        }
        if let Some(at) = site.outcome.claims[i].filter(|at| on(*at)) {
            timed.push((at, claim(zone, e, at)));
        }
    }
    for item in site.items.iter().filter(|i| on(i.item.created)) {
        for resource in item_resources(zone, item, None) {
            timed.push((item.item.created, resource));
        }
    }

    timed.sort_by_key(|(at, _)| *at);
    bundle(timed.into_iter().map(|(_, r)| r).collect())
}

/// Writes NDJSON of the changes made on `date` to resources that already exist:
/// final notes at signing and done states of items, in time order.
pub fn day_updates_ndjson(site: &SiteOutput, date: chrono::NaiveDate) -> String {
    let zone = site.facts().zone;
    let on = |at: Timestamp| local_date(zone, at) == date;
    let mut timed: Vec<(Timestamp, Value)> = Vec::new();

    for (i, e) in site.encounters.iter().enumerate() {
        if let Some(at) = site.outcome.signed[i].filter(|at| on(*at)) {
            timed.push((at, note(zone, e, Some(at))));
        }
    }
    for (i, item) in site.items.iter().enumerate() {
        if let Some(at) = site.outcome.completed[i].filter(|at| on(*at))
            && has_done_state(item)
        {
            timed.extend(
                item_resources(zone, item, Some(at))
                    .into_iter()
                    .map(|r| (at, r)),
            );
        }
    }

    timed.sort_by_key(|(at, _)| *at);
    let resources: Vec<Value> = timed.into_iter().map(|(_, r)| r).collect();
    ndjson(&resources)
}
