//! FHIR R4 resources the connector maps, each reduced to the elements it reads.
//!
//! Narrative (`text`), free-text notes and descriptions are deliberately left
//! out: they may carry patient names or note text, which never leave the
//! connector.

use serde::Deserialize;

use super::types::{
    CodeableConcept, Coding, Extension, HumanName, Identifier, Period, Quantity, Reference,
};

/// `MedicationRequest`: a prescription, a proposal or a renewal request.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MedicationRequest {
    pub status: Option<String>,
    pub intent: Option<String>,
    pub category: Vec<CodeableConcept>,
    pub priority: Option<String>,
    pub medication_codeable_concept: Option<CodeableConcept>,
    pub medication_reference: Option<Reference>,
    pub subject: Option<Reference>,
    pub encounter: Option<Reference>,
    pub authored_on: Option<String>,
    pub requester: Option<Reference>,
    pub prior_prescription: Option<Reference>,
    pub course_of_therapy_type: Option<CodeableConcept>,
    pub extension: Vec<Extension>,
}

/// `Medication`, read for its code when a request references it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Medication {
    pub code: Option<CodeableConcept>,
}

/// `DiagnosticReport`: a lab or imaging result.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DiagnosticReport {
    pub status: Option<String>,
    pub category: Vec<CodeableConcept>,
    pub code: Option<CodeableConcept>,
    pub subject: Option<Reference>,
    pub encounter: Option<Reference>,
    pub effective_date_time: Option<String>,
    pub effective_period: Option<Period>,
    pub issued: Option<String>,
    pub performer: Vec<Reference>,
    pub results_interpreter: Vec<Reference>,
    pub result: Vec<Reference>,
    pub based_on: Vec<Reference>,
}

/// One `Observation.referenceRange`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReferenceRange {
    pub low: Option<Quantity>,
    pub high: Option<Quantity>,
    #[serde(rename = "type")]
    pub kind: Option<CodeableConcept>,
    pub applies_to: Vec<CodeableConcept>,
}

/// One `Observation.component`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObservationComponent {
    pub interpretation: Vec<CodeableConcept>,
    pub value_quantity: Option<Quantity>,
    pub reference_range: Vec<ReferenceRange>,
}

/// `Observation`: one measurement, or a panel through `hasMember`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Observation {
    pub status: Option<String>,
    pub category: Vec<CodeableConcept>,
    pub code: Option<CodeableConcept>,
    pub subject: Option<Reference>,
    pub encounter: Option<Reference>,
    pub effective_date_time: Option<String>,
    pub effective_period: Option<Period>,
    pub effective_instant: Option<String>,
    pub issued: Option<String>,
    pub performer: Vec<Reference>,
    pub based_on: Vec<Reference>,
    pub interpretation: Vec<CodeableConcept>,
    pub value_quantity: Option<Quantity>,
    pub reference_range: Vec<ReferenceRange>,
    pub component: Vec<ObservationComponent>,
    pub has_member: Vec<Reference>,
}

/// `ServiceRequest`: an order, read for its requester, or a referral.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServiceRequest {
    pub status: Option<String>,
    pub intent: Option<String>,
    pub category: Vec<CodeableConcept>,
    pub code: Option<CodeableConcept>,
    pub priority: Option<String>,
    pub subject: Option<Reference>,
    pub encounter: Option<Reference>,
    pub authored_on: Option<String>,
    pub requester: Option<Reference>,
}

/// `Task.restriction`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct TaskRestriction {
    pub period: Option<Period>,
}

/// `Task`: work the EHR itself tracks.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Task {
    pub status: Option<String>,
    pub intent: Option<String>,
    pub priority: Option<String>,
    pub code: Option<CodeableConcept>,
    pub focus: Option<Reference>,
    #[serde(rename = "for")]
    pub for_: Option<Reference>,
    pub encounter: Option<Reference>,
    pub authored_on: Option<String>,
    pub last_modified: Option<String>,
    pub requester: Option<Reference>,
    pub owner: Option<Reference>,
    pub restriction: Option<TaskRestriction>,
}

/// One `Encounter.participant`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct EncounterParticipant {
    #[serde(rename = "type")]
    pub kind: Vec<CodeableConcept>,
    pub period: Option<Period>,
    pub individual: Option<Reference>,
}

/// `Encounter`: a visit.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Encounter {
    pub status: Option<String>,
    #[serde(rename = "class")]
    pub class: Option<Coding>,
    #[serde(rename = "type")]
    pub kind: Vec<CodeableConcept>,
    pub service_type: Option<CodeableConcept>,
    pub subject: Option<Reference>,
    pub participant: Vec<EncounterParticipant>,
    pub period: Option<Period>,
}

/// One `Composition.attester`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Attester {
    pub mode: Option<String>,
    pub time: Option<String>,
    pub party: Option<Reference>,
}

/// `Composition`: a clinical document such as a visit note.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Composition {
    pub status: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<CodeableConcept>,
    pub subject: Option<Reference>,
    pub encounter: Option<Reference>,
    pub date: Option<String>,
    pub author: Vec<Reference>,
    pub attester: Vec<Attester>,
}

/// `DocumentReference.context`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct DocumentContext {
    pub encounter: Vec<Reference>,
    pub period: Option<Period>,
}

