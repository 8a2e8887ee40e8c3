//! Mapping a collection of resources to work items, events and roster hints.
//!
//! Each primary resource is mapped on its own, except visit notes, which are
//! grouped by encounter first (see [`chart`]). A resource that is not work
//! (a Patient, a Condition, an active signed order) becomes a reject naming
//! the field that decided, so an administrator can see why nothing came of
//! it. An item is built completely or not at all: every mapping function
//! returns the finished item or a reject.

mod admin;
mod chart;
mod refill;
mod result;
mod task;

use std::collections::{HashMap, HashSet};

use switchboard_sdk::{Attribute, Batch, ConnectorError, Priority, Reject, RosterHint};

use crate::config::Settings;
use crate::fhir::types::{Reference, non_empty};
use crate::fhir::{Parsed, Resource};
use crate::input::{Collection, Entry, Role};
use crate::refs::{self, NPI_SYSTEM};
use crate::resolve::Resolver;

/// The reason one resource produced nothing.
#[derive(Debug)]
pub enum MapError {
    /// The resource is not work, or lacks what the item needs.
    Reject(Reject),
    /// A read failed; the whole call fails so the host retries it.
    Fatal(ConnectorError),
}

impl From<ConnectorError> for MapError {
    fn from(error: ConnectorError) -> Self {
        MapError::Fatal(error)
    }
}

/// Builds a reject of the resource at `location` for `field`.
pub fn reject(location: &str, field: impl Into<String>, message: impl Into<String>) -> MapError {
    MapError::Reject(Reject {
        location: location.to_string(),
        field: field.into(),
        message: message.into(),
    })
}

/// Settings and references for mapping one collection.
#[derive(Debug)]
pub struct MapContext<'a> {
    pub settings: &'a Settings,
    pub resolver: Resolver<'a>,
}

impl MapContext<'_> {
    fn collection(&self) -> &Collection {
        self.resolver.collection()
    }

    /// Returns the reference in the form items carry (see [`crate::refs`]).
    pub fn normalize(&self, reference: &Reference) -> Option<String> {
        normalize(self.collection(), reference)
    }

    /// Returns the patient reference when `reference` points at a Patient.
    pub fn patient(&self, reference: Option<&Reference>) -> Option<String> {
        let reference = reference?;
        (self.target_type(reference).as_deref() == Some("Patient"))
            .then(|| self.normalize(reference))
            .flatten()
    }

    /// Returns the provider reference when `reference` points at a practitioner.
    ///
    /// A `PractitionerRole` found in the message is replaced by its
    /// practitioner, because rosters list practitioners.
    pub fn provider(&self, reference: Option<&Reference>) -> Option<String> {
        let reference = reference?;
        match self.target_type(reference).as_deref() {
            Some("Practitioner") => self.normalize(reference),
            Some("PractitionerRole") => {
                let role = reference
                    .reference
                    .as_deref()
                    .and_then(|r| self.resolver.find_local(r));
                let practitioner = role.as_deref().and_then(|role| match &role.body {
                    Resource::PractitionerRole(role) => {
                        role.practitioner.as_ref().and_then(|p| self.normalize(p))
                    }
                    _ => None,
                });
                practitioner.or_else(|| self.normalize(reference))
            }
            _ => None,
        }
    }

    /// Returns the first reference in `references` that [`MapContext::provider`] accepts.
    pub fn first_provider<'r>(
        &self,
        references: impl IntoIterator<Item = &'r Reference>,
    ) -> Option<String> {
        references.into_iter().find_map(|r| self.provider(Some(r)))
    }

    /// Returns the resource type a reference points to. It comes from the
    /// reference text, from the target in the message for `urn:` references,
    /// or is `Practitioner` for an NPI identifier.
    pub fn target_type(&self, reference: &Reference) -> Option<String> {
        if let Some(text) = non_empty(reference.reference.as_deref()) {
            if text.starts_with("urn:") {
                return self
                    .collection()
                    .find(text)
                    .map(|p| p.resource_type.clone());
            }
            return refs::target_type(text).map(str::to_string);
        }
        let identifier = reference.identifier.as_ref()?;
        (identifier.system.as_deref() == Some(NPI_SYSTEM)).then(|| "Practitioner".to_string())
    }
}

