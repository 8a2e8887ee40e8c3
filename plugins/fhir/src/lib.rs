//! FHIR R4 connector for athenahealth, eClinicalWorks, NextGen and generic
//! FHIR servers.
//!
//! The connector turns FHIR resources into Switchboard work items, chart,
//! claim and appointment events, and roster hints. It reads them three ways:
//!
//! - `accept` maps a pushed message: one resource, a Bundle (searchset,
//!   collection, transaction, batch, history, document, message), NDJSON
//!   from a bulk export (`application/fhir+ndjson`), or a topic-based
//!   subscription notification. For an id-only notification, and for a
//!   notification that names a resource it does not include, the connector
//!   reads the resource's current version with `GET {base_url}/{Type}/{id}`
//!   before mapping it. The read always goes to the configured base URL,
//!   whatever server the notification names.
//! - `poll` searches each configured resource type for changes since its
//!   high-water mark minus an overlap window, one page per call, following
//!   the Bundle's `next` links. The cursor is the connector's own JSON:
//!   `{"v":1,"high_water":{"<Type>":<ms>},"pass":{"resource_type":…,"since":…,"started":…,"next":…,"max_seen":…}}`.
//!   A type's high-water mark (the latest `meta.lastUpdated` it returned)
//!   moves only when its pass has read its last page, so a restart, or a
//!   retry after a failed page, resumes at the stored page without a gap.
//! - `backfill` pages through the same searches from a given time, over
//!   encounters, notes, reports and claims, so a site can measure its baseline.
//!
//! Missing references (a report's observations, its order, a note's
//! encounter, a request's medication) are read from the server too when
//! `read_missing` is on. An `OperationOutcome` response, or a pushed message
//! that is one, fails the call with [`ConnectorError::Remote`] naming each
//! issue's severity and code. Its diagnostics text is left out, because a
//! server may echo patient data in it. A 404 or 410 on a single read
//! rejects that reference and keeps the rest of the message, and so does a
//! read that returns something unreadable, so that one broken resource on the
//! server cannot block a poll forever. Any other failed read fails the whole
//! call, so no item is built from half of its resources.
//!
//! # Configuration
//!
//! TOML; every key is optional and empty text configures a generic server
//! that only maps pushed messages:
//!
//! ```toml
//! vendor = "generic"              # athenahealth | eclinicalworks | nextgen | generic
//! base_url = "https://ehr.example.com/fhir/r4"
//! credential = "ehr"              # site credential the host attaches
//! resource_types = ["MedicationRequest", "DiagnosticReport", "Task", "Encounter", "DocumentReference"]
//! backfill_types = ["Encounter", "DocumentReference", "DiagnosticReport", "Claim"]
//! page_size = 100                 # _count, 1 to 1000
//! overlap_minutes = 5             # re-read window before the high-water mark
//! initial_lookback_minutes = 1440 # how far the first poll reads back
//! sort = true                     # _sort=_lastUpdated (default: generic only)
//! include_related = true          # _include of observations, encounters, medications
//! read_missing = true             # GET references a message lacks
//! flag_from_reference_range = true
//! observation_results = true      # lone flagged observations become results
//! doc_status_default = "final"    # DocumentReference without docStatus
//! encounter_classes = ["AMB", "VR"] # classes that open charts; empty = all
//!
//! [interpretation]                # overrides of the flag table
//! "HU" = "critical"
//!
//! [task_categories]               # Task.code (code or system|code) to category
//! "rx-renewal" = "refill"
//!
//! [refill]
//! categories = ["refill"]         # MedicationRequest.category codes
//! extensions = ["https://ehr.example.com/fhir/StructureDefinition/refill-request"]
//!
//! [since_params]                  # time parameter per type, overriding the vendor's
//! DiagnosticReport = "_lastUpdated"
//!
//! [extra_params]                  # added to each search of that type
//! DiagnosticReport = "category=LAB"
//!
//! [athenahealth]                  # only with vendor = "athenahealth"; required there
//! practice_id = "195900"
//!
//! [eclinicalworks]                # only with vendor = "eclinicalworks"
//! practice_code = "ABCDEF"        # builds the default base_url
//! ```
//!
//! Errors carry the line and column of the offending key; an unknown vendor
//! lists the four allowed ones.
//!
//! # Vendor differences
//!
//! Only differences read in the vendors' published material are relied on.
//!
//! **athenahealth.**
//! - Base URL `https://api.platform.athenahealth.com/fhir/r4`, as used
//!   throughout athenahealth's `aone-fhir-subscriptions` README (GitHub,
//!   v0.5, 2023).
//! - athenaOne is multi-tenant: each practice is the Organization
//!   `a-1.Practice-{practice id}` (Athena Core Implementation Guide,
//!   extension `ah-practice`, fhir.athena.io). Its CapabilityStatement
//!   declares an `ah-practice` search parameter on the clinical types, so
//!   every search carries `ah-practice=Organization/a-1.Practice-{id}` and
//!   `[athenahealth] practice_id` is required.
//! - `_lastUpdated` and `_count` are declared for MedicationRequest,
//!   DiagnosticReport, Observation, ServiceRequest, Encounter,
//!   DocumentReference and QuestionnaireResponse; `_sort` only for
//!   DocumentReference, so no search sorts; `_include` of
//!   `DiagnosticReport:result`, `DocumentReference:encounter` and
//!   `MedicationRequest:medication` is declared and used. No Task, Claim or
//!   Composition search exists and Appointment has no `_lastUpdated`, so
//!   these cannot be polled.
//!   Source: the CapabilityStatement at
//!   `https://api.platform.athenahealth.com/fhir/r4/metadata` as recorded in
//!   the `api-evangelist/athenahealth` repository (data model of 2026-08-14).
//! - Notifications (aone-fhir-subscriptions README): `rest-hook` channel,
//!   `id-only` payloads only; the first entry is a `SubscriptionStatus`
//!   resource (the R4B form) rather than R4 `Parameters`; each
//!   `notificationEvent.focus` carries a `reference` such as
//!   `Patient/a-432.E-528595` when a FHIR resource exists, and otherwise
//!   only a proprietary `identifier`, which the connector rejects because
//!   there is nothing it can read.
//!
//! NOTE: the `ah-practice` value form (`Organization/a-1.Practice-{id}`)
//! follows FHIR reference-search rules and the extension's documented id;
//! it was not tried against a live athenahealth server.
//!
//! **eClinicalWorks.**
//! - One base URL per practice: `https://fhir4.eclinicalworks.com/fhir/r4/{practice code}`;
//!   `[eclinicalworks] practice_code` builds it.
//! - The CapabilityStatement of eCW FHIR Facade 1.6 declares no
//!   `_lastUpdated`, `_sort` or `_include` on any resource. Polls therefore
//!   bound each type by its clinical date: `date` for DiagnosticReport,
//!   DocumentReference, Encounter and Observation, `authoredon` for
//!   MedicationRequest, `authored` for ServiceRequest and
//!   QuestionnaireResponse. Claim is read-only and Task and Appointment have
//!   no search, so they cannot be polled.
//!   Source: the CapabilityStatement of practice `FEIGCD`, as recorded in
//!   the `api-evangelist/eclinicalworks` repository (2026-08-14).
//!
//! **NextGen Enterprise.**
//! - Base URL `https://fhir.nextgen.com/nge/prod/fhir-api-r4/fhir/R4`, the
//!   CapabilityStatement's `implementation.url` (Nextgen FHIR Server
//!   5.0.1.698).
//! - `_lastUpdated` is declared on every clinical type and on Practitioner
//!   and PractitionerRole; `_sort` and `_include` are not, so searches do not
//!   sort or include. A `_maxresults` parameter ("Limiting the number of
//!   records to get") is declared; the connector does not use it as a page
//!   size because it caps the total and would drop results. No Task, Claim,
//!   Appointment or Composition search exists.
//!   Source: the CapabilityStatement as recorded in the
//!   `api-evangelist/nextgen-healthcare` repository (2026-07-24).
//!
//! NOTE: `_count` is not declared by eClinicalWorks or NextGen. The
//! connector sends it, since FHIR servers ignore unknown parameters under
//! lenient handling, but whether either honours it is not verified. Nor is
//! it verified whether any of the three accepts a system-level search
//! without a `patient` parameter; a server that refuses one answers with an
//! OperationOutcome, which the poll reports as a `Remote` error naming it.
//!
//! # Mapping
//!
//! Items never carry patient names, birth dates or note text: patients are
//! `Patient/{id}` references, titles come from codes (test, medication,
//! encounter type), and narrative, notes and descriptions are not parsed.
//! Provider references are normalized so that roster `ehr_ids` match them
//! (`Type/id` without base or history; an NPI-only reference becomes the
//! bare NPI; a PractitionerRole in the message becomes its practitioner).
//!
//! | resource | becomes | key rules and reasons |
//! | --- | --- | --- |
//! | MedicationRequest | `refill` item | Open when a `draft` proposal, plan or order, or an `active` proposal or plan, has a refill signal (`priorPrescription`, a refill category, a configured extension, or `continuous` therapy on a proposal): those wait for a prescriber. An active order is already signed and is rejected. `completed` closes the item; `cancelled`, `stopped`, `entered-in-error` withdraw it. |
//! | DiagnosticReport | `result` item | Flag: most severe of its observations (critical > abnormal > unknown > normal), from `interpretation` through the site's table, else the reference range, else unknown. Ordering provider: the `basedOn` ServiceRequest's requester, else `resultsInterpreter`, else `performer`, named in attribute `ordering-source`. `registered` waits for results; `cancelled` and `entered-in-error` withdraw. |
//! | Observation | `result` item | Only when no report in the message lists it, it has an interpretation, and it is not a visit category such as `vital-signs`; switch off with `observation_results = false`. |
//! | Task | item | Category from the site's table, else the focus type, else words in the code, else `other`; `completed` closes, `cancelled`/`rejected`/`failed` withdraw. |
//! | Encounter with Composition / DocumentReference | `visit-note` item, chart events | Finished encounter: `opened` at the visit's end; first signed note: `signed` at its attestation time or date, item done; amended note: `amended`. Version ranks the state above time so a chart never reopens. |
//! | Claim | claim `submitted` event | `active` claims with `use` `claim` only. |
//! | Appointment | appointment event | Scheduled statuses only; the event cannot say "cancelled". |
//! | QuestionnaireResponse | `form` item | `in-progress` is open; `completed` closes. |
//! | ServiceRequest | `referral` item | Only referrals; other orders serve results. |
//! | Practitioner, PractitionerRole | roster hints | `Practitioner/{id}` and the NPI, with name and role code. |
//!
//! Everything else (Patient, Condition, Immunization, …) is rejected with
//! field `resourceType`, and every resource that does not qualify is
//! rejected with the field that decided, so nothing disappears silently.
//!
//! Versions: a numeric `meta.versionId`; else `meta.lastUpdated`, else a
//! date of the resource (`issued`, `authoredOn`, `lastModified`), in
//! milliseconds times eight plus a status rank that breaks ties. A resource
//! re-read unchanged yields the same version, which the host's dedupe on
//! (external id, version) ignores.

