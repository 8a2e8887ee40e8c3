//! Resources in memory, with versions, `_lastUpdated` search and paging.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Value, json};

/// Page size when a search names no `_count`.
pub const DEFAULT_PAGE_SIZE: usize = 50;

/// Largest `_count` honoured; larger values are lowered to it.
pub const MAX_PAGE_SIZE: usize = 1000;

#[derive(Debug, Clone)]
struct Stored {
    resource: Value,
    version: u64,
    last_updated: DateTime<Utc>,
    deleted: bool,
}

/// A search in progress: its matches are fixed when the first page is
/// served, and each page has a token that can be fetched again.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    resource_type: String,
    ids: Vec<String>,
    offset: usize,
    count: usize,
    includes: Vec<String>,
    /// 1 for the first page.
    pub(crate) number: u32,
}

/// What went wrong with a read or search, as an HTTP status and a message
/// for an `OperationOutcome`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) diagnostics: String,
}

impl Problem {
    fn new(status: u16, code: &'static str, diagnostics: impl Into<String>) -> Self {
        Problem {
            status,
            code,
            diagnostics: diagnostics.into(),
        }
    }
}

/// All resources, keyed by type and id.
#[derive(Debug, Default)]
pub(crate) struct Store {
    resources: BTreeMap<(String, String), Stored>,
    pages: HashMap<String, Page>,
    next_id: u64,
    next_page: u64,
}

impl Store {
    /// Creates or replaces a resource, setting `meta.versionId` and
    /// `meta.lastUpdated`. A resource without `id` gets one. Returns the
    /// stored form.
    pub(crate) fn put(&mut self, mut resource: Value, at: DateTime<Utc>) -> Result<Value, String> {
        let resource_type = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .ok_or("the resource has no resourceType")?
            .to_string();
        let id = match resource.get("id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => {
                self.next_id += 1;
                format!("m{}", self.next_id)
            }
        };
        let key = (resource_type, id.clone());
        let version = self.resources.get(&key).map_or(1, |s| s.version + 1);