/// Returns the reference in the form items carry; [`crate::refs`] gives the rules.
pub fn normalize(collection: &Collection, reference: &Reference) -> Option<String> {
    if let Some(text) = non_empty(reference.reference.as_deref()) {
        let text = text.trim();
        if text.starts_with('#') {
            return None;
        }
        if text.starts_with("urn:") {
            return Some(
                collection
                    .find(text)
                    .and_then(|p| p.key())
                    .unwrap_or_else(|| text.to_string()),
            );
        }
        if let Some(npi) = refs::conditional_npi(text) {
            return Some(npi.to_string());
        }
        return Some(refs::relative(text).unwrap_or_else(|| text.to_string()));
    }
    let identifier = reference.identifier.as_ref()?;
    if identifier.system.as_deref() == Some(NPI_SYSTEM) {
        return identifier.value.clone().filter(|v| refs::is_npi(v));
    }
    None
}

/// Converts a FHIR `request-priority` code; absent or unknown codes are routine.
pub fn priority_of(code: Option<&str>) -> Priority {
    match code {
        Some("urgent") => Priority::Urgent,
        Some("asap") => Priority::Asap,
        Some("stat") => Priority::Stat,
        _ => Priority::Routine,
    }
}

/// Builds an item attribute.
pub fn attribute(key: &str, value: impl Into<String>) -> Attribute {
    Attribute {
        key: key.to_string(),
        value: value.into(),
    }
}

/// Returns the `Type/id` key of a resource, or a reject when it has no id,
/// because an item needs a stable external id.
pub fn require_key(location: &str, parsed: &Parsed) -> Result<String, MapError> {
    parsed.key().ok_or_else(|| {
        reject(
            location,
            format!("{}.id", parsed.resource_type),
            "missing; an item needs the resource's id to recognize later versions",
        )
    })
}

/// Counts of what one mapping call did, for the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapStats {
    pub resources: usize,
    pub reads: usize,
}

/// Maps every primary entry of `collection`.
///
/// # Errors
///
/// The first [`ConnectorError`] of a read; nothing of the collection is
/// returned then, so the host retries the whole message or page.
pub fn map_collection(mut context: MapContext<'_>) -> Result<(Batch, MapStats), ConnectorError> {
    let collection = context.resolver.collection();
    let consumed = consumed_references(collection);
    let mut batch = Batch::default();
    let mut charts = chart::ChartBuilder::default();
    let mut roster = RosterCollector::default();

    for entry in &collection.entries {
        let outcome = map_entry(
            &mut context,
            entry,
            &consumed,
            &mut charts,
            &mut roster,
            &mut batch,
        );
        match outcome {
            Ok(()) => {}
            Err(MapError::Reject(reject)) => batch.rejects.push(reject),
            Err(MapError::Fatal(error)) => return Err(error),
        }
    }

    charts.finish(&mut context, &mut batch)?;
    batch.roster = roster.hints;
    let stats = MapStats {
        resources: collection.entries.len(),
        reads: context.resolver.reads(),
    };
    Ok((batch, stats))
}

