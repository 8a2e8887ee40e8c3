//! Worklist items as FHIR R4 `Task` resources, so FHIR tools can read them.
//!
//! Mapping: `Task.status` is the item's status (the codes are the same);
//! `owner` names the person (an identifier in the `urn:switchboard:person`
//! system); `performerType` is the role pool; `priority` the request
//! priority; `restriction.period.end` the due time; `focus` and
//! `identifier` point at the EHR's own resource; `reasonCode.text` says why
//! the item was routed there.
//!
//! `focus`, `for` and `encounter` carry the EHR's ids. An id of the form
//! `Type/id`, as the FHIR connector stores them, becomes a literal
//! reference. Any other id, such as an HL7 v2 `AUTHORITY|id`, becomes a
//! logical reference by identifier, because FHIR allows a literal reference
//! only to a resource URL.

use std::sync::Arc;

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_engine::model::AuditEntry;
use switchboard_engine::worklist::{MAX_PAGE_SIZE, PageCursor};
use switchboard_engine::{Item, ItemId, WorklistQuery};

use super::auth::Auth;
use super::blocking;
use super::extract::{Json, Path, Query};
use super::lookup::loaded_site;
use super::problem::{ApiError, ApiResult, Problem};
use super::worklists::{DEFAULT_PAGE, page_size};
use crate::app::App;
use crate::config::TokenScope;

/// Identifier system for roster people.
pub const PERSON_SYSTEM: &str = "urn:switchboard:person";
/// Code system for role pools.
pub const ROLE_SYSTEM: &str = "urn:switchboard:role";
/// Code system for item categories.
pub const CATEGORY_SYSTEM: &str = "urn:switchboard:category";

/// The FHIR `Task` for an item.
pub fn task(item: &Item) -> Value {
    let mut task = json!({
        "resourceType": "Task",
        "id": item.id.0.to_string(),
        "meta": { "versionId": item.revision.to_string() },
        "identifier": [{ "system": format!("urn:switchboard:connector:{}", item.source.connector), "value": item.source.external_id }],
        "status": item.status.as_str(),
        "intent": "order",
        "priority": item.effective_priority().as_str(),
        "code": { "coding": [{ "system": CATEGORY_SYSTEM, "code": item.category.as_str() }], "text": item.category.as_str() },
        "description": item.title,
        "authoredOn": item.created.to_string(),
    });
    task["focus"] = reference(&item.source.external_id);
    if let Some(patient) = &item.patient {
        task["for"] = reference(patient);
    }
    if let Some(encounter) = &item.encounter {
        task["encounter"] = reference(encounter);
    }
    if let Some(due) = item.effective_due() {
        task["restriction"] = json!({ "period": { "end": due.to_string() } });
    }
    if let Some(owner) = &item.owner {
        task["performerType"] = json!([{ "coding": [{ "system": ROLE_SYSTEM, "code": owner.role }], "text": owner.role }]);
        task["reasonCode"] = json!({ "text": owner.reason });
        if let Some(person) = &owner.person {
            task["owner"] = json!({ "identifier": { "system": PERSON_SYSTEM, "value": person }, "display": person });
        }
    }
    task
}

/// Builds a FHIR `Reference` to an EHR id: literal for `Type/id`, otherwise by
/// identifier, with the part before a `|` as the assigner's name.
fn reference(id: &str) -> Value {
    if is_relative_reference(id) {
        return json!({ "reference": id });
    }
    match id.split_once('|') {
        Some((assigner, value)) if !assigner.is_empty() && !value.is_empty() => {
            json!({ "identifier": { "value": value, "assigner": { "display": assigner } } })
        }
        _ => json!({ "identifier": { "value": id } }),
    }
}

/// Returns true for `Type/id`: a resource type (a capital letter, then letters)
/// and an id of 1 to 64 letters, digits, `-` or `.`, as FHIR R4 defines
/// them.
fn is_relative_reference(text: &str) -> bool {
    let Some((kind, id)) = text.split_once('/') else {
        return false;
    };
    let kind_ok = kind.starts_with(|c: char| c.is_ascii_uppercase())
        && kind.chars().all(|c| c.is_ascii_alphabetic());
    let id_ok = (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    kind_ok && id_ok
}

/// Task search parameters. Unknown parameters are ignored, as FHIR
/// servers do for parameters they do not support.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskSearch {
    /// Person id: the Task's owner.
    pub owner: Option<String>,
    /// Role: the Task's performer type.
    #[serde(rename = "performer-type")]
    pub performer_type: Option<String>,
    /// Page size (default 50, at most 200).
    #[serde(rename = "_count")]
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub count: Option<usize>,
    /// Paging cursor from a previous `next` link.
    #[serde(rename = "_page")]
    pub page: Option<String>,
}

