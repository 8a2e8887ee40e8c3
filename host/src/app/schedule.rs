//! Time-driven work, once per [`TICK`] for every site:
//!
//! - the critical-result fallback (module `critical`): a critical result that
//!   failed routing, or that stayed unclaimed past its due time, is reassigned
//!   to the site's `fallback_owner` and raises an alert, so it never waits
//!   silently;
//! - nudges: the site's nudge policy sees its open charts and items near or
//!   past their due time; each new nudge goes to the log, the item's nudge
//!   list and, when the site sets `nudge_webhook`, a webhook carrying ids
//!   and a link only (module `webhook`);
//! - pre-visit prep: once a day after closing time, the prep policy sees the
//!   next clinic day's appointments with each patient's open items, and the
//!   items it asks for are ingested like connector items.
//!
//! The three tasks run independently: a failing nudge policy does not hold
//! up the critical fallback.

mod critical;
mod webhook;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use switchboard_engine::model::NudgeRecord;
use switchboard_engine::{Item, ItemId, WorklistQuery};
use switchboard_sdk::{
    Batch, Category, Event, OpenItem, PatientItem, PrepVisit, Timestamp, WorkItem,
};

use super::App;
use crate::sites::SiteState;

/// How often scheduled work runs.
pub const TICK: Duration = Duration::from_secs(30);

/// Items due within this many minutes are shown to the nudge policy, so it
/// can remind before a due time as well as after.
const NUDGE_HORIZON_MINUTES: i64 = 24 * 60;

/// Most items passed to one nudge call, and most overdue items the critical
/// fallback reads per site and tick.
const NUDGE_BATCH: usize = 2_000;

/// Connector name under which prep items are stored.
pub const PREP_CONNECTOR: &str = "prep";

/// Key-value namespace of the scheduler's own records (the last prep date,
/// critical-fallback markers). Plugin names are lowercase letters, digits
/// and `-`, so no plugin shares it.
const SCHEDULE_KV: &str = "__schedule";

/// A scheduled task: one site's share of it at the given time.
type Task = fn(&App, &SiteState, Timestamp) -> Result<(), String>;

/// The tasks of a tick, in order. The critical fallback runs first, so a
/// result it reassigns is nudged to its new owner in the same tick.
const TASKS: [(&str, Task); 3] = [
    ("critical fallback", critical::run),
    ("nudges", send_nudges),
    ("pre-visit prep", prepare_visits),
];

/// Starts the scheduler thread.
pub fn start(app: Arc<App>, stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    let spawned = std::thread::Builder::new()
        .name("switchboard-schedule".into())
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                tick(&app);
                let mut waited = Duration::ZERO;
                while waited < TICK && !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(200));
                    waited += Duration::from_millis(200);
                }
            }
        });
    match spawned {
        Ok(thread) => vec![thread],
        Err(error) => {
            tracing::error!(%error, "failed to start the scheduler; nudges and the critical fallback will not run");
            Vec::new()
        }
    }
}

/// Runs every scheduled task once for every site, at the clock's time.
/// Tests call this directly instead of waiting for the thread.
pub fn tick(app: &App) {
    let now = app.clock.now();
    for site in app.sites.ids() {
        let Some(handle) = app.sites.get(&site) else {
            continue;
        };
        let state = handle.state();
        for (task, run) in TASKS {
            if let Err(error) = run(app, &state, now) {
                app.stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(site, task, %error, "scheduled work failed; it runs again at the next tick");
            }
        }
    }
}

/// Every open item of a site in a role pool or with a person, by scanning
/// the role worklists. `category` narrows the scan.
fn open_items(
    app: &App,
    state: &SiteState,
    category: Option<Category>,
) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    for role in &state.site.roles {
        let mut query = WorklistQuery::role(&state.config.id, &role.name);
        query.filter.category = category;
        loop {
            let page = app.engine.worklist(&query).map_err(|e| e.to_string())?;
            items.extend(page.items);
            match page.next {
                Some(next) => query.after = Some(next),
                None => break,
            }
        }
    }
    Ok(items)
}

