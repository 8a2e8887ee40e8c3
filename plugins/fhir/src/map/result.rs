//! `DiagnosticReport` and `Observation` to result items.
//!
//! A report's flag is the most severe flag among its observations (contained,
//! in the message, or read from the server), following `hasMember` into
//! panels up to three levels. Severity runs critical, abnormal, unknown,
//! normal (see [`crate::interpretation`]). For each observation:
//!
//! 1. its `interpretation` codes, and those of its components, through the
//!    site's table; codes the table does not know give `unknown`;
//! 2. without interpretation, and when `flag_from_reference_range` is on
//!    (the default), its quantity against its normal reference range:
//!    outside gives `abnormal`, inside `normal`, never `critical`, because
//!    a range does not mark panic values;
//! 3. otherwise `unknown`, as for an observation the server could not return
//!    and for a report without observations.
//!
//! The ordering provider is the requester of the `ServiceRequest` in
//! `basedOn`, the clinician who asked for the test. Without one it is the
//! first practitioner in `resultsInterpreter`, then in `performer`: these
//! read the result but did not order it, so the item's `ordering-source`
//! attribute names the one used and a policy can treat them differently.
//!
//! Versions follow `meta.versionId` when numeric, else `meta.lastUpdated`,
//! else `issued`, with the report status (partial < preliminary < final <
//! appended < amended < corrected < cancelled) breaking ties.
//!
//! A lone Observation, one that no report in the message lists, becomes a
//! result of its own when it has an interpretation and its category is not
//! one charted during the visit (`vital-signs`, `social-history`, `survey`,
//! `exam`, `activity`, `therapy`): that is how interfaces send single tests.
//! Sites that receive both reports and their observations separately turn
//! this off with `observation_results = false` to avoid a second item.

use std::collections::HashSet;
use std::rc::Rc;

use switchboard_sdk::{Category, EhrState, Priority, ResultFlag, WorkItem};

use super::{MapContext, MapError, attribute, priority_of, reject, require_key};
use crate::fhir::resources::{DiagnosticReport, Observation, ReferenceRange};
use crate::fhir::types::{Quantity, Reference, non_empty};
use crate::fhir::{Parsed, Resource};
use crate::interpretation::max_severity;
use crate::redact;
use crate::time::{first_time, version_of};

const LOINC: &str = "http://loinc.org";

/// Depth to which `hasMember` panels are followed.
const MAX_PANEL_DEPTH: usize = 3;

/// Observation categories that are charted in the visit rather than routed.
const VISIT_CATEGORIES: &[&str] = &[
    "vital-signs",
    "social-history",
    "survey",
    "exam",
    "activity",
    "therapy",
];

