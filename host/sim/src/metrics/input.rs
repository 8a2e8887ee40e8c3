//! The plain records the metrics are computed from, and the site facts that
//! turn instants into clinic days.
//!
//! The host converts its stored events into these records; the simulator
//! produces them directly. Person ids are roster ids, not EHR references.

use std::collections::{BTreeMap, HashMap};

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use switchboard_sdk::{Category, ChartChange, ChartEvent, ClaimEvent, Shift, Site, Timestamp};

use crate::local::{self, MINUTES_PER_DAY, UnknownTimeZone};

/// One chart (encounter) as the metrics see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartRecord {
    /// EHR encounter id.
    pub encounter: String,
    /// Roster id of the rendering clinician.
    pub clinician: String,
    /// Care team of the clinician.
    #[serde(default)]
    pub pod: Option<String>,
    /// When the visit ended.
    pub visit_ended: Timestamp,
    /// When the note was first signed; `None` while it is unsigned.
    #[serde(default)]
    pub signed: Option<Timestamp>,
}

/// One submitted claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRecord {
    /// EHR claim id.
    pub claim: String,
    /// Encounter the claim bills; joins the claim to a clinician and pod.
    #[serde(default)]
    pub encounter: Option<String>,
    /// Date of service.
    pub visit_date: Timestamp,
    /// Submission time.
    pub submitted: Timestamp,
}

impl From<&ClaimEvent> for ClaimRecord {
    fn from(event: &ClaimEvent) -> Self {
        ClaimRecord {
            claim: event.claim.clone(),
            encounter: event.encounter.clone(),
            visit_date: event.visit_date,
            submitted: event.submitted,
        }
    }
}

/// One item as routed, with its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutedItemRecord {
    /// Host item id or EHR external id.
    pub item: String,
    /// Kind of work.
    pub category: Category,
    /// Role pool the item was routed to.
    pub role: String,
    /// True when `role` is a clinician role (physician, NP, PA).
    pub clinician_role: bool,
    /// Person the item was routed to, if any.
    #[serde(default)]
    pub person: Option<String>,
    /// Care team the item belongs to.
    #[serde(default)]
    pub pod: Option<String>,
    /// When the work appeared in the EHR.
    pub created: Timestamp,
    /// When the item was routed.
    pub routed: Timestamp,
    /// When the item was completed; `None` while open.
    #[serde(default)]
    pub completed: Option<Timestamp>,
    /// When the item is due.
    #[serde(default)]
    pub due: Option<Timestamp>,
}

/// The site facts the metrics need: its zone, its closing time
/// and everyone's working hours.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteFacts {
    /// Site id.
    pub site: String,
    /// The site's IANA time zone.
    pub zone: Tz,
    /// Local minutes after midnight at which end-of-day counts are taken.
    pub closing_minute: u16,
    /// Clinic hours; a weekday with at least one shift is a clinic day.
    pub clinic_hours: Vec<Shift>,
    /// Working hours of people who have their own; others use clinic hours.
    pub hours: BTreeMap<String, Vec<Shift>>,
}

/// An error that stops site facts from being built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FactsError {
    /// The zone name is not an IANA name.
    #[error("site {site:?}: {source}")]
    Zone {
        /// Site id.
        site: String,
        /// The rejected zone.
        source: UnknownTimeZone,
    },
    /// The closing time is past the end of the day.
    #[error(
        "site {site:?}: closing minute {minute} is past the end of the day; use 0 to 1440 (local minutes after midnight)"
    )]
    ClosingMinute {
        /// Site id.
        site: String,
        /// The rejected minute.
        minute: u16,
    },
}

impl SiteFacts {
    /// Builds the facts of site `site`.
    ///
    /// # Errors
    ///
    /// [`FactsError`] for an unknown zone or a closing minute over 1440.
    pub fn new(
        site: impl Into<String>,
        zone: &str,
        closing_minute: u16,
        clinic_hours: Vec<Shift>,
    ) -> Result<Self, FactsError> {
        let site = site.into();
        let zone = local::parse_zone(zone).map_err(|source| FactsError::Zone {
            site: site.clone(),
            source,
        })?;
        if closing_minute > MINUTES_PER_DAY {
            return Err(FactsError::ClosingMinute {
                site,
                minute: closing_minute,
            });
        }
        Ok(SiteFacts {
            site,
            zone,
            closing_minute,
            clinic_hours,
            hours: BTreeMap::new(),
        })
    }

    /// Builds the facts from a roster: its zone, clinic hours and each
    /// person's own hours.
    ///
    /// # Errors
    ///
    /// As [`SiteFacts::new`].
    pub fn from_site(site: &Site, closing_minute: u16) -> Result<Self, FactsError> {
        let mut facts = SiteFacts::new(
            site.id.clone(),
            &site.time_zone,
            closing_minute,
            site.clinic_hours.clone(),
        )?;
        for person in &site.people {
            if !person.hours.is_empty() {
                facts.hours.insert(person.id.clone(), person.hours.clone());
            }
        }
        Ok(facts)
    }

    /// Sets the working hours of `person`.
    pub fn with_hours(mut self, person: impl Into<String>, shifts: Vec<Shift>) -> Self {
        self.hours.insert(person.into(), shifts);
        self
    }

    /// Returns the shifts that apply to `person`: their own, else clinic hours.
    pub fn hours_of(&self, person: &str) -> &[Shift] {
        match self.hours.get(person) {
            Some(own) if !own.is_empty() => own,
            _ => &self.clinic_hours,
        }
    }