/// Search Tasks by owner or performer type; returns a `searchset` Bundle.
#[utoipa::path(get, path = "/v1/sites/{site}/fhir/Task", params(("site" = String, Path), TaskSearch),
    responses((status = 200, content_type = "application/fhir+json", body = Object), (status = 400, body = Problem), (status = 404, description = "unknown site", body = Problem)))]
pub async fn search(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path(site): Path<String>,
    Query(params): Query<TaskSearch>,
) -> ApiResult<Json<Value>> {
    auth.require(&site, TokenScope::Staff)?;
    loaded_site(&app, &site)?;
    let actor = auth.0.actor().to_string();
    let mut query = match (&params.owner, &params.performer_type) {
        (Some(person), _) => WorklistQuery::person(&site, person),
        (None, Some(role)) => WorklistQuery::role(&site, role),
        (None, None) => {
            return Err(ApiError::bad_request(
                "search by owner=<person> or performer-type=<role>",
            ));
        }
    };
    query.limit = page_size("_count", params.count, DEFAULT_PAGE, MAX_PAGE_SIZE)?;
    query.after = params.page.clone().map(PageCursor);
    let base = format!("/v1/sites/{site}/fhir/Task");
    blocking(move || {
        let page = app.engine.worklist(&query)?;
        app.engine.append_audit(AuditEntry {
            at: app.engine.now(),
            actor,
            action: "worklist.read".into(),
            target: query.owner.name().to_string(),
            site: Some(site.clone()),
            detail: format!("fhir items={}", page.items.iter().map(|i| i.id.0.to_string()).collect::<Vec<_>>().join(",")),
        })?;
        let entries: Vec<Value> = page.items.iter().map(|i| json!({ "fullUrl": format!("{base}/{}", i.id.0), "resource": task(i), "search": { "mode": "match" } })).collect();
        let mut bundle = json!({ "resourceType": "Bundle", "type": "searchset", "entry": entries });
        let owner_param = match &query.owner {
            switchboard_engine::OwnerRef::Person(p) => format!("owner={p}"),
            switchboard_engine::OwnerRef::Role(r) => format!("performer-type={r}"),
        };
        if let Some(next) = page.next {
            bundle["link"] = json!([{ "relation": "next", "url": format!("{base}?{owner_param}&_count={}&_page={}", query.limit, next.0) }]);
        }
        Ok(bundle)
    })
    .await
    .map(Json)
}

/// Read one Task.
#[utoipa::path(get, path = "/v1/sites/{site}/fhir/Task/{id}", params(("site" = String, Path), ("id" = u64, Path)),
    responses((status = 200, content_type = "application/fhir+json", body = Object), (status = 404, body = Problem)))]
pub async fn read(
    State(app): State<Arc<App>>,
    auth: Auth,
    Path((site, id)): Path<(String, u64)>,
) -> ApiResult<Json<Value>> {
    auth.require(&site, TokenScope::Staff)?;
    let actor = auth.0.actor().to_string();
    blocking(move || {
        let item = app.engine.item(&site, ItemId(id))?;
        app.engine.append_audit(AuditEntry {
            at: app.engine.now(),
            actor,
            action: "item.read".into(),
            target: id.to_string(),
            site: Some(site),
            detail: "fhir".into(),
        })?;
        Ok(task(&item))
    })
    .await
    .map(Json)
}

#[cfg(test)]
mod reference_tests {
    use super::*;

    #[test]
    fn fhir_id_is_literal_reference() {
        assert_eq!(
            reference("Patient/pat-1.2"),
            json!({ "reference": "Patient/pat-1.2" })
        );
    }

    #[test]
    fn authority_id_is_identifier() {
        assert_eq!(
            reference("SIM|sim-northside-331"),
            json!({ "identifier": { "value": "sim-northside-331", "assigner": { "display": "SIM" } } })
        );
    }

    #[test]
    fn hl7_result_id_is_identifier() {
        assert_eq!(
            reference("result/LAB|F-1001"),
            json!({ "identifier": { "value": "F-1001", "assigner": { "display": "result/LAB" } } })
        );
    }

    #[test]
    fn plain_id_is_identifier() {
        assert_eq!(
            reference("12345"),
            json!({ "identifier": { "value": "12345" } })
        );
        assert_eq!(
            reference("Patient/a b"),
            json!({ "identifier": { "value": "Patient/a b" } })
        );
    }
}