/// Maps one DiagnosticReport with its observations.
///
/// # Errors
///
/// A reject for a `registered` or unknown status or a missing id or date; a
/// fatal error when reading an observation or order fails.
pub fn map_report(
    context: &mut MapContext<'_>,
    location: &str,
    parsed: &Rc<Parsed>,
    report: &DiagnosticReport,
) -> Result<WorkItem, MapError> {
    let status = report.status.as_deref().unwrap_or_default();
    let (state, rank) = report_state(location, "DiagnosticReport.status", status)?;
    let external_id = require_key(location, parsed)?;
    let issued = first_time([report.issued.as_deref()]);
    let version = version_of(&parsed.meta, issued, rank)
        .ok_or_else(|| reject(location, "DiagnosticReport.issued", "missing, and no meta.versionId or meta.lastUpdated either; the connector needs one to order versions"))?;

    let findings = report_findings(context, parsed, report)?;
    let ordering = ordering_of(
        context,
        parsed,
        &report.based_on,
        &report.results_interpreter,
        &report.performer,
    )?;
    let created = issued
        .or_else(|| {
            first_time([
                report.effective_date_time.as_deref(),
                report
                    .effective_period
                    .as_ref()
                    .and_then(|p| p.end.as_deref().or(p.start.as_deref())),
            ])
        })
        .or_else(|| first_time([parsed.meta.last_updated.as_deref()]))
        .unwrap_or_else(switchboard_sdk::host::now);
    let title = report
        .code
        .as_ref()
        .and_then(|c| c.label())
        .unwrap_or("Diagnostic report")
        .to_string();

    let mut item = WorkItem::new(external_id, version, Category::Result, title, created);
    item.state = state;
    item.flag = findings.flag;
    item.priority = ordering.priority;
    item.patient = context.patient(report.subject.as_ref());
    item.encounter = report.encounter.as_ref().and_then(|e| context.normalize(e));
    item.ordering = ordering.provider;
    item.attributes.push(attribute("fhir-status", status));
    if let Some(code) = report.code.as_ref().and_then(|c| c.code_in(LOINC)) {
        item.attributes.push(attribute("loinc", code));
    }
    if let Some(category) = report.category.iter().find_map(|c| c.first_code()) {
        item.attributes.push(attribute("category", category));
    }
    item.attributes
        .push(attribute("observations", findings.observations.to_string()));
    if findings.missing > 0 {
        item.attributes.push(attribute(
            "missing-observations",
            findings.missing.to_string(),
        ));
    }
    item.attributes
        .push(attribute("flag-source", findings.source));
    if let Some(source) = ordering.source {
        item.attributes.push(attribute("ordering-source", source));
    }
    Ok(item)
}

/// Maps an Observation that no report in the message lists.
///
/// # Errors
///
/// A reject unless the observation is a flagged test result (see the module
/// docs); a fatal error when reading its order fails.
pub fn map_observation(
    context: &mut MapContext<'_>,
    location: &str,
    parsed: &Parsed,
    observation: &Observation,
) -> Result<WorkItem, MapError> {
    if !context.settings.observation_results {
        return Err(reject(
            location,
            "Observation",
            "observation_results = false: observations become results only through their DiagnosticReport",
        ));
    }
    if let Some(category) = observation
        .category
        .iter()
        .flat_map(|c| c.coding.iter())
        .filter_map(|c| c.code.as_deref())
        .find(|code| VISIT_CATEGORIES.contains(code))
    {
        return Err(reject(
            location,
            "Observation.category",
            format!("a {category} observation is charted in the visit, not routed as a result"),
        ));
    }
    let status = observation.status.as_deref().unwrap_or_default();
    let (state, rank) = report_state(location, "Observation.status", status)?;
    let has_interpretation = observation
        .interpretation
        .iter()
        .chain(
            observation
                .component
                .iter()
                .flat_map(|c| c.interpretation.iter()),
        )
        .any(|c| !c.coding.is_empty());
    if !has_interpretation {
        return Err(reject(
            location,
            "Observation.interpretation",
            "missing; a lone observation becomes a result only when the lab flags it",
        ));
    }

    let external_id = require_key(location, parsed)?;
    let effective = first_time([
        observation.issued.as_deref(),
        observation.effective_date_time.as_deref(),
        observation.effective_instant.as_deref(),
        observation
            .effective_period
            .as_ref()
            .and_then(|p| p.start.as_deref()),
    ]);
    let version = version_of(&parsed.meta, effective, rank)
        .ok_or_else(|| reject(location, "Observation.issued", "missing, and no effective time, meta.versionId or meta.lastUpdated either; the connector needs one to order versions"))?;
    let (flag, source) = observation_flag(context, observation);
    let ordering = ordering_of(
        context,
        parsed,
        &observation.based_on,
        &[],
        &observation.performer,
    )?;
    let title = observation
        .code
        .as_ref()
        .and_then(|c| c.label())
        .unwrap_or("Observation")
        .to_string();
    let created = effective.unwrap_or_else(switchboard_sdk::host::now);

    let mut item = WorkItem::new(external_id, version, Category::Result, title, created);
    item.state = state;
    item.flag = flag;
    item.priority = ordering.priority;
    item.patient = context.patient(observation.subject.as_ref());
    item.encounter = observation
        .encounter
        .as_ref()
        .and_then(|e| context.normalize(e));
    item.ordering = ordering.provider;
    item.attributes.push(attribute("fhir-status", status));
    if let Some(code) = observation.code.as_ref().and_then(|c| c.code_in(LOINC)) {
        item.attributes.push(attribute("loinc", code));
    }
    item.attributes.push(attribute("flag-source", source));
    if let Some(source) = ordering.source {
        item.attributes.push(attribute("ordering-source", source));
    }
    Ok(item)
}

