//! The workload model: each person works a queue inside their hours up to
//! their capacity, clinicians also close their charts and may work an
//! evening session, and what does not fit carries to the next day.
//!
//! The crate documentation's "Model" section states the rules and their
//! assumptions, and the comments here explain how each is carried out.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use serde::Serialize;
use switchboard_sdk::site::{parse_clock, parse_shifts};
use switchboard_sdk::{Priority, Shift, Site, Timestamp};

use super::SimError;
use super::assign::{Assign, Owner};
use super::config::{PracticeConfig, WorkKind};
use super::generate::{ClosureHabit, GeneratedSite, SimEncounter, SimItem};
use crate::local::{self, local_date, local_instant, shifts_on, weekday_of};

/// Work smaller than this (in minutes) counts as finished; it absorbs
/// floating-point rounding of the minute arithmetic.
const EPSILON_MINUTES: f64 = 1e-9;

const MILLIS_PER_MINUTE: f64 = 60_000.0;

/// The owner an item ended up with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ItemOwner {
    /// The role the routing function chose (or the fallback clinician's).
    pub role: String,
    /// The person who worked the item.
    pub person: String,
    /// True when `role` is a clinician role.
    pub clinician_role: bool,
    /// The routing error, when the item fell back to the EHR's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unrouted: Option<String>,
}

/// One person's day.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkloadDay {
    /// Site-local date.
    pub date: NaiveDate,
    /// Roster id.
    pub person: String,
    /// The person's role.
    pub role: String,
    /// Queue minutes worked inside working hours.
    pub in_hours_minutes: f64,
    /// Queue minutes worked after hours.
    pub after_hours_minutes: f64,
    /// Tasks (items, charts, co-signatures) finished.
    pub tasks_done: usize,
    /// Tasks still queued at the end of the day.
    pub open_tasks: usize,
    /// Minutes of work still queued at the end of the day.
    pub open_minutes: f64,
}

/// A clinician's short review of an item another role handled.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cosign {
    /// Index of the item in the site's items.
    pub item: usize,
    /// Roster id of the clinician.
    pub clinician: String,
    /// When the review was done.
    pub done: Option<Timestamp>,
}

/// The result of simulating one site.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    /// Owner of each item, index-aligned with the site's items.
    pub owners: Vec<ItemOwner>,
    /// Completion time of each item.
    pub completed: Vec<Option<Timestamp>>,
    /// Signature time of each encounter's chart.
    pub signed: Vec<Option<Timestamp>>,
    /// Claim submission time of each encounter.
    pub claims: Vec<Option<Timestamp>>,
    /// Co-signatures.
    pub cosigns: Vec<Cosign>,
    /// Each person's days.
    pub days: Vec<WorkloadDay>,
}

/// The kind of a queued task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TaskKind {
    Item(usize),
    Chart(usize),
    Cosign(usize),
}

#[derive(Clone, Debug)]
struct Task {
    kind: TaskKind,
    minutes_left: f64,
    /// Earliest moment the task can be worked, in milliseconds.
    available: f64,
    /// True for stat and asap items and critical results.
    urgent: bool,
    priority: Priority,
    /// The chart deadline; past it a chart goes before routine items.
    deadline: Option<f64>,
    seq: u64,
}

impl Task {
    /// Sort key at time `now`: lower goes first.
    fn key(&self, now: f64) -> (u8, std::cmp::Reverse<Priority>, u64, u64) {
        let class = match self.kind {
            TaskKind::Item(_) | TaskKind::Cosign(_) if self.urgent => 0,
            TaskKind::Chart(_) if self.deadline.is_some_and(|d| d <= now) => 1,
            TaskKind::Item(_) | TaskKind::Cosign(_) => 2,
            TaskKind::Chart(_) => 3,
        };
        (
            class,
            std::cmp::Reverse(self.priority),
            self.available as u64,
            self.seq,
        )
    }
}

#[derive(Debug)]
struct Worker {
    id: String,
    role: String,
    pod: Option<String>,
    clinician: bool,
    hours: Vec<Shift>,
    capacity: f64,
    after_hours_cap: f64,
    queue: Vec<Task>,
}

impl Worker {
    fn queued_minutes(&self) -> f64 {
        self.queue.iter().map(|t| t.minutes_left).sum()
    }
}