        let object = resource
            .as_object_mut()
            .ok_or("the resource is not a JSON object")?;
        object.insert("id".to_string(), json!(id));
        let meta = object.entry("meta").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("versionId".to_string(), json!(version.to_string()));
            meta.insert("lastUpdated".to_string(), json!(instant(at)));
        }

        self.resources.insert(
            key,
            Stored {
                resource: resource.clone(),
                version,
                last_updated: at,
                deleted: false,
            },
        );
        Ok(resource)
    }

    /// Marks a resource deleted. Returns false when it did not exist.
    pub(crate) fn delete(&mut self, resource_type: &str, id: &str, at: DateTime<Utc>) -> bool {
        match self
            .resources
            .get_mut(&(resource_type.to_string(), id.to_string()))
        {
            Some(stored) if !stored.deleted => {
                stored.deleted = true;
                stored.version += 1;
                stored.last_updated = at;
                true
            }
            _ => false,
        }
    }

    /// The current version of a resource.
    pub(crate) fn read(&self, resource_type: &str, id: &str) -> Result<Value, Problem> {
        match self
            .resources
            .get(&(resource_type.to_string(), id.to_string()))
        {
            Some(stored) if stored.deleted => Err(Problem::new(
                410,
                "deleted",
                format!("{resource_type}/{id} was deleted"),
            )),
            Some(stored) => Ok(stored.resource.clone()),
            None => Err(Problem::new(
                404,
                "not-found",
                format!("{resource_type}/{id} is not known"),
            )),
        }
    }

    /// Starts a search and returns its first page's number and Bundle.
    ///
    /// Understood: `_lastUpdated` (repeatable, prefixes `eq`, `ge`, `gt`,
    /// `le`, `lt`), `_id`, `_count`, `_sort` (`_lastUpdated` or
    /// `-_lastUpdated`), `_include` (`Type:field`). Other parameters are
    /// ignored, as a lenient FHIR server does.
    pub(crate) fn search(
        &mut self,
        resource_type: &str,
        query: &[(String, String)],
        base: &str,
    ) -> Result<Value, Problem> {
        let mut bounds = Vec::new();
        let mut ids: Option<Vec<String>> = None;
        let mut count = DEFAULT_PAGE_SIZE;
        let mut descending = false;
        let mut includes = Vec::new();
        for (name, value) in query {
            match name.as_str() {
                "_lastUpdated" => bounds.push(parse_bound(value)?),
                "_id" => ids = Some(value.split(',').map(str::to_string).collect()),
                "_count" => {
                    count = value
                        .parse::<usize>()
                        .map_err(|_| {
                            Problem::new(
                                400,
                                "invalid",
                                format!("_count {value:?} is not a number"),
                            )
                        })?
                        .clamp(1, MAX_PAGE_SIZE);
                }
                "_sort" => match value.as_str() {
                    "_lastUpdated" => descending = false,
                    "-_lastUpdated" => descending = true,
                    other => {
                        return Err(Problem::new(
                            400,
                            "not-supported",
                            format!("_sort {other:?} is not supported"),
                        ));
                    }
                },
                "_include" => includes.push(value.clone()),
                _ => {}
            }
        }

        let mut matches: Vec<(&String, &Stored)> = self
            .resources
            .iter()
            .filter(|((kind, id), stored)| {
                kind == resource_type
                    && !stored.deleted
                    && ids.as_ref().is_none_or(|ids| ids.contains(id))
                    && bounds.iter().all(|bound| bound.admits(stored.last_updated))
            })
            .map(|((_, id), stored)| (id, stored))
            .collect();
        matches.sort_by(|a, b| a.1.last_updated.cmp(&b.1.last_updated).then(a.0.cmp(b.0)));
        if descending {
            matches.reverse();
        }

        let page = Page {
            resource_type: resource_type.to_string(),
            ids: matches.into_iter().map(|(id, _)| id.clone()).collect(),
            offset: 0,
            count,
            includes,
            number: 1,
        };
        Ok(self.render(page, base))
    }

    /// Returns the page a `_page` token names.
    pub(crate) fn page(&self, token: &str) -> Option<Page> {
        self.pages.get(token).cloned()
    }

    /// Serves a page again from its token.
    pub(crate) fn continue_search(&mut self, token: &str, base: &str) -> Result<Value, Problem> {
        let page = self.page(token).ok_or_else(|| {
            Problem::new(
                404,
                "not-found",
                "this page token is unknown or expired; start the search again",
            )
        })?;
        Ok(self.render(page, base))
    }

    /// Forgets every page token, as a server does when its search cache
    /// expires.
    pub(crate) fn expire_pages(&mut self) {
        self.pages.clear();
    }

    fn render(&mut self, page: Page, base: &str) -> Value {
        let end = (page.offset + page.count).min(page.ids.len());
        let mut entries = Vec::new();
        let mut included = Vec::new();
        for id in &page.ids[page.offset..end] {
            let Ok(resource) = self.read(&page.resource_type, id) else {
                continue;
            };
            for include in &page.includes {
                included.extend(self.included(&resource, include));
            }
            entries.push(json!({
                "fullUrl": format!("{base}/{}/{id}", page.resource_type),
                "resource": resource,
                "search": {"mode": "match"}
            }));
        }
        included.sort_by_key(reference_of);
        included.dedup_by_key(|r| reference_of(r));
        for resource in included {
            entries.push(json!({
                "fullUrl": format!("{base}/{}", reference_of(&resource)),
                "resource": resource,
                "search": {"mode": "include"}
            }));
        }

        let mut links =
            vec![json!({"relation": "self", "url": format!("{base}/{}", page.resource_type)})];
        if end < page.ids.len() {
            let token = self.remember(Page {
                offset: end,
                number: page.number + 1,
                ..page.clone()
            });
            links.push(json!({
                "relation": "next",
                "url": format!("{base}/{}?_page={token}", page.resource_type)
            }));
        }

        json!({
            "resourceType": "Bundle",
            "type": "searchset",
            "total": page.ids.len(),
            "link": links,
            "entry": entries
        })
    }

    /// Stores a page and returns its token. The same page always gets the
    /// same token, so a client that retries a next link gets the same page.
    fn remember(&mut self, page: Page) -> String {
        if let Some((token, _)) = self.pages.iter().find(|(_, p)| {
            p.resource_type == page.resource_type
                && p.ids == page.ids
                && p.offset == page.offset
                && p.includes == page.includes
        }) {
            return token.clone();
        }
        self.next_page += 1;
        let token = format!(
            "pg{}x{:x}",
            self.next_page,
            page.ids.len() * 7919 + page.offset
        );
        self.pages.insert(token.clone(), page);
        token
    }

    /// Resources `resource` references through `include` (`Type:field`).
    fn included(&self, resource: &Value, include: &str) -> Vec<Value> {
        let Some((_, field)) = include.split_once(':') else {
            return Vec::new();
        };
        let field = field.split(':').next().unwrap_or(field);
        let references: Vec<&Value> = match resource.get(field) {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(value) => vec![value],
            None => Vec::new(),
        };
        references
            .into_iter()
            .filter_map(|r| r.get("reference").and_then(Value::as_str))
            .filter_map(|reference| reference.split_once('/'))
            .filter_map(|(kind, id)| self.read(kind, id).ok())
            .collect()
    }
}

