//! Host-side bindings for the two worlds, and conversions between the
//! generated types and the SDK's.
//!
//! The connector world reuses the policy world's generated interfaces through
//! `with`, so the shared `types`, `host` and `kv` imports exist once and
//! [`super::state::PluginState`] implements them once.

#![allow(missing_docs)]

pub mod policy {
    wasmtime::component::bindgen!({
        world: "policy",
        path: "../sdk/wit",
    });
}

pub mod connector {
    wasmtime::component::bindgen!({
        world: "connector",
        path: "../sdk/wit",
        with: {
            "switchboard:plugin/types": super::policy::switchboard::plugin::types,
            "switchboard:plugin/host": super::policy::switchboard::plugin::host,
            "switchboard:plugin/kv": super::policy::switchboard::plugin::kv,
        },
    });
}

use switchboard_sdk as sdk;

pub use policy::switchboard::plugin::types as wit;

macro_rules! enum_map {
    ($wit:ty, $sdk:ty, $($name:ident),+) => {
        impl From<$wit> for $sdk {
            fn from(value: $wit) -> Self {
                match value { $(<$wit>::$name => <$sdk>::$name),+ }
            }
        }
    };
    (both $wit:ty, $sdk:ty, $($name:ident),+) => {
        enum_map!($wit, $sdk, $($name),+);
        impl From<$sdk> for $wit {
            fn from(value: $sdk) -> Self {
                match value { $(<$sdk>::$name => <$wit>::$name),+ }
            }
        }
    };
}

enum_map!(both wit::Category, sdk::Category, Refill, Result, Form, VisitNote, Referral, Message, PriorAuth, PreVisitPrep, Other);
enum_map!(both wit::ResultFlag, sdk::ResultFlag, None, Normal, Abnormal, Critical, Unknown);
enum_map!(both wit::Priority, sdk::Priority, Routine, Urgent, Asap, Stat);
enum_map!(both wit::EhrState, sdk::EhrState, Open, Done, Cancelled);
enum_map!(both wit::Weekday, sdk::Weekday, Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday);
enum_map!(both wit::NudgeLevel, sdk::NudgeLevel, Reminder, Warning, Escalation);
enum_map!(both wit::ChartChange, sdk::ChartChange, Opened, Signed, Amended);

fn ts(value: i64) -> sdk::Timestamp {
    sdk::Timestamp(value)
}

fn attrs_out(list: &[sdk::Attribute]) -> Vec<wit::Attribute> {
    list.iter()
        .map(|a| wit::Attribute {
            key: a.key.clone(),
            value: a.value.clone(),
        })
        .collect()
}

fn attrs_in(list: Vec<wit::Attribute>) -> Vec<sdk::Attribute> {
    list.into_iter()
        .map(|a| sdk::Attribute {
            key: a.key,
            value: a.value,
        })
        .collect()
}

fn shift_out(s: &sdk::Shift) -> wit::Shift {
    wit::Shift {
        day: s.day.into(),
        start_minute: s.start_minute,
        end_minute: s.end_minute,
    }
}

/// The WIT `site` record for a site.
pub fn site_out(site: &sdk::Site) -> wit::Site {
    wit::Site {
        id: site.id.clone(),
        time_zone: site.time_zone.clone(),
        roles: site
            .roles
            .iter()
            .map(|r| wit::Role {
                name: r.name.clone(),
                clinician: r.clinician,
            })
            .collect(),
        people: site
            .people
            .iter()
            .map(|p| wit::Person {
                id: p.id.clone(),
                roles: p.roles.clone(),
                pod: p.pod.clone(),
                hours: p.hours.iter().map(shift_out).collect(),
                absences: p
                    .absences
                    .iter()
                    .map(|a| wit::Absence {
                        start: a.start.0,
                        end: a.end.0,
                    })
                    .collect(),
                ehr_ids: p.ehr_ids.clone(),
            })
            .collect(),
        clinic_hours: site.clinic_hours.iter().map(shift_out).collect(),
        chart_deadline_minutes: site.chart_deadline_minutes,
    }
}

/// Approximate heap size of a routing outcome, for the output cap.
pub fn outcome_size(r: &Result<wit::Assignment, wit::RouteError>) -> usize {
    match r {
        Ok(a) => {
            a.role.len()
                + a.person.as_ref().map_or(0, String::len)
                + a.reason.len()
                + a.rule.len()
                + 32
        }
        Err(
            wit::RouteError::NoMatch(m)
            | wit::RouteError::NoOwner(m)
            | wit::RouteError::InvalidItem(m),
        ) => m.len() + 8,
    }
}

/// One routing outcome from the guest.
pub fn outcome_in(
    r: Result<wit::Assignment, wit::RouteError>,
) -> Result<sdk::Assignment, sdk::RouteError> {
    match r {
        Ok(a) => Ok(sdk::Assignment {
            role: a.role,
            person: a.person,
            priority: a.priority.into(),
            due: a.due.map(ts),
            reason: a.reason,
            rule: a.rule,
        }),
        Err(wit::RouteError::NoMatch(m)) => Err(sdk::RouteError::NoMatch(m)),
        Err(wit::RouteError::NoOwner(m)) => Err(sdk::RouteError::NoOwner(m)),
        Err(wit::RouteError::InvalidItem(m)) => Err(sdk::RouteError::InvalidItem(m)),
    }
}