/// The rule a session uses to stamp completion times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stamp {
    /// Inside working hours: never at or after the window's end.
    InsideHours,
    /// After hours: the computed time.
    AsIs,
}

/// The minutes and finished tasks of one working session.
#[derive(Default)]
struct Session {
    minutes: f64,
    done: usize,
}

/// The simulation state of one site.
struct SiteSim<'a> {
    config: &'a PracticeConfig,
    generated: &'a GeneratedSite,
    zone: Tz,
    clinic_hours: Vec<Shift>,
    workers: Vec<Worker>,
    by_id: HashMap<String, usize>,
    after_hours_start: u16,
    seq: u64,
    outcome: Outcome,
}

/// Simulates `days` days of `generated` from `start`, routing each item
/// through `assign`.
///
/// # Errors
///
/// [`SimError::UnknownPerson`] or [`SimError::UnknownRole`] when the
/// routing function names someone or a role the site does not have.
pub fn simulate_site(
    config: &PracticeConfig,
    generated: &GeneratedSite,
    roster: &Site,
    start: NaiveDate,
    days: u32,
    assign: &mut dyn Assign,
) -> Result<Outcome, SimError> {
    let mut sim = SiteSim::new(config, generated);
    let dates: Vec<NaiveDate> = (0..days)
        .map(|d| start + Duration::days(i64::from(d)))
        .collect();

    let mut next_item = 0;
    let mut next_encounter = 0;
    for &date in &dates {
        next_item = sim.dispatch_items(date, next_item, roster, assign)?;
        next_encounter = sim.open_charts(date, next_encounter);
        sim.work_day(date);
    }

    let end = local_instant(sim.zone, start + Duration::days(i64::from(days)), 0);
    sim.submit_claims(end);
    Ok(sim.outcome)
}

