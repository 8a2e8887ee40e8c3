//! A run's output per site: the generated work, what happened to it, and
//! the same in the forms others read (SDK events, metric records, a site
//! file, FHIR and HL7 through [`super::fhir`] and [`super::hl7`]).

use chrono::{Duration, NaiveDate};
use serde::Serialize;
use switchboard_sdk::site::{parse_clock, parse_shifts};
use switchboard_sdk::{
    Appointment, Category, ChartChange, ChartEvent, ClaimEvent, EhrState, Person, Priority, Role,
    Site, Timestamp, WorkItem,
};

use super::config::{PracticeConfig, SiteConfig};
use super::generate::{SimAppointment, SimEncounter, SimItem, practitioner_ref};
use super::workload::Outcome;
use crate::local::{DateRange, local_date};
use crate::metrics::{ChartRecord, ClaimRecord, MetricsInput, RoutedItemRecord, SiteFacts};

/// A role of the practice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RoleSummary {
    /// Role name.
    pub name: String,
    /// True for clinician roles.
    pub clinician: bool,
}

/// Everything a run produced for one site.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SiteOutput {
    /// The site's config.
    pub config: SiteConfig,
    /// The practice's roles.
    pub roles: Vec<RoleSummary>,
    /// Hours after a visit by which its note should be signed.
    pub chart_deadline_hours: u32,
    /// The simulated dates.
    pub range: DateRange,
    /// The end of the simulated period: local midnight after the last date.
    pub as_of: Timestamp,
    /// Appointments.
    pub appointments: Vec<SimAppointment>,
    /// Attended visits.
    pub encounters: Vec<SimEncounter>,
    /// In-basket items.
    pub items: Vec<SimItem>,
    /// Owners, completions, signatures, claims and workload days.
    pub outcome: Outcome,
}

/// An item's completion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Completion {
    /// The item's external id (`Type/id`).
    pub item: String,
    /// Kind of work.
    pub category: Category,
    /// Role that owned it.
    pub role: String,
    /// Person who completed it.
    pub person: String,
    /// When.
    pub at: Timestamp,
}

/// One date of a site's output.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DayOutput<'a> {
    /// Site-local date.
    pub date: NaiveDate,
    /// Appointments starting that day.
    pub appointments: Vec<&'a SimAppointment>,
    /// Visits ending that day.
    pub encounters: Vec<&'a SimEncounter>,
    /// In-basket items arriving that day.
    pub items: Vec<&'a SimItem>,
    /// Charts opened or signed that day.
    pub chart_events: Vec<ChartEvent>,
    /// Items completed that day.
    pub completions: Vec<Completion>,
    /// Claims submitted that day.
    pub claims: Vec<ClaimEvent>,
}

/// Counts of a site's run, for summaries.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SiteSummary {
    /// Site id.
    pub site: String,
    /// Appointments booked.
    pub appointments: usize,
    /// Visits attended.
    pub encounters: usize,
    /// In-basket items.
    pub items: usize,
    /// Items the routing function could not route.
    pub unrouted: usize,
    /// Items completed by the end of the run.
    pub completed: usize,
    /// Charts signed by the end of the run.
    pub signed: usize,
    /// Claims submitted by the end of the run.
    pub claims: usize,
    /// Queue minutes worked by clinicians inside their hours.
    pub clinician_in_hours_minutes: f64,
    /// Queue minutes worked by clinicians after hours.
    pub clinician_after_hours_minutes: f64,
    /// Queue minutes worked by other staff.
    pub staff_minutes: f64,
}

impl SiteOutput {
    /// Returns the site id.
    pub fn id(&self) -> &str {
        &self.config.id
    }

    /// Returns the site's local closing minute.
    pub fn closing_minute(&self) -> u16 {
        parse_clock(&self.config.closing_time).unwrap_or(18 * 60)
    }

    /// Builds the site's roster as a policy receives it; see [`roster_of`].
    pub fn roster(&self) -> Site {
        roster_from(&self.config, &self.roles, self.chart_deadline_hours)
    }

    /// Renders the roster part of a host site file (`sites/<id>.toml`): schema, id,
    /// zone, hours, closing time, deadline, fallback owner, roles and
    /// people. Add the `[routing]` and connector sections to run it.
    ///
    /// # Errors
    ///
    /// [`super::SimError::Render`] if the TOML serializer fails.
    pub fn site_toml(&self) -> Result<String, super::SimError> {
        site_file::render(self)
    }

