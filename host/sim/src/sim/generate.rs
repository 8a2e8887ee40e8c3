//! Generation of clinic days: appointments, encounters and in-basket items.
//!
//! Generation depends only on the config, the number of days and the seed,
//! never on routing, so two runs with the same seed see the same arrivals
//! and differ only in who did the work. Every random choice the workload
//! model needs (a chart's closing habit, a claim's lag) is drawn here.

use chrono::{Duration, NaiveDate};
use serde::Serialize;
use switchboard_sdk::site::{parse_clock, parse_shifts};
use switchboard_sdk::{Attribute, Category, ResultFlag, Shift, Timestamp, Weekday, WorkItem};

use super::SimError;
use super::catalog::{self, Analyte, Panel};
use super::config::{PersonConfig, PracticeConfig, SiteConfig, WorkKind, priority_for};
use super::random::Draws;
use crate::local::{self, local_instant, shifts_on, weekday_of};

/// When a clinician means to close a chart, drawn per encounter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "habit", content = "days")]
pub enum ClosureHabit {
    /// As soon as time allows after the visit.
    SameDay,
    /// In the evening session of the visit day.
    Evening,
    /// Not before local midnight this many days after the visit.
    AfterDays(u32),
}

/// A booked appointment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimAppointment {
    /// FHIR id.
    pub id: String,
    /// Patient reference, `Patient/sim-…`.
    pub patient: String,
    /// Roster id of the clinician.
    pub clinician: String,
    /// Slot start.
    pub start: Timestamp,
    /// Slot end.
    pub end: Timestamp,
    /// HL7 table 0276 visit type code.
    pub visit_code: &'static str,
    /// Visit type text.
    pub visit_text: &'static str,
    /// False for a no-show.
    pub attended: bool,
}

/// An attended visit and its chart.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimEncounter {
    /// FHIR id.
    pub id: String,
    /// FHIR id of the appointment.
    pub appointment: String,
    /// Patient reference.
    pub patient: String,
    /// Roster id of the rendering clinician.
    pub clinician: String,
    /// The clinician's pod.
    pub pod: Option<String>,
    /// Visit start.
    pub start: Timestamp,
    /// Visit end; the chart opens here.
    pub end: Timestamp,
    /// Visit type text.
    pub visit_text: &'static str,
    /// When the clinician means to close the chart.
    pub habit: ClosureHabit,
    /// Clinic days from signature to claim submission.
    pub claim_clinic_days: u32,
    /// Position of the submission within that day's clinic hours, 0 to 1.
    pub claim_time_fraction: f64,
}

/// One observation of a result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimObservation {
    /// FHIR id.
    pub id: String,
    /// The analyte measured.
    pub analyte: Analyte,
    /// The value, rounded as the lab reports it.
    pub value: f64,
    /// HL7 v2 table 0078 / FHIR v3 interpretation code: N, H, L, HH or LL.
    pub interpretation: &'static str,
}

/// The subject of an item, enough to render it as FHIR and HL7.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum ItemDetail {
    /// A lab result.
    Result {
        /// The panel ordered.
        panel: Panel,
        /// FHIR id of the lab order (ServiceRequest).
        order_id: String,
        /// Specimen collection time.
        collected: Timestamp,
        /// Observations reported.
        observations: Vec<SimObservation>,
    },
    /// A renewal request.
    Refill {
        /// Medication text.
        medication: &'static str,
        /// FHIR id of the prescription being renewed.
        prior_id: String,
    },
    /// A patient message.
    Message {
        /// Topic.
        topic: &'static str,
        /// FHIR id of the Communication the task points to.
        communication_id: String,
    },
    /// A form.
    Form {
        /// Questionnaire id.
        questionnaire: &'static str,
        /// Form title.
        title: &'static str,
    },
    /// A referral.
    Referral {
        /// Specialty.
        specialty: &'static str,
    },
    /// A prior authorization.
    PriorAuth {
        /// Service to authorize.
        service: &'static str,
        /// FHIR id of the eligibility request the task points to.
        request_id: String,
    },
    /// An FYI notice.
    Other {
        /// Topic.
        topic: &'static str,
    },
}

/// An in-basket item.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimItem {
    /// The item as a connector would report it; provider fields hold
    /// `Practitioner/<roster id>` references.
    pub item: WorkItem,
    /// Work kind (category and flag).
    pub kind: WorkKind,
    /// FHIR id of the primary resource (the external id's part after `/`).
    pub resource_id: String,
    /// The care team: the PCP's pod.
    pub pod: Option<String>,
    /// Roster id of the patient's PCP.
    pub pcp: String,
    /// Roster id of the ordering clinician, for results and referrals.
    pub ordering: Option<String>,
    /// Rendering details.
    pub detail: ItemDetail,
}