/// `DocumentReference`: an index entry for a document such as a visit note.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DocumentReference {
    pub status: Option<String>,
    pub doc_status: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<CodeableConcept>,
    pub category: Vec<CodeableConcept>,
    pub subject: Option<Reference>,
    pub date: Option<String>,
    pub author: Vec<Reference>,
    pub authenticator: Option<Reference>,
    pub context: Option<DocumentContext>,
}

/// One `Claim.item`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ClaimItem {
    pub serviced_date: Option<String>,
    pub serviced_period: Option<Period>,
    pub encounter: Vec<Reference>,
}

/// `Claim`: a bill sent to a payer.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Claim {
    pub status: Option<String>,
    #[serde(rename = "use")]
    pub use_: Option<String>,
    pub patient: Option<Reference>,
    pub created: Option<String>,
    pub billable_period: Option<Period>,
    pub item: Vec<ClaimItem>,
}

/// One `Appointment.participant`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct AppointmentParticipant {
    pub actor: Option<Reference>,
}

/// `Appointment`: a scheduled visit.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Appointment {
    pub status: Option<String>,
    pub appointment_type: Option<CodeableConcept>,
    pub service_type: Vec<CodeableConcept>,
    pub start: Option<String>,
    pub participant: Vec<AppointmentParticipant>,
}

/// `Practitioner`: a member of staff.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Practitioner {
    pub active: Option<bool>,
    pub identifier: Vec<Identifier>,
    pub name: Vec<HumanName>,
}

/// `PractitionerRole`: what a practitioner does where.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PractitionerRole {
    pub active: Option<bool>,
    pub practitioner: Option<Reference>,
    pub code: Vec<CodeableConcept>,
}

/// `QuestionnaireResponse`: a form, filled in or in progress.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct QuestionnaireResponse {
    pub status: Option<String>,
    pub questionnaire: Option<String>,
    pub subject: Option<Reference>,
    pub encounter: Option<Reference>,
    pub authored: Option<String>,
    pub author: Option<Reference>,
}

/// One `OperationOutcome.issue`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Issue {
    pub severity: Option<String>,
    pub code: Option<String>,
    pub diagnostics: Option<String>,
    pub details: Option<CodeableConcept>,
}

/// `OperationOutcome`: a server's report of an error or warning.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct OperationOutcome {
    pub issue: Vec<Issue>,
}

impl OperationOutcome {
    /// True when an issue has severity `error` or `fatal`.
    pub fn is_error(&self) -> bool {
        self.issue
            .iter()
            .any(|i| matches!(i.severity.as_deref(), Some("error" | "fatal")))
    }

    /// Formats the issues as `severity/code` phrases joined by `; `.
    ///
    /// The diagnostics and details text are left out: a server may echo the
    /// resource or the search that failed, with patient data in it. A
    /// severity or code outside its FHIR value set is described, not quoted.
    pub fn summary(&self) -> String {
        if self.issue.is_empty() {
            return "OperationOutcome without issues".to_string();
        }
        let phrases: Vec<String> = self.issue.iter().map(issue_phrase).collect();
        phrases.join("; ")
    }
}

/// The FHIR R4 `issue-severity` codes.
const ISSUE_SEVERITIES: &[&str] = &["fatal", "error", "warning", "information"];

/// The FHIR R4 `issue-type` codes.
const ISSUE_TYPES: &[&str] = &[
    "invalid",
    "structure",
    "required",
    "value",
    "invariant",
    "security",
    "login",
    "unknown",
    "expired",
    "forbidden",
    "suppressed",
    "processing",
    "not-supported",
    "duplicate",
    "multiple-matches",
    "not-found",
    "deleted",
    "too-long",
    "code-invalid",
    "extension",
    "too-costly",
    "business-rule",
    "conflict",
    "transient",
    "lock-error",
    "no-store",
    "exception",
    "timeout",
    "incomplete",
    "throttled",
    "informational",
];

fn issue_phrase(issue: &Issue) -> String {
    let pick = |value: Option<&str>, known: &[&str], missing: &'static str| match value {
        Some(value) if known.contains(&value) => value.to_string(),
        Some(_) => format!("{missing} outside the value set"),
        None => missing.to_string(),
    };
    let severity = pick(
        issue.severity.as_deref(),
        ISSUE_SEVERITIES,
        "unknown-severity",
    );
    let code = pick(issue.code.as_deref(), ISSUE_TYPES, "unknown-code");
    format!("{severity}/{code}")
}

/// One `Parameters.parameter`, with the value types notifications use.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Parameter {
    pub name: String,
    pub value_reference: Option<Reference>,
    pub value_code: Option<String>,
    pub value_string: Option<String>,
    pub value_instant: Option<String>,
    pub part: Vec<Parameter>,
}

/// `Parameters`: in an R4 topic-based notification, the subscription status.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Parameters {
    pub parameter: Vec<Parameter>,
}

/// One `SubscriptionStatus.notificationEvent`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct NotificationEvent {
    pub timestamp: Option<String>,
    pub focus: Option<Reference>,
}

/// `SubscriptionStatus` (R4B and R5), which some R4 servers send in place of
/// the `Parameters` form.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SubscriptionStatus {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub notification_event: Vec<NotificationEvent>,
}