/// One open item for the nudge policy.
pub fn open_item_out(i: &sdk::OpenItem) -> wit::OpenItem {
    wit::OpenItem {
        key: i.key,
        category: i.category.into(),
        role: i.role.clone(),
        person: i.person.clone(),
        visit_ended: i.visit_ended.map(|t| t.0),
        created: i.created.0,
        due: i.due.map(|t| t.0),
        sent: i.sent.iter().map(|l| (*l).into()).collect(),
    }
}

/// One nudge from the guest.
pub fn nudge_in(n: wit::Nudge) -> sdk::Nudge {
    sdk::Nudge {
        key: n.key,
        level: n.level.into(),
        role: n.role,
        person: n.person,
        message: n.message,
    }
}

fn appointment_out(a: &sdk::Appointment) -> wit::Appointment {
    wit::Appointment {
        external_id: a.external_id.clone(),
        patient: a.patient.clone(),
        clinician: a.clinician.clone(),
        start: a.start.0,
        kind: a.kind.clone(),
    }
}

fn appointment_in(a: wit::Appointment) -> sdk::Appointment {
    sdk::Appointment {
        external_id: a.external_id,
        patient: a.patient,
        clinician: a.clinician,
        start: ts(a.start),
        kind: a.kind,
    }
}

/// One visit for the prep policy.
pub fn prep_visit_out(v: &sdk::PrepVisit) -> wit::PrepVisit {
    wit::PrepVisit {
        appointment: appointment_out(&v.appointment),
        clinician: v.clinician.clone(),
        open_items: v
            .open_items
            .iter()
            .map(|i| wit::PatientItem {
                key: i.key,
                category: i.category.into(),
                flag: i.flag.into(),
                title: i.title.clone(),
                attributes: attrs_out(&i.attributes),
            })
            .collect(),
    }
}

/// One prep item from the guest.
pub fn prep_item_in(p: wit::PrepItem) -> sdk::PrepItem {
    sdk::PrepItem {
        appointment: p.appointment,
        slug: p.slug,
        title: p.title,
        due: p.due.map(ts),
        attributes: attrs_in(p.attributes),
    }
}

fn work_item_in(i: wit::WorkItem) -> sdk::WorkItem {
    sdk::WorkItem {
        external_id: i.external_id,
        version: i.version,
        category: i.category.into(),
        flag: i.flag.into(),
        priority: i.priority.into(),
        state: i.state.into(),
        title: i.title,
        patient: i.patient,
        encounter: i.encounter,
        ordering: i.ordering,
        rendering: i.rendering,
        pcp: i.pcp,
        created: ts(i.created),
        due: i.due.map(ts),
        attributes: attrs_in(i.attributes),
    }
}

fn event_in(e: wit::Event) -> sdk::Event {
    match e {
        wit::Event::Chart(c) => sdk::Event::Chart(sdk::ChartEvent {
            encounter: c.encounter,
            patient: c.patient,
            clinician: c.clinician,
            change: c.change.into(),
            visit_ended: ts(c.visit_ended),
            at: ts(c.at),
        }),
        wit::Event::Claim(c) => sdk::Event::Claim(sdk::ClaimEvent {
            claim: c.claim,
            encounter: c.encounter,
            visit_date: ts(c.visit_date),
            submitted: ts(c.submitted),
        }),
        wit::Event::Appointment(a) => sdk::Event::Appointment(appointment_in(a)),
    }
}

/// Approximate heap size of a batch, for the output cap.
pub fn batch_size(b: &wit::Batch) -> usize {
    let attrs = |list: &[wit::Attribute]| {
        list.iter()
            .map(|a| a.key.len() + a.value.len() + 16)
            .sum::<usize>()
    };
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let items: usize = b
        .items
        .iter()
        .map(|i| {
            i.external_id.len()
                + i.title.len()
                + opt(&i.patient)
                + opt(&i.encounter)
                + opt(&i.ordering)
                + opt(&i.rendering)
                + opt(&i.pcp)
                + attrs(&i.attributes)
                + 96
        })
        .sum();
    let rest: usize = b.events.len() * 128
        + b.roster
            .iter()
            .map(|r| r.ehr_id.len() + opt(&r.name) + opt(&r.role_code) + 16)
            .sum::<usize>();
    let rejects: usize = b
        .rejects
        .iter()
        .map(|r| r.location.len() + r.field.len() + r.message.len() + 16)
        .sum();
    items + rest + rejects
}

/// A batch from the guest.
pub fn batch_in(b: wit::Batch) -> sdk::Batch {
    sdk::Batch {
        items: b.items.into_iter().map(work_item_in).collect(),
        events: b.events.into_iter().map(event_in).collect(),
        roster: b
            .roster
            .into_iter()
            .map(|r| sdk::RosterHint {
                ehr_id: r.ehr_id,
                name: r.name,
                role_code: r.role_code,
            })
            .collect(),
        rejects: b
            .rejects
            .into_iter()
            .map(|r| sdk::Reject {
                location: r.location,
                field: r.field,
                message: r.message,
            })
            .collect(),
    }
}