impl SimItem {
    /// Returns the clinician responsible by default: the ordering clinician of a
    /// result, else the PCP.
    pub fn responsible_clinician(&self) -> &str {
        match (&self.ordering, self.item.category) {
            (Some(ordering), Category::Result) => ordering,
            _ => &self.pcp,
        }
    }
}

/// The generated data of one site.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GeneratedSite {
    /// The site's config.
    pub site: SiteConfig,
    /// Appointments, by start time.
    pub appointments: Vec<SimAppointment>,
    /// Attended visits, by start time.
    pub encounters: Vec<SimEncounter>,
    /// In-basket items, by arrival time.
    pub items: Vec<SimItem>,
}

/// Everything generated for a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Generated {
    /// The run's seed.
    pub seed: u64,
    /// First simulated date.
    pub start: NaiveDate,
    /// Number of simulated dates.
    pub days: u32,
    /// Per-site data, in config order.
    pub sites: Vec<GeneratedSite>,
}

/// Formats the FHIR reference of roster person `id`.
pub fn practitioner_ref(id: &str) -> String {
    format!("Practitioner/{id}")
}

/// Generates `days` days from `config.start_date` with `seed`.
///
/// # Errors
///
/// [`SimError::Config`] when the config does not validate.
pub fn generate(config: &PracticeConfig, days: u32, seed: u64) -> Result<Generated, SimError> {
    config.validate()?;
    let sites = config
        .sites
        .iter()
        .map(|site| SiteGenerator::new(config, site, seed).run(days))
        .collect();
    Ok(Generated {
        seed,
        start: config.start_date,
        days,
        sites,
    })
}

/// A clinician with the hours the generator uses.
struct Clinician<'c> {
    person: &'c PersonConfig,
    hours: Vec<Shift>,
}

struct SiteGenerator<'c> {
    config: &'c PracticeConfig,
    site: &'c SiteConfig,
    zone: chrono_tz::Tz,
    clinic_hours: Vec<Shift>,
    clinicians: Vec<Clinician<'c>>,
    draws: Draws,
    next_id: u64,
    out: GeneratedSite,
}

impl<'c> SiteGenerator<'c> {
    fn new(config: &'c PracticeConfig, site: &'c SiteConfig, seed: u64) -> Self {
        // The config was validated, so the zone and hours parse.
        let zone = local::parse_zone(&site.time_zone).unwrap_or(chrono_tz::UTC);
        let clinic_hours = parse_shifts(&site.clinic_hours).unwrap_or_default();
        let clinicians = site
            .people
            .iter()
            .filter(|p| config.is_clinician_role(&p.role))
            .map(|person| {
                let own = parse_shifts(&person.hours).unwrap_or_default();
                let hours = if own.is_empty() {
                    clinic_hours.clone()
                } else {
                    own
                };
                Clinician { person, hours }
            })
            .collect();
        SiteGenerator {
            config,
            site,
            zone,
            clinic_hours,
            clinicians,
            draws: Draws::for_site(seed, &site.id),
            next_id: 1,
            out: GeneratedSite {
                site: site.clone(),
                appointments: Vec::new(),
                encounters: Vec::new(),
                items: Vec::new(),
            },
        }
    }

    fn run(mut self, days: u32) -> GeneratedSite {
        for offset in 0..days {
            let date = self.config.start_date + Duration::days(i64::from(offset));
            if shifts_on(&self.clinic_hours, weekday_of(date)).is_empty() {
                continue;
            }
            for index in 0..self.clinicians.len() {
                self.visits(index, date);
                self.inbox(index, date);
            }
        }
        self.out
            .appointments
            .sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        self.out
            .encounters
            .sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        self.out.items.sort_by(|a, b| {
            (a.item.created, &a.item.external_id).cmp(&(b.item.created, &b.item.external_id))
        });
        self.out
    }

    fn fresh_id(&mut self, kind: &str) -> String {
        let id = format!("sim-{}-{kind}-{}", self.site.id, self.next_id);
        self.next_id += 1;
        id
    }

    fn patient_of(&mut self, clinician: usize) -> String {
        let panel = self.config.volumes.patients_per_clinician as usize;
        let number = clinician * panel + self.draws.index(panel) + 1;
        format!("Patient/sim-{}-{number}", self.site.id)
    }