fn map_entry(
    context: &mut MapContext<'_>,
    entry: &Entry,
    consumed: &HashSet<String>,
    charts: &mut chart::ChartBuilder,
    roster: &mut RosterCollector,
    batch: &mut Batch,
) -> Result<(), MapError> {
    let location = entry.location.as_str();
    let parsed = match (&entry.resource, entry.role) {
        (Err(problem), Role::Primary) => {
            return Err(reject(
                location,
                problem.field.clone(),
                problem.message.clone(),
            ));
        }
        (Err(_), _) => return Ok(()),
        (Ok(parsed), _) => parsed.clone(),
    };

    match entry.role {
        Role::Context => {
            roster.add(&parsed, context);
            return Ok(());
        }
        Role::Outcome => return admin::search_outcome(location, &parsed),
        Role::Primary => {}
    }

    let is_consumed = parsed.key().is_some_and(|key| consumed.contains(&key))
        || entry
            .full_url
            .as_ref()
            .is_some_and(|url| consumed.contains(url));
    match &parsed.body {
        Resource::MedicationRequest(request) => batch
            .items
            .push(refill::map(context, location, &parsed, request)?),
        Resource::DiagnosticReport(report) => batch
            .items
            .push(result::map_report(context, location, &parsed, report)?),
        Resource::Observation(_) if is_consumed => {}
        Resource::Observation(observation) => batch.items.push(result::map_observation(
            context,
            location,
            &parsed,
            observation,
        )?),
        Resource::Task(task) => batch
            .items
            .push(task::map(context, location, &parsed, task)?),
        Resource::Encounter(_) => {
            charts.add_encounter(location, entry.full_url.as_deref(), parsed.clone())?
        }
        Resource::Composition(_) | Resource::DocumentReference(_) => {
            charts.add_note(context, location, parsed.clone())?
        }
        Resource::Claim(claim) => batch
            .events
            .push(admin::claim(context, location, &parsed, claim)?),
        Resource::Appointment(appointment) => {
            batch
                .events
                .push(admin::appointment(context, location, &parsed, appointment)?)
        }
        Resource::QuestionnaireResponse(response) => batch
            .items
            .push(admin::form(context, location, &parsed, response)?),
        Resource::ServiceRequest(_) if is_consumed => {}
        Resource::ServiceRequest(request) => batch
            .items
            .push(admin::referral(context, location, &parsed, request)?),
        Resource::Practitioner(_) | Resource::PractitionerRole(_) => {
            if !roster.add(&parsed, context) {
                return Err(reject(
                    location,
                    format!("{}.active", parsed.resource_type),
                    "inactive; no roster hint for staff the EHR marks inactive",
                ));
            }
        }
        Resource::Medication(_) if is_consumed => {}
        Resource::OperationOutcome(outcome) => {
            return Err(reject(
                location,
                "OperationOutcome",
                format!("the server reported: {}", outcome.summary()),
            ));
        }
        _ => return Err(unmapped(location, &parsed)),
    }
    Ok(())
}

fn unmapped(location: &str, parsed: &Parsed) -> MapError {
    let reason = match parsed.resource_type.as_str() {
        "Patient" => "patient records are not read: items carry the patient reference only",
        "Medication" => {
            "a Medication is reference data; it is read when a MedicationRequest names it"
        }
        "Parameters" | "SubscriptionStatus" => {
            "a subscription status outside a notification Bundle carries no change"
        }
        _ => "this resource type carries no work this connector routes",
    };
    reject(
        location,
        "resourceType",
        format!("{} not mapped: {reason}", parsed.label()),
    )
}

/// References that other resources in the collection use as parts: the
/// observations and orders of reports, the medications of requests. Those
/// are mapped with their owner, not on their own.
fn consumed_references(collection: &Collection) -> HashSet<String> {
    let mut consumed = HashSet::new();
    let add = |reference: &Option<String>, consumed: &mut HashSet<String>| {
        if let Some(reference) = reference {
            if let Some(parsed) = collection.find(reference)
                && let Some(key) = parsed.key()
            {
                consumed.insert(key);
            }
            consumed.insert(reference.clone());
        }
    };

    for entry in &collection.entries {
        let Ok(parsed) = &entry.resource else {
            continue;
        };
        match &parsed.body {
            Resource::DiagnosticReport(report) => {
                for reference in report.result.iter().chain(&report.based_on) {
                    add(&reference.reference, &mut consumed);
                }
            }
            Resource::Observation(observation) => {
                for reference in &observation.has_member {
                    add(&reference.reference, &mut consumed);
                }
            }
            Resource::MedicationRequest(request) => {
                if let Some(reference) = &request.medication_reference {
                    add(&reference.reference, &mut consumed);
                }
            }
            _ => {}
        }
    }
    consumed
}

/// Roster hints, one per EHR id.
#[derive(Debug, Default)]
struct RosterCollector {
    hints: Vec<RosterHint>,
    seen: HashMap<String, usize>,
}

impl RosterCollector {
    /// Adds the hints of a Practitioner or PractitionerRole; returns false
    /// for staff the EHR marks inactive. Other resources are ignored.
    fn add(&mut self, parsed: &Parsed, context: &MapContext<'_>) -> bool {
        for hint in admin::roster_hints(parsed, context) {
            match self.seen.get(&hint.ehr_id) {
                Some(&index) => {
                    let known = &mut self.hints[index];
                    known.name = known.name.take().or(hint.name);
                    known.role_code = known.role_code.take().or(hint.role_code);
                }
                None => {
                    self.seen.insert(hint.ehr_id.clone(), self.hints.len());
                    self.hints.push(hint);
                }
            }
        }
        !admin::is_inactive(parsed)
    }
}