    /// Builds the metrics' view of the site.
    pub fn facts(&self) -> SiteFacts {
        let roster = self.roster();
        SiteFacts::from_site(&roster, self.closing_minute()).unwrap_or_else(|_| {
            // The config was validated, so the zone parses; UTC keeps this
            // total.
            SiteFacts {
                site: roster.id.clone(),
                zone: chrono_tz::UTC,
                closing_minute: self.closing_minute(),
                clinic_hours: roster.clinic_hours.clone(),
                hours: Default::default(),
            }
        })
    }

    /// Builds the KPI inputs: one chart per visit, one claim per submitted
    /// claim and one routed item per in-basket item. Each chart also
    /// becomes a visit-note item owned by its clinician, completed at the
    /// signature and due at the chart deadline, as the host records a
    /// chart that a connector reports.
    pub fn metrics(&self) -> MetricsInput {
        let charts = self
            .encounters
            .iter()
            .enumerate()
            .map(|(i, e)| ChartRecord {
                encounter: encounter_ref(e),
                clinician: e.clinician.clone(),
                pod: e.pod.clone(),
                visit_ended: e.end,
                signed: self.outcome.signed[i],
            })
            .collect();
        let claims = self.claim_events().iter().map(ClaimRecord::from).collect();

        let mut items: Vec<RoutedItemRecord> = self
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let owner = &self.outcome.owners[i];
                RoutedItemRecord {
                    item: item.item.external_id.clone(),
                    category: item.item.category,
                    role: owner.role.clone(),
                    clinician_role: owner.clinician_role,
                    person: Some(owner.person.clone()),
                    pod: item.pod.clone(),
                    created: item.item.created,
                    routed: item.item.created,
                    completed: self.outcome.completed[i],
                    due: item.item.due,
                }
            })
            .collect();
        items.extend(
            self.encounters
                .iter()
                .enumerate()
                .map(|(i, e)| RoutedItemRecord {
                    item: encounter_ref(e),
                    category: Category::VisitNote,
                    role: self.role_of(&e.clinician),
                    clinician_role: true,
                    person: Some(e.clinician.clone()),
                    pod: e.pod.clone(),
                    created: e.end,
                    routed: e.end,
                    completed: self.outcome.signed[i],
                    due: Some(self.chart_deadline(e)),
                }),
        );

        MetricsInput {
            facts: self.facts(),
            charts,
            claims,
            items,
        }
    }

    fn role_of(&self, person: &str) -> String {
        self.config
            .people
            .iter()
            .find(|p| p.id == person)
            .map_or_else(|| "physician".to_string(), |p| p.role.clone())
    }

    /// Computes when the chart of `encounter` should be signed.
    pub fn chart_deadline(&self, encounter: &SimEncounter) -> Timestamp {
        Timestamp(encounter.end.0 + i64::from(self.chart_deadline_hours) * 3_600_000)
    }

    /// Builds the visit-note item of each chart, open (version 1), as a
    /// connector reports it when the visit ends.
    pub fn note_items(&self) -> Vec<WorkItem> {
        self.encounters.iter().map(|e| self.note_item(e)).collect()
    }

    fn note_item(&self, encounter: &SimEncounter) -> WorkItem {
        let reference = encounter_ref(encounter);
        let mut item = WorkItem::new(
            reference.clone(),
            1,
            Category::VisitNote,
            encounter.visit_text,
            encounter.end,
        );
        item.priority = Priority::Routine;
        item.state = EhrState::Open;
        item.patient = Some(encounter.patient.clone());
        item.encounter = Some(reference);
        item.rendering = Some(practitioner_ref(&encounter.clinician));
        item.pcp = Some(practitioner_ref(&encounter.clinician));
        item.due = Some(self.chart_deadline(encounter));
        item
    }

    /// Lists chart `opened` events at each visit's end and `signed` events at
    /// each signature, in time order.
    pub fn chart_events(&self) -> Vec<ChartEvent> {
        let mut events = Vec::with_capacity(self.encounters.len() * 2);
        for (i, e) in self.encounters.iter().enumerate() {
            events.push(chart_event(e, ChartChange::Opened, e.end));
            if let Some(at) = self.outcome.signed[i] {
                events.push(chart_event(e, ChartChange::Signed, at));
            }
        }
        events.sort_by_key(|e| e.at);
        events
    }

    /// Lists submitted claims, in submission order.
    pub fn claim_events(&self) -> Vec<ClaimEvent> {
        let mut claims: Vec<ClaimEvent> = self
            .encounters
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                self.outcome.claims[i].map(|submitted| ClaimEvent {
                    claim: claim_ref(e),
                    encounter: Some(encounter_ref(e)),
                    visit_date: e.start,
                    submitted,
                })
            })
            .collect();
        claims.sort_by_key(|c| c.submitted);
        claims
    }

    /// Lists appointment events, by start.
    pub fn appointment_events(&self) -> Vec<Appointment> {
        self.appointments
            .iter()
            .map(|a| Appointment {
                external_id: format!("Appointment/{}", a.id),
                patient: a.patient.clone(),
                clinician: Some(practitioner_ref(&a.clinician)),
                start: a.start,
                kind: a.visit_code.to_string(),
            })
            .collect()
    }

    /// Lists item completions, in time order.
    pub fn completions(&self) -> Vec<Completion> {
        let mut done: Vec<Completion> = self
            .items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let owner = &self.outcome.owners[i];
                self.outcome.completed[i].map(|at| Completion {
                    item: item.item.external_id.clone(),
                    category: item.item.category,
                    role: owner.role.clone(),
                    person: owner.person.clone(),
                    at,
                })
            })
            .collect();
        done.sort_by(|a, b| (a.at, &a.item).cmp(&(b.at, &b.item)));
        done
    }

    /// Collects everything of one local date.
    pub fn day(&self, date: NaiveDate) -> DayOutput<'_> {
        let facts = self.facts();
        let on = |at: Timestamp| local_date(facts.zone, at) == date;
        DayOutput {
            date,
            appointments: self.appointments.iter().filter(|a| on(a.start)).collect(),
            encounters: self.encounters.iter().filter(|e| on(e.end)).collect(),
            items: self.items.iter().filter(|i| on(i.item.created)).collect(),
            chart_events: self
                .chart_events()
                .into_iter()
                .filter(|e| on(e.at))
                .collect(),
            completions: self
                .completions()
                .into_iter()
                .filter(|c| on(c.at))
                .collect(),
            claims: self
                .claim_events()
                .into_iter()
                .filter(|c| on(c.submitted))
                .collect(),
        }
    }

    /// Counts the run's work for a summary.
    pub fn summary(&self) -> SiteSummary {
        let mut summary = SiteSummary {
            site: self.config.id.clone(),
            appointments: self.appointments.len(),
            encounters: self.encounters.len(),
            items: self.items.len(),
            unrouted: self
                .outcome
                .owners
                .iter()
                .filter(|o| o.unrouted.is_some())
                .count(),
            completed: self.outcome.completed.iter().flatten().count(),
            signed: self.outcome.signed.iter().flatten().count(),
            claims: self.outcome.claims.iter().flatten().count(),
            ..SiteSummary::default()
        };
        for day in &self.outcome.days {
            if self.roles.iter().any(|r| r.name == day.role && r.clinician) {
                summary.clinician_in_hours_minutes += day.in_hours_minutes;
                summary.clinician_after_hours_minutes += day.after_hours_minutes;
            } else {
                summary.staff_minutes += day.in_hours_minutes + day.after_hours_minutes;
            }
        }
        summary
    }
}