impl<'a> SiteSim<'a> {
    fn new(config: &'a PracticeConfig, generated: &'a GeneratedSite) -> Self {
        let site = &generated.site;
        // The config was validated before generation, so these parse.
        let zone = local::parse_zone(&site.time_zone).unwrap_or(chrono_tz::UTC);
        let clinic_hours = parse_shifts(&site.clinic_hours).unwrap_or_default();
        let workers: Vec<Worker> = site
            .people
            .iter()
            .map(|person| {
                let role = config.roles.get(&person.role).cloned().unwrap_or_default();
                let own = parse_shifts(&person.hours).unwrap_or_default();
                Worker {
                    id: person.id.clone(),
                    role: person.role.clone(),
                    pod: person.pod.clone(),
                    clinician: role.clinician,
                    hours: if own.is_empty() {
                        clinic_hours.clone()
                    } else {
                        own
                    },
                    capacity: person.capacity_minutes.unwrap_or(role.capacity_minutes),
                    after_hours_cap: if role.clinician {
                        role.after_hours_minutes
                    } else {
                        0.0
                    },
                    queue: Vec::new(),
                }
            })
            .collect();
        let by_id = workers
            .iter()
            .enumerate()
            .map(|(i, w)| (w.id.clone(), i))
            .collect();

        SiteSim {
            config,
            generated,
            zone,
            clinic_hours,
            workers,
            by_id,
            after_hours_start: parse_clock(&config.after_hours_start).unwrap_or(20 * 60),
            seq: 0,
            outcome: Outcome {
                owners: Vec::with_capacity(generated.items.len()),
                completed: vec![None; generated.items.len()],
                signed: vec![None; generated.encounters.len()],
                claims: vec![None; generated.encounters.len()],
                cosigns: Vec::new(),
                days: Vec::new(),
            },
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Routes the items that arrive on `date`, starting at index `from` of
    /// the time-ordered items; returns the index of the first later item.
    fn dispatch_items(
        &mut self,
        date: NaiveDate,
        from: usize,
        roster: &Site,
        assign: &mut dyn Assign,
    ) -> Result<usize, SimError> {
        let items = &self.generated.items;
        let mut index = from;
        while index < items.len() && local_date(self.zone, items[index].item.created) <= date {
            let item = &items[index];
            let (worker, owner) = match assign.assign(roster, &item.item) {
                Ok(owner) => {
                    let worker = self.resolve(&owner, item)?;
                    let clinician_role = self.config.is_clinician_role(&owner.role);
                    (
                        worker,
                        ItemOwner {
                            role: owner.role,
                            person: self.workers[worker].id.clone(),
                            clinician_role,
                            unrouted: None,
                        },
                    )
                }
                Err(error) => {
                    let worker = self.clinician_index(item.responsible_clinician())?;
                    (
                        worker,
                        ItemOwner {
                            role: self.workers[worker].role.clone(),
                            person: self.workers[worker].id.clone(),
                            clinician_role: true,
                            unrouted: Some(error.to_string()),
                        },
                    )
                }
            };

            let minutes = self
                .config
                .minutes_for(item.kind, &self.workers[worker].role);
            let task = Task {
                kind: TaskKind::Item(index),
                minutes_left: minutes,
                available: item.item.created.0 as f64,
                urgent: item.item.priority >= Priority::Asap
                    || item.kind == WorkKind::ResultCritical,
                priority: item.item.priority,
                deadline: None,
                seq: self.next_seq(),
            };
            self.workers[worker].queue.push(task);
            self.outcome.owners.push(owner);
            index += 1;
        }
        Ok(index)
    }

    /// Picks the worker for an owner: the named person, else the member of the
    /// role in the item's pod (any pod when the pod has none) with the
    /// fewest queued minutes, ties to the first listed.
    fn resolve(&self, owner: &Owner, item: &SimItem) -> Result<usize, SimError> {
        let site = &self.generated.site.id;
        if let Some(person) = &owner.person {
            return self
                .by_id
                .get(person)
                .copied()
                .ok_or_else(|| SimError::UnknownPerson {
                    site: site.clone(),
                    person: person.clone(),
                    item: item.item.external_id.clone(),
                });
        }

        let members: Vec<usize> = (0..self.workers.len())
            .filter(|i| self.workers[*i].role == owner.role)
            .collect();
        if members.is_empty() {
            return Err(SimError::UnknownRole {
                site: site.clone(),
                role: owner.role.clone(),
                item: item.item.external_id.clone(),
            });
        }
        let in_pod: Vec<usize> = members
            .iter()
            .copied()
            .filter(|i| item.pod.is_some() && self.workers[*i].pod == item.pod)
            .collect();
        let pool = if in_pod.is_empty() { members } else { in_pod };
        let least_loaded = pool
            .into_iter()
            .map(|i| (i, self.workers[i].queued_minutes()))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
            .map(|(i, _)| i);
        least_loaded.ok_or_else(|| SimError::UnknownRole {
            site: site.clone(),
            role: owner.role.clone(),
            item: item.item.external_id.clone(),
        })
    }

    fn clinician_index(&self, id: &str) -> Result<usize, SimError> {
        self.by_id
            .get(id)
            .copied()
            .ok_or_else(|| SimError::UnknownPerson {
                site: self.generated.site.id.clone(),
                person: id.to_string(),
                item: String::new(),
            })
    }

    /// Queues the chart of every visit that ends on `date`.
    fn open_charts(&mut self, date: NaiveDate, from: usize) -> usize {
        let encounters = &self.generated.encounters;
        let mut index = from;
        while index < encounters.len() && local_date(self.zone, encounters[index].end) <= date {
            let encounter = &encounters[index];
            if let Some(&worker) = self.by_id.get(&encounter.clinician) {
                let task = Task {
                    kind: TaskKind::Chart(index),
                    minutes_left: self.config.signing.note_minutes,
                    available: self.chart_available(encounter) as f64,
                    urgent: false,
                    priority: Priority::Routine,
                    deadline: Some(
                        encounter.end.0 as f64
                            + f64::from(self.config.chart_deadline_hours) * 3_600_000.0,
                    ),
                    seq: self.next_seq(),
                };
                self.workers[worker].queue.push(task);
            }
            index += 1;
        }
        index
    }

    /// When the clinician will first pick up the chart, by their habit.
    fn chart_available(&self, encounter: &SimEncounter) -> i64 {
        let visit_date = local_date(self.zone, encounter.end);
        match encounter.habit {
            ClosureHabit::SameDay => encounter.end.0,
            ClosureHabit::Evening => local_instant(self.zone, visit_date, self.after_hours_start)
                .0
                .max(encounter.end.0),
            ClosureHabit::AfterDays(days) => {
                local_instant(self.zone, visit_date + Duration::days(i64::from(days)), 0).0
            }
        }
    }

    /// Staff work first, then clinicians, so a co-signature that staff
    /// create today can reach a clinician's queue the same day.
    fn work_day(&mut self, date: NaiveDate) {
        let order: Vec<usize> = (0..self.workers.len())
            .filter(|i| !self.workers[*i].clinician)
            .chain((0..self.workers.len()).filter(|i| self.workers[*i].clinician))
            .collect();
        for worker in order {
            self.work_person_day(worker, date);
        }
    }

    fn work_person_day(&mut self, worker: usize, date: NaiveDate) {
        let windows: Vec<(Timestamp, Timestamp)> =
            shifts_on(&self.workers[worker].hours, weekday_of(date))
                .iter()
                .map(|s| {
                    (
                        local_instant(self.zone, date, s.start_minute),
                        local_instant(self.zone, date, s.end_minute),
                    )
                })
                .filter(|(start, end)| end > start)
                .collect();
        if windows.is_empty() {
            return;
        }

        // Capacity is spread over the windows by length, and inside a
        // window each minute of queue work takes `length / capacity` wall
        // minutes, because the rest of the time goes to visits, rooming or
        // the phones.
        let total_minutes: f64 = windows
            .iter()
            .map(|(s, e)| (e.0 - s.0) as f64 / MILLIS_PER_MINUTE)
            .sum();
        let capacity = self.workers[worker].capacity;
        let mut in_hours = Session::default();
        for (start, end) in &windows {
            let length = (end.0 - start.0) as f64 / MILLIS_PER_MINUTE;
            let budget = capacity * length / total_minutes;
            if budget <= EPSILON_MINUTES {
                continue;
            }
            let session = self.work_session(
                worker,
                *start,
                *end,
                budget,
                length / budget,
                Stamp::InsideHours,
            );
            in_hours.minutes += session.minutes;
            in_hours.done += session.done;
        }

        let mut after_hours = Session::default();
        let cap = self.workers[worker].after_hours_cap;
        if cap > EPSILON_MINUTES {
            let last_end = windows
                .iter()
                .map(|(_, e)| *e)
                .max()
                .unwrap_or(windows[0].1);
            let evening = local_instant(self.zone, date, self.after_hours_start).max(last_end);
            let until =
                Timestamp(evening.0 + (self.config.after_hours_window_hours * 3_600_000.0) as i64);
            after_hours = self.work_session(worker, evening, until, cap, 1.0, Stamp::AsIs);
        }

        let person = &self.workers[worker];
        self.outcome.days.push(WorkloadDay {
            date,
            person: person.id.clone(),
            role: person.role.clone(),
            in_hours_minutes: in_hours.minutes,
            after_hours_minutes: after_hours.minutes,
            tasks_done: in_hours.done + after_hours.done,
            open_tasks: person.queue.len(),
            open_minutes: person.queued_minutes(),
        });
    }

    /// Works `worker`'s queue from `start` until `end` or until `budget`
    /// minutes are spent, each work minute taking `stretch` wall minutes.
    /// The worker always takes the first task by [`Task::key`] among those
    /// already available, waits for the next arrival when none is, and may
    /// stop part-way through a task, which keeps its remaining minutes.
    fn work_session(
        &mut self,
        worker: usize,
        start: Timestamp,
        end: Timestamp,
        budget: f64,
        stretch: f64,
        stamp: Stamp,
    ) -> Session {
        let mut session = Session::default();
        let mut now = start.0 as f64;
        let end = end.0 as f64;
        let mut budget = budget;

        while budget > EPSILON_MINUTES && now < end {
            let queue = &self.workers[worker].queue;
            let next = queue
                .iter()
                .enumerate()
                .filter(|(_, t)| t.available <= now)
                .min_by_key(|(_, t)| t.key(now))
                .map(|(i, _)| i);
            let Some(index) = next else {
                let arrival = queue
                    .iter()
                    .map(|t| t.available)
                    .filter(|a| *a > now)
                    .fold(f64::INFINITY, f64::min);
                if arrival >= end {
                    break;
                }
                now = arrival;
                continue;
            };

            let time_left = (end - now) / MILLIS_PER_MINUTE / stretch;
            let task = &mut self.workers[worker].queue[index];
            let work = task.minutes_left.min(budget).min(time_left);
            task.minutes_left -= work;
            budget -= work;
            session.minutes += work;
            now += work * stretch * MILLIS_PER_MINUTE;

            if task.minutes_left <= EPSILON_MINUTES {
                let finished = self.workers[worker].queue.swap_remove(index);
                let mut at = Timestamp(now.round() as i64);
                if stamp == Stamp::InsideHours {
                    // Working hours end exclusively, so a task finished as
                    // the window closes is stamped one second before the
                    // end: it was done inside the hours.
                    at = at.min(Timestamp(end as i64 - 1000));
                }
                self.finish(worker, finished, at);
                session.done += 1;
            }
        }
        session
    }

    /// Records a finished task; a non-clinician's item that needs a
    /// clinician's co-signature queues one for the responsible clinician.
    fn finish(&mut self, worker: usize, task: Task, at: Timestamp) {
        match task.kind {
            TaskKind::Chart(encounter) => self.outcome.signed[encounter] = Some(at),
            TaskKind::Cosign(cosign) => self.outcome.cosigns[cosign].done = Some(at),
            TaskKind::Item(index) => {
                self.outcome.completed[index] = Some(at);
                if !self.workers[worker].clinician {
                    self.queue_cosign(index, at);
                }
            }
        }
    }

    fn queue_cosign(&mut self, index: usize, at: Timestamp) {
        let item = &self.generated.items[index];
        let minutes = self.config.cosign.get(&item.kind).copied().unwrap_or(0.0);
        if minutes <= EPSILON_MINUTES {
            return;
        }
        let Some(&clinician) = self.by_id.get(item.responsible_clinician()) else {
            return;
        };
        let cosign = self.outcome.cosigns.len();
        self.outcome.cosigns.push(Cosign {
            item: index,
            clinician: self.workers[clinician].id.clone(),
            done: None,
        });
        let task = Task {
            kind: TaskKind::Cosign(cosign),
            minutes_left: minutes,
            available: at.0 as f64,
            urgent: item.item.priority >= Priority::Asap || item.kind == WorkKind::ResultCritical,
            priority: item.item.priority,
            deadline: None,
            seq: self.next_seq(),
        };
        self.workers[clinician].queue.push(task);
    }

    /// Submits each signed chart's claim on the drawn clinic day after the
    /// signature, at the drawn point of that day's clinic hours. A claim
    /// that would go out after `end` is not submitted yet.
    fn submit_claims(&mut self, end: Timestamp) {
        for (index, encounter) in self.generated.encounters.iter().enumerate() {
            let Some(signed) = self.outcome.signed[index] else {
                continue;
            };
            let Some(day) =
                self.clinic_day_after(local_date(self.zone, signed), encounter.claim_clinic_days)
            else {
                continue;
            };
            let shifts = shifts_on(&self.clinic_hours, weekday_of(day));
            let at = match (shifts.first(), shifts.iter().map(|s| s.end_minute).max()) {
                (Some(first), Some(last)) => {
                    let open = local_instant(self.zone, day, first.start_minute);
                    let close = local_instant(self.zone, day, last);
                    Timestamp(
                        open.0 + ((close.0 - open.0) as f64 * encounter.claim_time_fraction) as i64,
                    )
                }
                // A zero-day lag on a day without clinic hours: billing
                // submits with the signature.
                _ => signed,
            };
            if at < end {
                self.outcome.claims[index] = Some(at.max(signed));
            }
        }
    }

    /// Finds the `count`-th clinic day after `date` (the same day for 0).
    fn clinic_day_after(&self, date: NaiveDate, count: u32) -> Option<NaiveDate> {
        if count == 0 {
            return Some(date);
        }
        let mut found = 0;
        // A site with clinic hours has a clinic day in every week.
        for offset in 1..=(i64::from(count) * 7 + 7) {
            let day = date + Duration::days(offset);
            if !shifts_on(&self.clinic_hours, weekday_of(day)).is_empty() {
                found += 1;
                if found == count {
                    return Some(day);
                }
            }
        }
        None
    }
}