/// The item state and version rank of a report or observation status.
fn report_state(location: &str, field: &str, status: &str) -> Result<(EhrState, u8), MapError> {
    match status {
        "partial" => Ok((EhrState::Open, 1)),
        "preliminary" => Ok((EhrState::Open, 2)),
        "final" => Ok((EhrState::Open, 3)),
        "appended" => Ok((EhrState::Open, 4)),
        "amended" => Ok((EhrState::Open, 5)),
        "corrected" => Ok((EhrState::Open, 6)),
        "cancelled" | "entered-in-error" => Ok((EhrState::Cancelled, 7)),
        "registered" => Err(reject(
            location,
            field,
            "registered: no results yet; the item comes with the first results",
        )),
        "" => Err(reject(location, field, "missing")),
        other => Err(reject(
            location,
            field,
            format!(
                "not a result status the connector maps ({})",
                redact::found(other)
            ),
        )),
    }
}

/// The combined flag of a report's observations.
#[derive(Debug)]
struct Findings {
    flag: ResultFlag,
    source: &'static str,
    observations: usize,
    missing: usize,
}

fn report_findings(
    context: &mut MapContext<'_>,
    parsed: &Rc<Parsed>,
    report: &DiagnosticReport,
) -> Result<Findings, MapError> {
    let mut findings = Findings {
        flag: ResultFlag::None,
        source: "none",
        observations: 0,
        missing: 0,
    };
    let mut visited = HashSet::new();
    let mut pending: Vec<(Rc<Parsed>, String, usize)> = Vec::new();
    for reference in report
        .result
        .iter()
        .filter_map(|r| non_empty(r.reference.as_deref()))
    {
        pending.push((parsed.clone(), reference.to_string(), 1));
    }

    while let Some((owner, reference, depth)) = pending.pop() {
        let identity = crate::refs::relative(&reference).unwrap_or_else(|| reference.clone());
        if !visited.insert(identity) {
            continue;
        }
        let Some(found) = context
            .resolver
            .resolve(&owner, &reference, &["Observation"])?
            .found()
        else {
            findings.missing += 1;
            findings.add(ResultFlag::Unknown, "missing");
            continue;
        };
        let Resource::Observation(observation) = &found.body else {
            continue;
        };
        if matches!(
            observation.status.as_deref(),
            Some("cancelled" | "entered-in-error")
        ) {
            continue;
        }
        findings.observations += 1;
        if depth < MAX_PANEL_DEPTH {
            for member in observation
                .has_member
                .iter()
                .filter_map(|r| non_empty(r.reference.as_deref()))
            {
                pending.push((found.clone(), member.to_string(), depth + 1));
            }
        }
        let is_panel_without_value = !observation.has_member.is_empty()
            && observation.value_quantity.is_none()
            && observation.interpretation.is_empty();
        if !is_panel_without_value {
            let (flag, source) = observation_flag(context, observation);
            findings.add(flag, source);
        }
    }

    if findings.flag == ResultFlag::None {
        findings.flag = ResultFlag::Unknown;
    }
    Ok(findings)
}

impl Findings {
    fn add(&mut self, flag: ResultFlag, source: &'static str) {
        let combined = max_severity(self.flag, flag);
        if combined != self.flag {
            self.flag = combined;
            self.source = source;
        }
    }
}