    /// Books the clinician's appointments for `date` and opens a chart for
    /// each attended one.
    fn visits(&mut self, index: usize, date: NaiveDate) {
        let clinician = &self.clinicians[index];
        let shifts = shifts_on(&clinician.hours, weekday_of(date));
        let visit = i64::from(self.config.volumes.visit_minutes);
        let slots: Vec<u16> = shifts
            .iter()
            .flat_map(|s| {
                let count = (i64::from(s.end_minute) - i64::from(s.start_minute)) / visit;
                (0..count).map(move |k| s.start_minute + (k * visit) as u16)
            })
            .collect();
        if slots.is_empty() {
            return;
        }

        let person = clinician.person;
        let mean = self.config.volumes.appointments * person.volume_scale;
        let booked = (self.draws.poisson(mean) as usize).min(slots.len());
        let chosen = self.draws.sample_indexes(slots.len(), booked);

        for slot in chosen {
            let start = local_instant(self.zone, date, slots[slot]);
            self.book(index, start);
        }
    }

    fn book(&mut self, index: usize, start: Timestamp) {
        let person = self.clinicians[index].person;
        let volumes = &self.config.volumes;
        let (visit_code, visit_text) =
            catalog::VISIT_TYPES[self.draws.index(catalog::VISIT_TYPES.len())];
        let appointment_id = self.fresh_id("apt");
        let patient = self.patient_of(index);
        let attended = !self.draws.chance(volumes.no_show_rate);
        let end = start.plus_minutes(i64::from(volumes.visit_minutes));
        let overrun = self
            .draws
            .between(0, u32::from(volumes.visit_overrun_minutes));

        self.out.appointments.push(SimAppointment {
            id: appointment_id.clone(),
            patient: patient.clone(),
            clinician: person.id.clone(),
            start,
            end,
            visit_code,
            visit_text,
            attended,
        });
        if !attended {
            return;
        }

        let habit = self.closure_habit(person);
        let claim_clinic_days = self.draws.between(
            self.config.claims.min_clinic_days,
            self.config.claims.max_clinic_days,
        );
        let claim_time_fraction = self.draws.unit();
        let id = self.fresh_id("enc");
        self.out.encounters.push(SimEncounter {
            id,
            appointment: appointment_id,
            patient,
            clinician: person.id.clone(),
            pod: person.pod.clone(),
            start,
            end: end.plus_minutes(i64::from(overrun)),
            visit_text,
            habit,
            claim_clinic_days,
            claim_time_fraction,
        });
    }

    /// Draws a closing habit: the clinician's delayed shares are the
    /// practice's times their `closure_multiplier`, scaled down together
    /// when they would pass 100 %.
    fn closure_habit(&mut self, person: &PersonConfig) -> ClosureHabit {
        let signing = &self.config.signing;
        let mut next = signing.next_days_share * person.closure_multiplier;
        let mut tail = signing.tail_share * person.closure_multiplier;
        if next + tail > 1.0 {
            let scale = 1.0 / (next + tail);
            next *= scale;
            tail *= scale;
        }

        let draw = self.draws.unit();
        if draw < tail {
            ClosureHabit::AfterDays(self.draws.between(4, signing.tail_max_days))
        } else if draw < tail + next {
            ClosureHabit::AfterDays(self.draws.between(1, 3))
        } else if self.draws.chance(signing.evening_preference) {
            ClosureHabit::Evening
        } else {
            ClosureHabit::SameDay
        }
    }

    /// Generates the clinician's in-basket arrivals for `date`.
    fn inbox(&mut self, index: usize, date: NaiveDate) {
        let scale = self.clinicians[index].person.volume_scale;
        let message_factor = self.message_factor(weekday_of(date));
        for (category, mean) in self.config.volumes.inbox.entries() {
            let factor = if category == Category::Message {
                message_factor
            } else {
                1.0
            };
            let count = self.draws.poisson(mean * scale * factor);
            for _ in 0..count {
                let item = self.item(index, category, date);
                self.out.items.push(item);
            }
        }
    }

    /// Monday's message factor, and the matching lower factor of the other
    /// clinic days so that a week's total is unchanged.
    fn message_factor(&self, day: Weekday) -> f64 {
        let monday = self.config.volumes.monday_message_factor;
        let clinic_days = Weekday::ALL
            .iter()
            .filter(|d| !shifts_on(&self.clinic_hours, **d).is_empty())
            .count();
        let monday_open = !shifts_on(&self.clinic_hours, Weekday::Monday).is_empty();
        if !monday_open || clinic_days < 2 {
            return 1.0;
        }
        if day == Weekday::Monday {
            monday
        } else {
            ((clinic_days as f64 - monday) / (clinic_days as f64 - 1.0)).max(0.0)
        }
    }