    /// Returns true when the site has clinic hours on `date`'s weekday.
    pub fn is_clinic_day(&self, date: chrono::NaiveDate) -> bool {
        let day = local::weekday_of(date);
        self.clinic_hours.iter().any(|s| s.day == day)
    }

    /// Returns the instant of the site's closing time on local `date`.
    pub fn closing_instant(&self, date: chrono::NaiveDate) -> Timestamp {
        local::local_instant(self.zone, date, self.closing_minute)
    }

    /// True when `at` falls outside `person`'s working hours, site-local.
    pub fn is_after_hours(&self, person: &str, at: Timestamp) -> bool {
        let moment = local::local_moment(self.zone, at);
        !local::within_shifts(self.hours_of(person), moment.weekday, moment.minute)
    }
}

/// Everything the metrics read for one site.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsInput {
    /// Zone, closing time and hours.
    pub facts: SiteFacts,
    /// Charts.
    pub charts: Vec<ChartRecord>,
    /// Submitted claims.
    pub claims: Vec<ClaimRecord>,
    /// Routed items.
    pub items: Vec<RoutedItemRecord>,
}

/// Folds chart events into one record per encounter.
///
/// The visit end comes from the latest event of the encounter. The
/// signature time is the earliest `signed` event. Without a `signed` event
/// an `amended` event counts as the signature, because only a signed note
/// can be amended. The clinician's EHR reference is resolved through
/// `site`'s roster; an encounter whose clinician is unknown keeps the raw
/// reference (or `unknown`) so it still counts toward the site's totals.
pub fn charts_from_events(events: &[ChartEvent], site: &Site) -> Vec<ChartRecord> {
    let mut order: Vec<String> = Vec::new();
    let mut folded: HashMap<String, ChartRecord> = HashMap::new();

    for event in events {
        let record = folded.entry(event.encounter.clone()).or_insert_with(|| {
            order.push(event.encounter.clone());
            ChartRecord {
                encounter: event.encounter.clone(),
                clinician: String::new(),
                pod: None,
                visit_ended: event.visit_ended,
                signed: None,
            }
        });
        record.visit_ended = event.visit_ended;
        if let Some(reference) = &event.clinician {
            record.clinician = reference.clone();
        }
        let signs = matches!(event.change, ChartChange::Signed | ChartChange::Amended);
        if signs && record.signed.is_none_or(|s| event.at < s) {
            record.signed = Some(event.at);
        }
    }

    order
        .into_iter()
        .filter_map(|key| folded.remove(&key))
        .map(|record| resolve_clinician(record, site))
        .collect()
}

fn resolve_clinician(mut record: ChartRecord, site: &Site) -> ChartRecord {
    let person = site
        .resolve_provider(&record.clinician)
        .and_then(|id| site.person(id));
    match person {
        Some(person) => {
            record.clinician = person.id.clone();
            record.pod = person.pod.clone();
        }
        None if record.clinician.is_empty() => record.clinician = "unknown".to_string(),
        None => {}
    }
    record
}

#[cfg(test)]
mod tests {
    use switchboard_sdk::Person;

    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    fn event(change: ChartChange, time: &str) -> ChartEvent {
        ChartEvent {
            encounter: "Encounter/e1".into(),
            patient: Some("Patient/sim-1".into()),
            clinician: Some("Practitioner/lee".into()),
            change,
            visit_ended: at("2026-03-09T15:00:00Z"),
            at: at(time),
        }
    }

    fn site() -> Site {
        Site {
            id: "north".into(),
            time_zone: "America/Chicago".into(),
            people: vec![Person {
                id: "dr-lee".into(),
                roles: vec!["physician".into()],
                pod: Some("blue".into()),
                ehr_ids: vec!["Practitioner/lee".into()],
                ..Person::default()
            }],
            ..Site::default()
        }
    }

    #[test]
    fn events_fold_to_first_signature() {
        let events = vec![
            event(ChartChange::Opened, "2026-03-09T15:00:00Z"),
            event(ChartChange::Amended, "2026-03-11T15:00:00Z"),
            event(ChartChange::Signed, "2026-03-10T15:00:00Z"),
        ];

        let charts = charts_from_events(&events, &site());

        assert_eq!(charts.len(), 1);
        assert_eq!(charts[0].signed, Some(at("2026-03-10T15:00:00Z")));
        assert_eq!(charts[0].clinician, "dr-lee");
        assert_eq!(charts[0].pod.as_deref(), Some("blue"));
    }

    #[test]
    fn amendment_alone_counts_as_signature() {
        let events = vec![event(ChartChange::Amended, "2026-03-11T15:00:00Z")];

        let charts = charts_from_events(&events, &site());

        assert_eq!(charts[0].signed, Some(at("2026-03-11T15:00:00Z")));
    }

    #[test]
    fn unknown_clinician_keeps_reference() {
        let mut opened = event(ChartChange::Opened, "2026-03-09T15:00:00Z");
        opened.clinician = Some("Practitioner/nobody".into());

        let charts = charts_from_events(&[opened], &site());

        assert_eq!(charts[0].clinician, "Practitioner/nobody");
        assert_eq!(charts[0].pod, None);
    }

    #[test]
    fn facts_reject_late_closing_minute() {
        let error = SiteFacts::new("north", "UTC", 1441, Vec::new()).unwrap_err();

        assert_eq!(
            error,
            FactsError::ClosingMinute {
                site: "north".into(),
                minute: 1441
            }
        );
    }
}