fn visit_ends(app: &App, site: &str) -> Result<HashMap<String, Timestamp>, String> {
    let events = app.engine.events(site).map_err(|e| e.to_string())?;
    let mut ends = HashMap::new();
    for stored in events {
        if let Event::Chart(chart) = stored.event {
            ends.insert(chart.encounter, chart.visit_ended);
        }
    }
    Ok(ends)
}

fn send_nudges(app: &App, state: &SiteState, now: Timestamp) -> Result<(), String> {
    let Some(policy) = state.nudges() else {
        return Ok(());
    };
    let site = state.config.id.as_str();

    let mut candidates: BTreeMap<u64, Item> = BTreeMap::new();
    for item in open_items(app, state, Some(Category::VisitNote))? {
        candidates.insert(item.id.0, item);
    }
    for item in app
        .engine
        .due_before(site, now.plus_minutes(NUDGE_HORIZON_MINUTES), NUDGE_BATCH)
        .map_err(|e| e.to_string())?
    {
        candidates.insert(item.id.0, item);
    }
    if candidates.is_empty() {
        return Ok(());
    }

    let ends = visit_ends(app, site)?;
    let mut open = Vec::with_capacity(candidates.len());
    for item in candidates.values().take(NUDGE_BATCH) {
        let Some(owner) = &item.owner else { continue };
        let sent = app
            .engine
            .nudges(item.id)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|n| n.level)
            .collect();
        let visit_ended = match item.category {
            Category::VisitNote => Some(
                item.encounter
                    .as_ref()
                    .and_then(|e| ends.get(e).copied())
                    .unwrap_or(item.created),
            ),
            _ => None,
        };
        open.push(OpenItem {
            key: item.id.0,
            category: item.category,
            role: owner.role.clone(),
            person: owner.person.clone(),
            visit_ended,
            created: item.created,
            due: item.effective_due(),
            sent,
        });
    }

    // The store accepts each level of an item once per recipient, so an
    // escalation to a role with two medical directors reaches both, as the
    // policy requested, and each can be paged separately. One escalation to
    // the role's pool instead would leave the webhook receiver to expand
    // the role and lose who was told. `sent` above lists a level once any
    // recipient got it, so a director who was off duty when the escalation
    // went out does not get it later, because the colleagues on duty did.
    let nudges = policy.nudges(&open, now).map_err(|e| e.to_string())?;
    for nudge in nudges {
        let record = NudgeRecord {
            item: ItemId(nudge.key),
            level: nudge.level,
            role: nudge.role.clone(),
            person: nudge.person.clone(),
            at: now,
        };
        if !app.engine.record_nudge(record).map_err(|e| e.to_string())? {
            continue;
        }
        app.stats.nudges.fetch_add(1, Ordering::Relaxed);
        tracing::info!(site, item = nudge.key, level = nudge.level.as_str(), role = %nudge.role, person = nudge.person.as_deref().unwrap_or("-"), "nudge sent");
        if let Some(url) = &state.config.nudge_webhook {
            let body = webhook::nudge_body(site, &nudge);
            webhook::send(&app.stats, url, site, nudge.key, body);
        }
    }
    Ok(())
}

/// Key under which the last prep run's local date is kept.
const PREP_DONE_KEY: &str = "prep-date";