pub mod config;

mod client;
mod fhir;
mod input;
mod interpretation;
mod map;
mod poll;
mod redact;
mod refs;
mod resolve;
mod time;
mod vendor;

use std::rc::Rc;

use switchboard_sdk::host::{self, Level};
use switchboard_sdk::{
    Batch, ConfigError, Connector, ConnectorError, PollResult, Reject, Timestamp,
};

use crate::client::{FhirClient, ReadOutcome};
use crate::config::Settings;
use crate::fhir::{Parsed, Resource};
use crate::input::{Collection, Entry, Notification, Role};
use crate::map::{MapContext, map_collection};
use crate::poll::Mode;
use crate::resolve::Resolver;

pub use crate::vendor::Vendor;

/// The FHIR R4 connector, configured for one site's server.
#[derive(Debug)]
pub struct FhirConnector {
    settings: Settings,
}

impl FhirConnector {
    /// Returns the validated settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

impl Connector for FhirConnector {
    fn configure(config: &str) -> Result<Self, ConfigError> {
        let settings = Settings::parse(config)?;
        host::log(
            Level::Info,
            "fhir connector configured",
            &[
                ("vendor", settings.vendor.name()),
                ("base_url", settings.base_url.as_deref().unwrap_or("none")),
                ("resource_types", &settings.resource_types.join(",")),
            ],
        );
        Ok(FhirConnector { settings })
    }