    fn item(&mut self, index: usize, category: Category, date: NaiveDate) -> SimItem {
        let pcp = self.clinicians[index].person;
        let created = self.arrival(category, date);
        let patient = self.patient_of(index);
        let flag = if category == Category::Result {
            self.result_flag()
        } else {
            ResultFlag::None
        };
        let kind = WorkKind::of(category, flag);
        let urgent = self.draws.chance(self.config.volumes.urgent_share);
        let priority = priority_for(kind, urgent);
        let ordering = match category {
            Category::Result => Some(self.ordering_clinician(index)),
            Category::Referral | Category::Refill | Category::PriorAuth => Some(pcp.id.clone()),
            _ => None,
        };

        let (resource_type, resource_id, title, detail) = self.detail(category, flag, created);
        let mut item = WorkItem::new(
            format!("{resource_type}/{resource_id}"),
            1,
            category,
            title,
            created,
        );
        item.flag = flag;
        item.priority = priority;
        item.patient = Some(patient);
        item.pcp = Some(practitioner_ref(&pcp.id));
        item.ordering = ordering.as_deref().map(practitioner_ref);
        item.due = self
            .config
            .due_millis(kind)
            .map(|ms| Timestamp(created.0 + ms));
        if let ItemDetail::Result { panel, .. } = &detail {
            item.attributes.push(Attribute {
                key: "loinc".to_string(),
                value: panel.loinc.to_string(),
            });
        }

        SimItem {
            item,
            kind,
            resource_id,
            pod: pcp.pod.clone(),
            pcp: pcp.id.clone(),
            ordering,
            detail,
        }
    }

    fn result_flag(&mut self) -> ResultFlag {
        let rates = &self.config.results;
        let draw = self.draws.unit();
        if draw < rates.critical_rate {
            ResultFlag::Critical
        } else if draw < rates.critical_rate + rates.abnormal_rate {
            ResultFlag::Abnormal
        } else {
            ResultFlag::Normal
        }
    }

    /// Picks the ordering clinician: the PCP, or for the covering share
    /// another clinician of the site.
    fn ordering_clinician(&mut self, pcp: usize) -> String {
        let others = self.clinicians.len() - 1;
        if others > 0 && self.draws.chance(self.config.volumes.covering_order_share) {
            let pick = self.draws.index(others);
            let index = if pick >= pcp { pick + 1 } else { pick };
            return self.clinicians[index].person.id.clone();
        }
        self.clinicians[pcp].person.id.clone()
    }

    /// Draws the arrival time on `date`, following when each kind of work comes
    /// in: results in a morning and a late-afternoon lab batch, portal
    /// messages over waking hours, refill requests over pharmacy hours, the
    /// rest over clinic hours.
    fn arrival(&mut self, category: Category, date: NaiveDate) -> Timestamp {
        let (from, to) = match category {
            Category::Result if self.draws.chance(0.6) => (6 * 60, 9 * 60),
            Category::Result => (15 * 60, 18 * 60),
            Category::Message => (7 * 60, 22 * 60),
            Category::Refill => (9 * 60, 19 * 60),
            _ => self.clinic_window(date),
        };
        let minute = from + self.draws.between(0, u32::from(to - from - 1)) as u16;
        let second = i64::from(self.draws.between(0, 59));
        Timestamp(local_instant(self.zone, date, minute).0 + second * 1000)
    }

    /// First start and last end of the site's clinic hours on `date`.
    fn clinic_window(&self, date: NaiveDate) -> (u16, u16) {
        let shifts = shifts_on(&self.clinic_hours, weekday_of(date));
        let start = shifts.iter().map(|s| s.start_minute).min();
        let end = shifts.iter().map(|s| s.end_minute).max();
        match (start, end) {
            (Some(start), Some(end)) if end > start => (start, end),
            _ => (
                parse_clock("08:00").unwrap_or(480),
                parse_clock("17:00").unwrap_or(1020),
            ),
        }
    }