fn prepare_visits(app: &App, state: &SiteState, now: Timestamp) -> Result<(), String> {
    let Some(policy) = state.prep() else {
        return Ok(());
    };
    let site = state.config.id.as_str();
    let zone = state.config.zone();
    let local = switchboard_sdk::zone::local_time_in(zone, now);
    if local.minute < state.config.closing_minute() {
        return Ok(());
    }
    let today = format!(
        "{:04}-{:02}-{:02}",
        local.date.year, local.date.month, local.date.day
    );
    if app
        .engine
        .kv_get(site, SCHEDULE_KV, PREP_DONE_KEY)
        .map_err(|e| e.to_string())?
        .as_deref()
        == Some(today.as_bytes())
    {
        return Ok(());
    }

    let (start, end) = next_clinic_day(state, now);
    let mut visits = Vec::new();
    let mut by_patient: HashMap<String, Vec<PatientItem>> = HashMap::new();
    for item in open_items(app, state, None)? {
        if let Some(patient) = &item.patient {
            by_patient
                .entry(patient.clone())
                .or_default()
                .push(PatientItem {
                    key: item.id.0,
                    category: item.category,
                    flag: item.flag,
                    title: item.title.clone(),
                    attributes: item.attributes.clone(),
                });
        }
    }
    for stored in app.engine.events(site).map_err(|e| e.to_string())? {
        if let Event::Appointment(appointment) = stored.event
            && appointment.start >= start
            && appointment.start < end
        {
            let clinician = appointment
                .clinician
                .as_deref()
                .and_then(|c| state.site.resolve_provider(c))
                .map(str::to_string);
            let open_items = by_patient
                .get(&appointment.patient)
                .cloned()
                .unwrap_or_default();
            visits.push(PrepVisit {
                appointment,
                clinician,
                open_items,
            });
        }
    }

    if !visits.is_empty() {
        let prep = policy.prepare(&visits, now).map_err(|e| e.to_string())?;
        let patients: HashMap<&str, &str> = visits
            .iter()
            .map(|v| {
                (
                    v.appointment.external_id.as_str(),
                    v.appointment.patient.as_str(),
                )
            })
            .collect();
        let items = prep
            .into_iter()
            .map(|p| {
                let mut item = WorkItem::new(
                    format!("prep/{}/{}", p.appointment, p.slug),
                    1,
                    Category::PreVisitPrep,
                    p.title,
                    now,
                );
                item.due = p.due;
                item.patient = patients.get(p.appointment.as_str()).map(|s| s.to_string());
                item.attributes = p.attributes;
                item
            })
            .collect();
        let report = app
            .ingest_batch(
                site,
                PREP_CONNECTOR,
                Batch {
                    items,
                    ..Batch::default()
                },
                Default::default(),
            )
            .map_err(|e| e.to_string())?;
        tracing::info!(
            site,
            visits = visits.len(),
            new = report.new,
            "pre-visit prep items created"
        );
    }
    app.engine
        .kv_set(site, SCHEDULE_KV, PREP_DONE_KEY, today.into_bytes())
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The UTC span of the next local day after today that has clinic hours.
fn next_clinic_day(state: &SiteState, now: Timestamp) -> (Timestamp, Timestamp) {
    let zone = state.config.zone();
    let mut day = switchboard_sdk::zone::local_time_in(zone, now).date;
    for _ in 0..14 {
        day = next_date(day);
        let start = switchboard_sdk::zone::from_local_in(zone, day, 0);
        let weekday =
            switchboard_sdk::zone::local_time_in(zone, start.plus_minutes(12 * 60)).weekday;
        if state.site.clinic_hours.iter().any(|s| s.day == weekday) {
            let end = switchboard_sdk::zone::from_local_in(zone, next_date(day), 0);
            return (start, end);
        }
    }
    (now, now)
}

fn next_date(date: switchboard_sdk::host::Date) -> switchboard_sdk::host::Date {
    let naive =
        chrono::NaiveDate::from_ymd_opt(date.year, u32::from(date.month), u32::from(date.day))
            .and_then(|d| d.succ_opt())
            .unwrap_or_default();
    use chrono::Datelike;
    switchboard_sdk::host::Date {
        year: naive.year(),
        month: naive.month() as u8,
        day: naive.day() as u8,
    }
}