/// A whole run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimOutput {
    /// The seed used.
    pub seed: u64,
    /// The simulated dates.
    pub range: DateRange,
    /// The dates after the warm-up, `None` when the run is too short.
    ///
    /// A run starts with empty queues and no open charts, and charts left
    /// for up to `signing.tail_max_days` days keep adding to the backlog
    /// until that many days have passed. Backlog counts settle only after
    /// that, so compare ranges inside this one (or two runs over the same
    /// dates).
    pub steady: Option<DateRange>,
    /// Per site, in config order.
    pub sites: Vec<SiteOutput>,
}

impl SimOutput {
    /// Finds the site with id `id`.
    pub fn site(&self, id: &str) -> Option<&SiteOutput> {
        self.sites.iter().find(|s| s.config.id == id)
    }

    /// Summarizes every site.
    pub fn summaries(&self) -> Vec<SiteSummary> {
        self.sites.iter().map(SiteOutput::summary).collect()
    }
}

/// Formats the encounter's FHIR reference.
pub fn encounter_ref(encounter: &SimEncounter) -> String {
    format!("Encounter/{}", encounter.id)
}

/// Formats the FHIR reference of the encounter's claim.
pub fn claim_ref(encounter: &SimEncounter) -> String {
    format!("Claim/{}-claim", encounter.id)
}

fn chart_event(encounter: &SimEncounter, change: ChartChange, at: Timestamp) -> ChartEvent {
    ChartEvent {
        encounter: encounter_ref(encounter),
        patient: Some(encounter.patient.clone()),
        clinician: Some(practitioner_ref(&encounter.clinician)),
        change,
        visit_ended: encounter.end,
        at,
    }
}

/// Builds the site's roster as a policy receives it: the practice's roles, people with their
/// pods and hours, and `Practitioner/<roster id>` as each person's EHR id.
pub fn roster_of(config: &PracticeConfig, site: &SiteConfig) -> Site {
    roster_from(site, &role_summaries(config), config.chart_deadline_hours)
}

