//! EHR-native `Task` to item.
//!
//! The category comes from the first of:
//!
//! 1. the site's `[task_categories]` table, keyed by `system|code` or bare
//!    code of `Task.code`;
//! 2. the type of `Task.focus`. A MedicationRequest makes a refill, a
//!    Questionnaire or QuestionnaireResponse a form, and a Communication or
//!    CommunicationRequest a message. A CoverageEligibilityRequest makes a
//!    prior authorization. A DiagnosticReport or Observation makes a result
//!    to review, flagged `unknown` because the task carries no values;
//! 3. whole words in `Task.code` text and display: refill or renew,
//!    prior auth or authorization, referral, form, message, call or phone,
//!    result;
//! 4. otherwise `other`.
//!
//! `completed` closes the item; `cancelled`, `rejected`, `failed` and
//! `entered-in-error` withdraw it; every other status keeps it open.
//! `Task.description` is free text and never read.

use switchboard_sdk::{Category, EhrState, ResultFlag, WorkItem};

use super::{MapContext, MapError, attribute, priority_of, reject, require_key};
use crate::fhir::Parsed;
use crate::fhir::resources::Task;
use crate::fhir::types::CodeableConcept;
use crate::redact;
use crate::time::{first_time, version_of};

/// Maps one Task.
///
/// # Errors
///
/// A reject for a missing or unknown status, id or date.
pub fn map(
    context: &mut MapContext<'_>,
    location: &str,
    parsed: &Parsed,
    task: &Task,
) -> Result<WorkItem, MapError> {
    let status = task.status.as_deref().unwrap_or_default();
    let (state, rank) = match status {
        "draft" | "requested" | "received" | "accepted" | "ready" | "in-progress" | "on-hold" => {
            (EhrState::Open, 0)
        }
        "completed" => (EhrState::Done, 6),
        "cancelled" | "rejected" | "failed" | "entered-in-error" => (EhrState::Cancelled, 7),
        "" => return Err(reject(location, "Task.status", "missing")),
        other => {
            return Err(reject(
                location,
                "Task.status",
                format!("not a FHIR R4 task status ({})", redact::found(other)),
            ));
        }
    };
    let external_id = require_key(location, parsed)?;
    let changed = first_time([task.last_modified.as_deref(), task.authored_on.as_deref()]);
    let version = version_of(&parsed.meta, changed, rank)
        .ok_or_else(|| reject(location, "Task.lastModified", "missing, and no authoredOn, meta.versionId or meta.lastUpdated either; the connector needs one to order versions"))?;

    let category = category_of(context, task);
    let title = task
        .code
        .as_ref()
        .and_then(CodeableConcept::label)
        .unwrap_or("Task")
        .to_string();
    let created = first_time([
        task.authored_on.as_deref(),
        task.last_modified.as_deref(),
        parsed.meta.last_updated.as_deref(),
    ])
    .unwrap_or_else(switchboard_sdk::host::now);

    let mut item = WorkItem::new(external_id, version, category, title, created);
    item.state = state;
    item.flag = if category == Category::Result {
        ResultFlag::Unknown
    } else {
        ResultFlag::None
    };
    item.priority = priority_of(task.priority.as_deref());
    item.patient = context.patient(task.for_.as_ref());
    item.encounter = task.encounter.as_ref().and_then(|e| context.normalize(e));
    item.ordering = context.provider(task.requester.as_ref());
    item.due = task
        .restriction
        .as_ref()
        .and_then(|r| r.period.as_ref())
        .and_then(|p| first_time([p.end.as_deref()]));
    item.attributes.push(attribute("fhir-status", status));
    if let Some(code) = task.code.as_ref().and_then(CodeableConcept::first_code) {
        item.attributes.push(attribute("task-code", code));
    }
    if let Some(focus) = task.focus.as_ref().and_then(|f| context.normalize(f)) {
        item.attributes.push(attribute("focus", focus));
    }
    if let Some(owner) = task.owner.as_ref().and_then(|o| context.normalize(o)) {
        item.attributes.push(attribute("owner", owner));
    }
    Ok(item)
}

fn category_of(context: &MapContext<'_>, task: &Task) -> Category {
    let table = &context.settings.task_categories;
    if let Some(code) = &task.code {
        for coding in &code.coding {
            let Some(value) = coding.code.as_deref() else {
                continue;
            };
            let qualified = coding
                .system
                .as_deref()
                .map(|system| format!("{system}|{value}"));
            if let Some(category) = qualified
                .and_then(|key| table.get(&key))
                .or_else(|| table.get(value))
            {
                return *category;
            }
        }
    }

    let focus_type = task.focus.as_ref().and_then(|f| context.target_type(f));
    let by_focus = match focus_type.as_deref() {
        Some("MedicationRequest") => Some(Category::Refill),
        Some("Questionnaire" | "QuestionnaireResponse") => Some(Category::Form),
        Some("DiagnosticReport" | "Observation") => Some(Category::Result),
        Some("Communication" | "CommunicationRequest") => Some(Category::Message),
        Some("CoverageEligibilityRequest") => Some(Category::PriorAuth),
        _ => None,
    };
    by_focus
        .or_else(|| task.code.as_ref().and_then(category_from_words))
        .unwrap_or(Category::Other)
}

/// Returns the category that whole words of a code's text or displays name.
fn category_from_words(code: &CodeableConcept) -> Option<Category> {
    let texts = code
        .text
        .iter()
        .chain(code.coding.iter().filter_map(|c| c.display.as_ref()));
    let words: Vec<String> = texts
        .flat_map(|t| t.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let has = |candidates: &[&str]| words.iter().any(|w| candidates.contains(&w.as_str()));
    let has_pair = |first: &str, second: &str| {
        words
            .windows(2)
            .any(|pair| pair[0] == first && pair[1] == second)
    };

    if has(&["refill", "refills", "renew", "renewal"]) {
        Some(Category::Refill)
    } else if has_pair("prior", "auth")
        || has_pair("prior", "authorization")
        || has(&["preauth", "preauthorization", "authorization"])
    {
        Some(Category::PriorAuth)
    } else if has(&["referral", "referrals"]) {
        Some(Category::Referral)
    } else if has(&["form", "forms"]) {
        Some(Category::Form)
    } else if has(&["message", "messages", "call", "phone"]) {
        Some(Category::Message)
    } else if has(&["result", "results"]) {
        Some(Category::Result)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn concept(text: &str) -> CodeableConcept {
        CodeableConcept {
            coding: Vec::new(),
            text: Some(text.to_string()),
        }
    }

    #[test]
    fn words_pick_categories() {
        assert_eq!(
            category_from_words(&concept("Refill Request")),
            Some(Category::Refill)
        );
        assert_eq!(
            category_from_words(&concept("Prior Auth needed")),
            Some(Category::PriorAuth)
        );
        assert_eq!(
            category_from_words(&concept("Complete FMLA form")),
            Some(Category::Form)
        );
        assert_eq!(
            category_from_words(&concept("Return patient call")),
            Some(Category::Message)
        );
    }

    #[test]
    fn words_must_be_whole() {
        assert_eq!(
            category_from_words(&concept("Perform specimen collection")),
            None
        );
        assert_eq!(category_from_words(&concept("Formulary check")), None);
    }
}