/// Returns the flag of one observation and where it came from.
fn observation_flag(
    context: &MapContext<'_>,
    observation: &Observation,
) -> (ResultFlag, &'static str) {
    let settings = context.settings;
    let interpretations: Vec<_> = observation
        .interpretation
        .iter()
        .chain(
            observation
                .component
                .iter()
                .flat_map(|c| c.interpretation.iter()),
        )
        .collect();
    if let Some(flag) = settings
        .interpretation
        .flag_of_all(interpretations.iter().copied())
    {
        return (flag, "interpretation");
    }
    if interpretations.iter().any(|c| !c.coding.is_empty()) {
        return (ResultFlag::Unknown, "interpretation");
    }
    if settings.flag_from_reference_range {
        let own = observation
            .value_quantity
            .as_ref()
            .and_then(|v| range_flag(v, &observation.reference_range));
        let parts = observation.component.iter().filter_map(|c| {
            c.value_quantity
                .as_ref()
                .and_then(|v| range_flag(v, &c.reference_range))
        });
        if let Some(flag) = own.into_iter().chain(parts).reduce(max_severity) {
            return (flag, "reference-range");
        }
    }
    (ResultFlag::Unknown, "missing")
}

/// Compares a quantity with the first normal range that has a bound in the
/// same unit; `None` when no range applies.
fn range_flag(value: &Quantity, ranges: &[ReferenceRange]) -> Option<ResultFlag> {
    let number = value.value?;
    let unit = value.unit_key();
    let applies = |range: &&ReferenceRange| {
        range.applies_to.is_empty() && range.kind.as_ref().is_none_or(|k| k.has_code("normal"))
    };
    let comparable = |bound: &Option<Quantity>| {
        bound.as_ref().and_then(|b| {
            b.value
                .filter(|_| b.unit_key().is_none() || b.unit_key() == unit)
        })
    };

    ranges.iter().filter(applies).find_map(|range| {
        let (low, high) = (comparable(&range.low), comparable(&range.high));
        if low.is_none() && high.is_none() {
            return None;
        }
        let outside = low.is_some_and(|l| number < l) || high.is_some_and(|h| number > h);
        Some(if outside {
            ResultFlag::Abnormal
        } else {
            ResultFlag::Normal
        })
    })
}

/// The provider to route a result to, with its source and the order's priority.
#[derive(Debug)]
struct Ordering {
    provider: Option<String>,
    source: Option<&'static str>,
    priority: Priority,
}

fn ordering_of(
    context: &mut MapContext<'_>,
    parsed: &Parsed,
    based_on: &[Reference],
    interpreters: &[Reference],
    performers: &[Reference],
) -> Result<Ordering, MapError> {
    for reference in based_on
        .iter()
        .filter_map(|r| non_empty(r.reference.as_deref()))
    {
        if context
            .target_type(&Reference {
                reference: Some(reference.to_string()),
                ..Reference::default()
            })
            .is_some_and(|t| t != "ServiceRequest")
        {
            continue;
        }
        let Some(order) = context
            .resolver
            .resolve(parsed, reference, &["ServiceRequest"])?
            .found()
        else {
            continue;
        };
        if let Resource::ServiceRequest(request) = &order.body
            && let Some(requester) = context.provider(request.requester.as_ref())
        {
            return Ok(Ordering {
                provider: Some(requester),
                source: Some("service-request"),
                priority: priority_of(request.priority.as_deref()),
            });
        }
    }
    let (provider, source) = match context.first_provider(interpreters) {
        Some(provider) => (Some(provider), Some("results-interpreter")),
        None => match context.first_provider(performers) {
            Some(provider) => (Some(provider), Some("performer")),
            None => (None, None),
        },
    };
    Ok(Ordering {
        provider,
        source,
        priority: Priority::Routine,
    })
}