    fn poll(&mut self, cursor: Option<&str>) -> Result<PollResult, ConnectorError> {
        poll::next_page(&self.settings, Mode::Poll, cursor)
    }

    fn backfill(
        &mut self,
        since: Timestamp,
        cursor: Option<&str>,
    ) -> Result<PollResult, ConnectorError> {
        poll::next_page(&self.settings, Mode::Backfill { since }, cursor)
    }

    fn accept(&mut self, message: &[u8], content_type: &str) -> Result<Batch, ConnectorError> {
        let mut collection = input::read_message(message, content_type)?;
        if let Some(outcome) = pushed_error_outcome(&collection) {
            return Err(ConnectorError::Remote(format!(
                "the message is an OperationOutcome: {outcome}"
            )));
        }

        let client = FhirClient::new(&self.settings);
        let mut rejects = Vec::new();
        if let Some(notification) = collection.notification.clone() {
            if !notification.carries_events() {
                let kind = redact::code(
                    &notification.kind,
                    &["handshake", "heartbeat", "query-status"],
                );
                host::log(
                    Level::Debug,
                    "subscription notification without events",
                    &[("type", &kind)],
                );
                return Ok(Batch::default());
            }
            read_focuses(&mut collection, &notification, client, &mut rejects)?;
        }

        let reader = client.filter(|_| self.settings.read_missing);
        let context = MapContext {
            settings: &self.settings,
            resolver: Resolver::new(&collection, reader),
        };
        let (mut batch, stats) = map_collection(context)?;
        rejects.append(&mut batch.rejects);
        batch.rejects = rejects;

        host::log(
            Level::Debug,
            "message mapped",
            &[
                ("resources", &stats.resources.to_string()),
                ("reads", &stats.reads.to_string()),
                ("items", &batch.items.len().to_string()),
                ("events", &batch.events.len().to_string()),
                ("rejects", &batch.rejects.len().to_string()),
            ],
        );
        Ok(batch)
    }
}

/// Returns the issues of a pushed message that is an error `OperationOutcome`.
fn pushed_error_outcome(collection: &Collection) -> Option<String> {
    let [entry] = collection.entries.as_slice() else {
        return None;
    };
    match entry.resource.as_ref().ok().map(|p| &p.body) {
        Some(Resource::OperationOutcome(outcome)) if outcome.is_error() => Some(outcome.summary()),
        _ => None,
    }
}

/// Reads the focus resources a notification names but does not include,
/// and adds them to the collection as primary entries.
fn read_focuses(
    collection: &mut Collection,
    notification: &Notification,
    client: Option<FhirClient<'_>>,
    rejects: &mut Vec<Reject>,
) -> Result<(), ConnectorError> {
    let mut read = std::collections::HashSet::new();
    for focus in &notification.events {
        let reject = |message: String| Reject {
            location: focus.location.clone(),
            field: "notificationEvent.focus.reference".to_string(),
            message,
        };
        let Some(reference) = focus.reference.as_deref() else {
            rejects.push(reject("the event names no FHIR resource, only a proprietary identifier, so there is nothing to read".to_string()));
            continue;
        };
        if collection.promote(reference) {
            continue;
        }
        let Some((resource_type, id)) = refs::type_and_id(reference) else {
            rejects.push(reject(format!(
                "the focus is {}, not a Type/id reference the connector can read",
                redact::target(reference)
            )));
            continue;
        };
        if !vendor::MAPPED_TYPES.contains(&resource_type) {
            rejects.push(reject(format!("{resource_type} changes carry no work this connector routes; drop this topic from the subscription")));
            continue;
        }
        let Some(client) = client else {
            rejects.push(reject(format!("{resource_type}/{id} is not in the notification and base_url is not set, so it cannot be read")));
            continue;
        };
        if !read.insert(format!("{resource_type}/{id}")) {
            continue;
        }
        match client.read(resource_type, id)? {
            ReadOutcome::Found(parsed) => {
                let parsed: Rc<Parsed> = Rc::from(parsed);
                collection.push(Entry {
                    location: format!("{} {}", focus.location, parsed.label()),
                    role: Role::Primary,
                    full_url: None,
                    resource: Ok(parsed),
                });
            }
            ReadOutcome::NotFound(status) => rejects.push(reject(format!(
                "{resource_type}/{id} was not found on the server (HTTP {status}); it may have been deleted"
            ))),
            ReadOutcome::Unreadable(problem) => rejects.push(Reject {
                location: format!("{} {resource_type}/{id}", focus.location),
                field: problem.field,
                message: format!("the server's copy is unreadable: {}", problem.message),
            }),
        }
    }
    Ok(())
}

switchboard_sdk::export_connector!(FhirConnector);