    /// Draws the resource type, id, title and details of a new item.
    fn detail(
        &mut self,
        category: Category,
        flag: ResultFlag,
        created: Timestamp,
    ) -> (&'static str, String, String, ItemDetail) {
        match category {
            Category::Result => {
                let panel = catalog::PANELS[self.draws.index(catalog::PANELS.len())];
                let id = self.fresh_id("dr");
                let order_id = format!("{id}-order");
                let observations = self.observations(&id, &panel, flag);
                let collected = created.plus_minutes(-i64::from(self.draws.between(60, 24 * 60)));
                let detail = ItemDetail::Result {
                    panel,
                    order_id,
                    collected,
                    observations,
                };
                ("DiagnosticReport", id, panel.name.to_string(), detail)
            }
            Category::Refill => {
                let medication = catalog::MEDICATIONS[self.draws.index(catalog::MEDICATIONS.len())];
                let id = self.fresh_id("rx");
                let prior_id = format!("{id}-prior");
                (
                    "MedicationRequest",
                    id,
                    medication.to_string(),
                    ItemDetail::Refill {
                        medication,
                        prior_id,
                    },
                )
            }
            Category::Message => {
                let topic =
                    catalog::MESSAGE_TOPICS[self.draws.index(catalog::MESSAGE_TOPICS.len())];
                let id = self.fresh_id("msg");
                let communication_id = format!("{id}-comm");
                let title = format!("Patient message: {topic}");
                (
                    "Task",
                    id,
                    title,
                    ItemDetail::Message {
                        topic,
                        communication_id,
                    },
                )
            }
            Category::Form => {
                let (questionnaire, title) = catalog::FORMS[self.draws.index(catalog::FORMS.len())];
                let id = self.fresh_id("qr");
                (
                    "QuestionnaireResponse",
                    id,
                    format!("Form {questionnaire}"),
                    ItemDetail::Form {
                        questionnaire,
                        title,
                    },
                )
            }
            Category::Referral => {
                let specialty = catalog::SPECIALTIES[self.draws.index(catalog::SPECIALTIES.len())];
                let id = self.fresh_id("ref");
                (
                    "ServiceRequest",
                    id,
                    format!("Referral to {specialty}"),
                    ItemDetail::Referral { specialty },
                )
            }
            Category::PriorAuth => {
                let service = catalog::PRIOR_AUTH_SERVICES
                    [self.draws.index(catalog::PRIOR_AUTH_SERVICES.len())];
                let id = self.fresh_id("pa");
                let request_id = format!("{id}-cer");
                let title = format!("Prior authorization: {service}");
                (
                    "Task",
                    id,
                    title,
                    ItemDetail::PriorAuth {
                        service,
                        request_id,
                    },
                )
            }
            _ => {
                let topic = catalog::NOTICE_TOPICS[self.draws.index(catalog::NOTICE_TOPICS.len())];
                let id = self.fresh_id("fyi");
                ("Task", id, topic.to_string(), ItemDetail::Other { topic })
            }
        }
    }

    /// Draws the panel's observations: all in range for a normal result; for an
    /// abnormal or critical one, one analyte out of range.
    fn observations(
        &mut self,
        report_id: &str,
        panel: &Panel,
        flag: ResultFlag,
    ) -> Vec<SimObservation> {
        let off = match flag {
            ResultFlag::Abnormal | ResultFlag::Critical => {
                Some(self.draws.index(panel.analytes.len()))
            }
            _ => None,
        };
        panel
            .analytes
            .iter()
            .enumerate()
            .map(|(i, analyte)| {
                let severity = if off == Some(i) {
                    flag
                } else {
                    ResultFlag::Normal
                };
                let (value, interpretation) = self.value(analyte, severity);
                SimObservation {
                    id: format!("{report_id}-obs-{}", i + 1),
                    analyte: *analyte,
                    value,
                    interpretation,
                }
            })
            .collect()
    }

    fn value(&mut self, analyte: &Analyte, severity: ResultFlag) -> (f64, &'static str) {
        let (low, high) = (analyte.low, analyte.high);
        let high_side = self.draws.chance(0.5);
        let draw = self.draws.unit();
        let (raw, code) = match (severity, high_side) {
            (ResultFlag::Abnormal, true) => (high * (1.05 + 0.3 * draw), "H"),
            (ResultFlag::Abnormal, false) => (low * (0.95 - 0.25 * draw), "L"),
            (ResultFlag::Critical, true) => (high * (2.0 + draw), "HH"),
            (ResultFlag::Critical, false) => (low * (0.4 - 0.1 * draw), "LL"),
            _ => (low + (high - low) * (0.05 + 0.9 * draw), "N"),
        };
        let scale = 10f64.powi(analyte.decimals as i32);
        ((raw * scale).round() / scale, code)
    }
}