fn reference_of(resource: &Value) -> String {
    format!(
        "{}/{}",
        resource
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or(""),
        resource.get("id").and_then(Value::as_str).unwrap_or("")
    )
}

/// Formats an instant the FHIR way, with milliseconds and `Z`.
pub(crate) fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One `_lastUpdated` condition.
#[derive(Debug, Clone, Copy)]
struct Bound {
    prefix: Prefix,
    at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy)]
enum Prefix {
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
}

impl Bound {
    fn admits(&self, value: DateTime<Utc>) -> bool {
        match self.prefix {
            Prefix::Eq => value == self.at,
            Prefix::Ge => value >= self.at,
            Prefix::Gt => value > self.at,
            Prefix::Le => value <= self.at,
            Prefix::Lt => value < self.at,
        }
    }
}

fn parse_bound(value: &str) -> Result<Bound, Problem> {
    let (prefix, rest) = match value.get(..2) {
        Some("eq") => (Prefix::Eq, &value[2..]),
        Some("ge") => (Prefix::Ge, &value[2..]),
        Some("gt") => (Prefix::Gt, &value[2..]),
        Some("le") => (Prefix::Le, &value[2..]),
        Some("lt") => (Prefix::Lt, &value[2..]),
        _ => (Prefix::Eq, value),
    };
    let at = DateTime::parse_from_rfc3339(rest)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDate::parse_from_str(rest, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        })
        .map_err(|_| {
            Problem::new(
                400,
                "invalid",
                format!("_lastUpdated {value:?} is not a FHIR instant or date"),
            )
        })?;
    Ok(Bound { prefix, at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn put_sets_version_and_last_updated() {
        let mut store = Store::default();

        store
            .put(
                json!({"resourceType": "Patient", "id": "p1"}),
                at("2026-01-05T10:00:00Z"),
            )
            .unwrap();
        let second = store
            .put(
                json!({"resourceType": "Patient", "id": "p1"}),
                at("2026-01-05T11:00:00Z"),
            )
            .unwrap();

        assert_eq!(second["meta"]["versionId"], "2");
        assert_eq!(second["meta"]["lastUpdated"], "2026-01-05T11:00:00.000Z");
    }

    #[test]
    fn search_filters_sorts_and_pages() {
        let mut store = Store::default();
        for (id, time) in [
            ("c", "2026-01-05T12:00:00Z"),
            ("a", "2026-01-05T10:00:00Z"),
            ("b", "2026-01-05T11:00:00Z"),
        ] {
            store
                .put(json!({"resourceType": "Encounter", "id": id}), at(time))
                .unwrap();
        }
        let query = vec![
            (
                "_lastUpdated".to_string(),
                "ge2026-01-05T10:30:00Z".to_string(),
            ),
            ("_count".to_string(), "1".to_string()),
        ];

        let first = store.search("Encounter", &query, "http://x/fhir").unwrap();

        assert_eq!(first["total"], 2);
        assert_eq!(first["entry"][0]["resource"]["id"], "b");
        let next = first["link"][1]["url"].as_str().unwrap();
        let token = next.split("_page=").nth(1).unwrap();
        let second = store.continue_search(token, "http://x/fhir").unwrap();
        assert_eq!(second["entry"][0]["resource"]["id"], "c");
        assert_eq!(second["link"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn deleted_read_is_gone() {
        let mut store = Store::default();
        store
            .put(json!({"resourceType": "Patient", "id": "p1"}), Utc::now())
            .unwrap();

        store.delete("Patient", "p1", Utc::now());

        assert_eq!(store.read("Patient", "p1").unwrap_err().status, 410);
    }

    #[test]
    fn include_adds_referenced_resources() {
        let mut store = Store::default();
        let now = Utc::now();
        store
            .put(json!({"resourceType": "Observation", "id": "o1"}), now)
            .unwrap();
        store
            .put(json!({"resourceType": "DiagnosticReport", "id": "r1", "result": [{"reference": "Observation/o1"}]}), now)
            .unwrap();
        let query = vec![(
            "_include".to_string(),
            "DiagnosticReport:result".to_string(),
        )];

        let bundle = store
            .search("DiagnosticReport", &query, "http://x/fhir")
            .unwrap();

        assert_eq!(bundle["entry"][1]["resource"]["id"], "o1");
        assert_eq!(bundle["entry"][1]["search"]["mode"], "include");
    }

    #[test]
    fn bad_last_updated_rejected() {
        let mut store = Store::default();
        let query = vec![("_lastUpdated".to_string(), "geyesterday".to_string())];

        let problem = store
            .search("Patient", &query, "http://x/fhir")
            .unwrap_err();

        assert_eq!(problem.status, 400);
    }
}