fn role_summaries(config: &PracticeConfig) -> Vec<RoleSummary> {
    config
        .roles
        .iter()
        .map(|(name, role)| RoleSummary {
            name: name.clone(),
            clinician: role.clinician,
        })
        .collect()
}

fn roster_from(site: &SiteConfig, roles: &[RoleSummary], chart_deadline_hours: u32) -> Site {
    let people = site
        .people
        .iter()
        .map(|p| Person {
            id: p.id.clone(),
            roles: vec![p.role.clone()],
            pod: p.pod.clone(),
            hours: parse_shifts(&p.hours).unwrap_or_default(),
            absences: Vec::new(),
            ehr_ids: vec![practitioner_ref(&p.id)],
        })
        .collect();
    Site {
        id: site.id.clone(),
        time_zone: site.time_zone.clone(),
        roles: roles
            .iter()
            .map(|r| Role {
                name: r.name.clone(),
                clinician: r.clinician,
            })
            .collect(),
        people,
        clinic_hours: parse_shifts(&site.clinic_hours).unwrap_or_default(),
        chart_deadline_minutes: chart_deadline_hours * 60,
    }
}

/// Builds the [`SiteOutput`] of a site.
pub(crate) fn site_output(
    config: &PracticeConfig,
    generated: super::generate::GeneratedSite,
    outcome: Outcome,
    range: DateRange,
    as_of: Timestamp,
) -> SiteOutput {
    SiteOutput {
        config: generated.site,
        roles: role_summaries(config),
        chart_deadline_hours: config.chart_deadline_hours,
        range,
        as_of,
        appointments: generated.appointments,
        encounters: generated.encounters,
        items: generated.items,
        outcome,
    }
}

/// Computes the last date of a run of `days` days from `start` (`start`
/// for 0 days).
pub fn last_date(start: NaiveDate, days: u32) -> NaiveDate {
    start + Duration::days(i64::from(days.max(1)) - 1)
}

mod site_file {
    //! Rendering the roster part of a host site file with the toml crate,
    //! so every string is quoted and escaped by the serializer.

    use serde::Serialize;

    use super::SiteOutput;
    use crate::sim::generate::practitioner_ref;

    #[derive(Serialize)]
    struct File<'a> {
        schema: u32,
        id: &'a str,
        name: &'a str,
        time_zone: &'a str,
        clinic_hours: &'a [String],
        closing_time: &'a str,
        chart_deadline_hours: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        fallback_owner: Option<&'a str>,
        roles: Vec<RoleEntry<'a>>,
        people: Vec<PersonEntry<'a>>,
    }

    #[derive(Serialize)]
    struct RoleEntry<'a> {
        name: &'a str,
        clinician: bool,
    }

    #[derive(Serialize)]
    struct PersonEntry<'a> {
        id: &'a str,
        roles: Vec<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pod: Option<&'a str>,
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        hours: &'a [String],
        ehr_ids: Vec<String>,
    }

    pub fn render(site: &SiteOutput) -> Result<String, crate::sim::SimError> {
        let config = &site.config;
        let clinician_roles: Vec<&str> = site
            .roles
            .iter()
            .filter(|r| r.clinician)
            .map(|r| r.name.as_str())
            .collect();
        let fallback = config
            .people
            .iter()
            .find(|p| clinician_roles.contains(&p.role.as_str()))
            .map(|p| p.id.as_str());
        let file = File {
            schema: 1,
            id: &config.id,
            name: config.name.as_deref().unwrap_or(&config.id),
            time_zone: &config.time_zone,
            clinic_hours: &config.clinic_hours,
            closing_time: &config.closing_time,
            chart_deadline_hours: site.chart_deadline_hours,
            fallback_owner: fallback,
            roles: site
                .roles
                .iter()
                .map(|r| RoleEntry {
                    name: &r.name,
                    clinician: r.clinician,
                })
                .collect(),
            people: config
                .people
                .iter()
                .map(|p| PersonEntry {
                    id: &p.id,
                    roles: vec![p.role.as_str()],
                    pod: p.pod.as_deref(),
                    hours: &p.hours,
                    ehr_ids: vec![practitioner_ref(&p.id)],
                })
                .collect(),
        };
        let body = toml::to_string(&file).map_err(|e| {
            crate::sim::SimError::Render(format!("site file of {}: {e}", config.id))
        })?;
        Ok(format!(
            "# Site roster generated by the Switchboard clinic simulator; ids are synthetic.\n{body}"
        ))
    }
}