/// A poll result from the guest.
pub fn poll_result_in(r: wit::PollResult) -> sdk::PollResult {
    sdk::PollResult {
        batch: batch_in(r.batch),
        cursor: r.cursor,
        more: r.more,
    }
}

/// A connector error from the guest.
pub fn connector_error_in(e: wit::ConnectorError) -> sdk::ConnectorError {
    match e {
        wit::ConnectorError::Malformed(m) => sdk::ConnectorError::Malformed(m),
        wit::ConnectorError::Remote(m) => sdk::ConnectorError::Remote(m),
        wit::ConnectorError::Unavailable(m) => sdk::ConnectorError::Unavailable(m),
        wit::ConnectorError::Unsupported(m) => sdk::ConnectorError::Unsupported(m),
    }
}

/// A config error from the guest.
pub fn config_error_in(e: wit::ConfigError) -> sdk::ConfigError {
    sdk::ConfigError {
        message: e.message,
        line: e.line,
        column: e.column,
    }
}

/// Borrowed forms of the `route` arguments. Lowering the SDK's items
/// through these writes each string once, into the guest, where the
/// generated types first needed a host copy of every string per call.
pub mod borrowed {
    use switchboard_sdk as sdk;
    use wasmtime::component::{ComponentType, Lower};

    use super::wit;

    /// The WIT `attribute`.
    #[derive(ComponentType, Lower)]
    #[component(record)]
    pub struct AttributeRef<'a> {
        key: &'a str,
        value: &'a str,
    }

    /// The WIT `route-item`.
    #[derive(ComponentType, Lower)]
    #[component(record)]
    pub struct RouteItemRef<'a> {
        key: u64,
        category: wit::Category,
        flag: wit::ResultFlag,
        priority: wit::Priority,
        created: i64,
        due: Option<i64>,
        patient: Option<&'a str>,
        ordering: Option<&'a str>,
        rendering: Option<&'a str>,
        pcp: Option<&'a str>,
        attributes: &'a [AttributeRef<'a>],
    }

    /// The WIT `person-load`.
    #[derive(ComponentType, Lower)]
    #[component(record)]
    pub struct PersonLoadRef<'a> {
        person: &'a str,
        #[component(name = "open-items")]
        open_items: u32,
    }

    /// The WIT `route-context`.
    #[derive(ComponentType, Lower)]
    #[component(record)]
    pub struct RouteContextRef<'a> {
        now: i64,
        load: &'a [PersonLoadRef<'a>],
    }

    /// The `route` parameters, borrowed from a batch.
    pub type RouteParams<'a> = (&'a [RouteItemRef<'a>], &'a RouteContextRef<'a>);

    /// The `policy-packed.route` parameters: packed items and the context.
    pub type PackedParams<'a> = (&'a [u8], &'a RouteContextRef<'a>);

    /// The `route` results.
    pub type RouteResults = (Vec<Result<wit::Assignment, wit::RouteError>>,);

    /// Collects every attribute of a batch into one list, in item order, so
    /// that each item can borrow its run of it.
    pub fn attributes(items: &[sdk::RouteItem]) -> Vec<AttributeRef<'_>> {
        items
            .iter()
            .flat_map(|item| &item.attributes)
            .map(|a| AttributeRef {
                key: &a.key,
                value: &a.value,
            })
            .collect()
    }

    /// Borrows the batch's items. `attributes` must be the list that
    /// [`attributes`] built from the same items.
    pub fn items<'a>(
        items: &'a [sdk::RouteItem],
        attributes: &'a [AttributeRef<'a>],
    ) -> Vec<RouteItemRef<'a>> {
        let mut next = 0;
        items
            .iter()
            .map(|i| {
                let own = &attributes[next..next + i.attributes.len()];
                next += i.attributes.len();
                RouteItemRef {
                    key: i.key,
                    category: i.category.into(),
                    flag: i.flag.into(),
                    priority: i.priority.into(),
                    created: i.created.0,
                    due: i.due.map(|t| t.0),
                    patient: i.patient.as_deref(),
                    ordering: i.ordering.as_deref(),
                    rendering: i.rendering.as_deref(),
                    pcp: i.pcp.as_deref(),
                    attributes: own,
                }
            })
            .collect()
    }

    /// Borrows the load list of `context`.
    pub fn load(context: &sdk::RouteContext) -> Vec<PersonLoadRef<'_>> {
        context
            .load
            .iter()
            .map(|l| PersonLoadRef {
                person: &l.person,
                open_items: l.open_items,
            })
            .collect()
    }

    /// Borrows `context`, with `load` from [`load`].
    pub fn context<'a>(
        context: &sdk::RouteContext,
        load: &'a [PersonLoadRef<'a>],
    ) -> RouteContextRef<'a> {
        RouteContextRef {
            now: context.now.0,
            load,
        }
    }
}
