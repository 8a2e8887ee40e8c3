//! WebAssembly-only glue: the generated bindings, conversions between them
//! and the SDK's types, and the import calls behind [`crate::host`].
//!
//! Only one world is generated per build, chosen by the `policy` or
//! `connector` feature, so a policy component never carries connector
//! imports and the other way round.

// The generated bindings use `unsafe` for the canonical ABI, and each world
// uses only some of the shared conversions.
#![allow(unsafe_code, dead_code)]

/// Implements `From` both ways between a generated enum and an SDK enum.
macro_rules! enum_map {
    ($wit:ty, $sdk:ty, $($name:ident),+) => {
        impl From<$wit> for $sdk {
            fn from(value: $wit) -> Self {
                match value { $(<$wit>::$name => <$sdk>::$name),+ }
            }
        }
        impl From<$sdk> for $wit {
            fn from(value: $sdk) -> Self {
                match value { $(<$sdk>::$name => <$wit>::$name),+ }
            }
        }
    };
}

/// Conversions for the `types` interface, expanded inside each world's
/// module because each world has its own copy of the generated types.
macro_rules! type_conversions {
    () => {
        use self::switchboard::plugin::types as wit;
        use crate::types as sdk;

        enum_map!(
            wit::Category,
            sdk::Category,
            Refill,
            Result,
            Form,
            VisitNote,
            Referral,
            Message,
            PriorAuth,
            PreVisitPrep,
            Other
        );
        enum_map!(
            wit::ResultFlag,
            sdk::ResultFlag,
            None,
            Normal,
            Abnormal,
            Critical,
            Unknown
        );
        enum_map!(wit::Priority, sdk::Priority, Routine, Urgent, Asap, Stat);
        enum_map!(wit::EhrState, sdk::EhrState, Open, Done, Cancelled);
        enum_map!(
            wit::Weekday,
            sdk::Weekday,
            Monday,
            Tuesday,
            Wednesday,
            Thursday,
            Friday,
            Saturday,
            Sunday
        );
        enum_map!(
            wit::NudgeLevel,
            sdk::NudgeLevel,
            Reminder,
            Warning,
            Escalation
        );
        enum_map!(wit::ChartChange, sdk::ChartChange, Opened, Signed, Amended);

        fn ts(value: i64) -> sdk::Timestamp {
            sdk::Timestamp(value)
        }

        fn attributes_in(list: Vec<wit::Attribute>) -> Vec<sdk::Attribute> {
            list.into_iter()
                .map(|a| sdk::Attribute {
                    key: a.key,
                    value: a.value,
                })
                .collect()
        }

        fn attributes_out(list: Vec<sdk::Attribute>) -> Vec<wit::Attribute> {
            list.into_iter()
                .map(|a| wit::Attribute {
                    key: a.key,
                    value: a.value,
                })
                .collect()
        }

        impl From<sdk::ConfigError> for wit::ConfigError {
            fn from(e: sdk::ConfigError) -> Self {
                wit::ConfigError {
                    message: e.message,
                    line: e.line,
                    column: e.column,
                }
            }
        }

        impl From<wit::Shift> for sdk::Shift {
            fn from(s: wit::Shift) -> Self {
                sdk::Shift {
                    day: s.day.into(),
                    start_minute: s.start_minute,
                    end_minute: s.end_minute,
                }
            }
        }

        impl From<wit::Appointment> for sdk::Appointment {
            fn from(a: wit::Appointment) -> Self {
                sdk::Appointment {
                    external_id: a.external_id,
                    patient: a.patient,
                    clinician: a.clinician,
                    start: ts(a.start),
                    kind: a.kind,
                }
            }
        }

        impl From<sdk::Appointment> for wit::Appointment {
            fn from(a: sdk::Appointment) -> Self {
                wit::Appointment {
                    external_id: a.external_id,
                    patient: a.patient,
                    clinician: a.clinician,
                    start: a.start.0,
                    kind: a.kind,
                }
            }
        }
    };
}

#[cfg(feature = "policy")]
#[doc(hidden)]
pub mod policy {
    wit_bindgen::generate!({
        world: "packed-policy",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__export_packed_policy_world",
        default_bindings_module: "::switchboard_sdk::guest::policy",
    });

    type_conversions!();

    pub use self::switchboard::plugin::{host as host_imports, kv as kv_imports};

    /// Converts the generated site record.
    pub fn site(s: wit::Site) -> sdk::Site {
        sdk::Site {
            id: s.id,
            time_zone: s.time_zone,
            roles: s
                .roles
                .into_iter()
                .map(|r| sdk::Role {
                    name: r.name,
                    clinician: r.clinician,
                })
                .collect(),
            people: s
                .people
                .into_iter()
                .map(|p| sdk::Person {
                    id: p.id,
                    roles: p.roles,
                    pod: p.pod,
                    hours: p.hours.into_iter().map(Into::into).collect(),
                    absences: p
                        .absences
                        .into_iter()
                        .map(|a| sdk::Absence {
                            start: ts(a.start),
                            end: ts(a.end),
                        })
                        .collect(),
                    ehr_ids: p.ehr_ids,
                })
                .collect(),
            clinic_hours: s.clinic_hours.into_iter().map(Into::into).collect(),
            chart_deadline_minutes: s.chart_deadline_minutes,
        }
    }

    /// Converts one generated route item.
    pub fn route_item(i: wit::RouteItem) -> sdk::RouteItem {
        sdk::RouteItem {
            key: i.key,
            category: i.category.into(),
            flag: i.flag.into(),
            priority: i.priority.into(),
            created: ts(i.created),
            due: i.due.map(ts),
            patient: i.patient,
            ordering: i.ordering,
            rendering: i.rendering,
            pcp: i.pcp,
            attributes: attributes_in(i.attributes),
        }
    }

    /// Converts the generated route context.
    pub fn route_context(c: wit::RouteContext) -> sdk::RouteContext {
        sdk::RouteContext {
            now: ts(c.now),
            load: c
                .load
                .into_iter()
                .map(|l| sdk::PersonLoad {
                    person: l.person,
                    open_items: l.open_items,
                })
                .collect(),
        }
    }

    /// Converts one routing outcome for the host.
    pub fn route_outcome(
        r: Result<sdk::Assignment, sdk::RouteError>,
    ) -> Result<wit::Assignment, wit::RouteError> {
        match r {
            Ok(a) => Ok(wit::Assignment {
                role: a.role,
                person: a.person,
                priority: a.priority.into(),
                due: a.due.map(|t| t.0),
                reason: a.reason,
                rule: a.rule,
            }),
            Err(sdk::RouteError::NoMatch(m)) => Err(wit::RouteError::NoMatch(m)),
            Err(sdk::RouteError::NoOwner(m)) => Err(wit::RouteError::NoOwner(m)),
            Err(sdk::RouteError::InvalidItem(m)) => Err(wit::RouteError::InvalidItem(m)),
        }
    }

    std::thread_local! {
        /// The items of the batch being routed, kept from call to call so
        /// that their strings are overwritten rather than reallocated.
        static ITEMS: std::cell::RefCell<crate::packed::ItemBuffer> =
            std::cell::RefCell::new(crate::packed::ItemBuffer::new());
    }

    /// Bytes reserved per item for the packed outcomes: an assignment
    /// with ids, a reason and a rule name of typical length fits, so the
    /// buffer seldom grows while it is written.
    const OUTCOME_BYTES_PER_ITEM: usize = 112;

    /// Serves `policy-packed.route`: unpacks the items into the kept
    /// buffer and lets `route` write the outcomes.
    ///
    /// # Panics
    ///
    /// When the host's bytes do not fit the layout: a host and SDK that
    /// disagree about it, which no retry can fix. The trap names the byte.
    pub fn route_packed(
        items: &[u8],
        context: wit::RouteContext,
        route: impl FnOnce(&[sdk::RouteItem], &sdk::RouteContext, &mut crate::packed::OutcomeWriter),
    ) -> Vec<u8> {
        ITEMS.with(|buffer| {
            let mut buffer = buffer.borrow_mut();
            // SAFETY: the host packs the batch with `pack_items` or a
            // `Packer`, from `&str`s.
            let items = unsafe { buffer.unpack_from_host(items) }
                .unwrap_or_else(|error| panic!("the host sent {error}"));

            let capacity = 5 + items.len() * OUTCOME_BYTES_PER_ITEM;
            let mut out = crate::packed::OutcomeWriter::with_capacity(capacity);
            route(items, &route_context(context), &mut out);
            out.into_bytes()
        })
    }

    /// Converts one generated open item.
    pub fn open_item(i: wit::OpenItem) -> sdk::OpenItem {
        sdk::OpenItem {
            key: i.key,
            category: i.category.into(),
            role: i.role,
            person: i.person,
            visit_ended: i.visit_ended.map(ts),
            created: ts(i.created),
            due: i.due.map(ts),
            sent: i.sent.into_iter().map(Into::into).collect(),
        }
    }

    /// Converts one nudge for the host.
    pub fn nudge(n: sdk::Nudge) -> wit::Nudge {
        wit::Nudge {
            key: n.key,
            level: n.level.into(),
            role: n.role,
            person: n.person,
            message: n.message,
        }
    }

    /// Converts one generated prep visit.
    pub fn prep_visit(v: wit::PrepVisit) -> sdk::PrepVisit {
        sdk::PrepVisit {
            appointment: v.appointment.into(),
            clinician: v.clinician,
            open_items: v
                .open_items
                .into_iter()
                .map(|i| sdk::PatientItem {
                    key: i.key,
                    category: i.category.into(),
                    flag: i.flag.into(),
                    title: i.title,
                    attributes: attributes_in(i.attributes),
                })
                .collect(),
        }
    }

    /// Converts one prep item for the host.
    pub fn prep_item(p: sdk::PrepItem) -> wit::PrepItem {
        wit::PrepItem {
            appointment: p.appointment,
            slug: p.slug,
            title: p.title,
            due: p.due.map(|t| t.0),
            attributes: attributes_out(p.attributes),
        }
    }
}

#[cfg(feature = "connector")]
#[doc(hidden)]
pub mod connector {
    wit_bindgen::generate!({
        world: "connector",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__export_connector_world",
        default_bindings_module: "::switchboard_sdk::guest::connector",
    });

    type_conversions!();

    pub use self::switchboard::plugin::{
        host as host_imports, http as http_imports, kv as kv_imports,
    };

    fn work_item(i: sdk::WorkItem) -> wit::WorkItem {
        wit::WorkItem {
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
            created: i.created.0,
            due: i.due.map(|t| t.0),
            attributes: attributes_out(i.attributes),
        }
    }

    fn event(e: sdk::Event) -> wit::Event {
        match e {
            sdk::Event::Chart(c) => wit::Event::Chart(wit::ChartEvent {
                encounter: c.encounter,
                patient: c.patient,
                clinician: c.clinician,
                change: c.change.into(),
                visit_ended: c.visit_ended.0,
                at: c.at.0,
            }),
            sdk::Event::Claim(c) => wit::Event::Claim(wit::ClaimEvent {
                claim: c.claim,
                encounter: c.encounter,
                visit_date: c.visit_date.0,
                submitted: c.submitted.0,
            }),
            sdk::Event::Appointment(a) => wit::Event::Appointment(a.into()),
        }
    }

    /// Converts a batch for the host.
    pub fn batch(b: sdk::Batch) -> wit::Batch {
        wit::Batch {
            items: b.items.into_iter().map(work_item).collect(),
            events: b.events.into_iter().map(event).collect(),
            roster: b
                .roster
                .into_iter()
                .map(|r| wit::RosterHint {
                    ehr_id: r.ehr_id,
                    name: r.name,
                    role_code: r.role_code,
                })
                .collect(),
            rejects: b
                .rejects
                .into_iter()
                .map(|r| wit::Reject {
                    location: r.location,
                    field: r.field,
                    message: r.message,
                })
                .collect(),
        }
    }

    /// Converts a poll result for the host.
    pub fn poll_result(r: sdk::PollResult) -> wit::PollResult {
        wit::PollResult {
            batch: batch(r.batch),
            cursor: r.cursor,
            more: r.more,
        }
    }

    /// Converts a connector error for the host.
    pub fn connector_error(e: sdk::ConnectorError) -> wit::ConnectorError {
        match e {
            sdk::ConnectorError::Malformed(m) => wit::ConnectorError::Malformed(m),
            sdk::ConnectorError::Remote(m) => wit::ConnectorError::Remote(m),
            sdk::ConnectorError::Unavailable(m) => wit::ConnectorError::Unavailable(m),
            sdk::ConnectorError::Unsupported(m) => wit::ConnectorError::Unsupported(m),
        }
    }
}

/// The import calls behind [`crate::host`], routed to whichever world this
/// build generated.
pub(crate) mod imports {
    #[cfg(feature = "connector")]
    use super::connector::{host_imports as h, kv_imports as k};
    #[cfg(all(feature = "policy", not(feature = "connector")))]
    use super::policy::{host_imports as h, kv_imports as k};

    use crate::host::{Date, Level, LocalTime, http, kv};
    use crate::types::Timestamp;

    pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
        let level = match level {
            Level::Trace => h::Level::Trace,
            Level::Debug => h::Level::Debug,
            Level::Info => h::Level::Info,
            Level::Warn => h::Level::Warn,
            Level::Error => h::Level::Error,
        };
        let fields: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        h::log(level, message, &fields);
    }

    pub fn now() -> Timestamp {
        Timestamp(h::now())
    }

    pub fn to_local(at: Timestamp) -> LocalTime {
        let l = h::to_local(at.0);
        LocalTime {
            date: Date {
                year: l.date.year,
                month: l.date.month,
                day: l.date.day,
            },
            weekday: l.weekday.into(),
            minute: l.minute,
            offset_minutes: l.offset_minutes,
        }
    }

    pub fn from_local(date: Date, minute: u16) -> Timestamp {
        Timestamp(h::from_local(
            h::Date {
                year: date.year,
                month: date.month,
                day: date.day,
            },
            minute,
        ))
    }

    fn kv_error(e: k::KvError) -> kv::KvError {
        match e {
            k::KvError::TooLarge(m) => kv::KvError::TooLarge(m),
            k::KvError::Store(m) => kv::KvError::Store(m),
        }
    }

    pub fn kv_get(key: &str) -> Result<Option<Vec<u8>>, kv::KvError> {
        k::get(key).map_err(kv_error)
    }

    pub fn kv_set(key: &str, value: &[u8]) -> Result<(), kv::KvError> {
        k::set(key, value).map_err(kv_error)
    }

    pub fn kv_delete(key: &str) -> Result<(), kv::KvError> {
        k::delete(key).map_err(kv_error)
    }

    #[cfg(feature = "connector")]
    pub fn http_send(request: &http::Request) -> Result<http::Response, http::HttpError> {
        use super::connector::http_imports as w;

        let wire = w::Request {
            method: request.method.clone(),
            url: request.url.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
            credential: request.credential.clone(),
        };
        match w::send(&wire) {
            Ok(r) => Ok(http::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(w::HttpError::Denied(m)) => Err(http::HttpError::Denied(m)),
            Err(w::HttpError::TimedOut(m)) => Err(http::HttpError::TimedOut(m)),
            Err(w::HttpError::RateLimited(m)) => Err(http::HttpError::RateLimited(m)),
            Err(w::HttpError::Transport(m)) => Err(http::HttpError::Transport(m)),
            Err(w::HttpError::Credential(m)) => Err(http::HttpError::Credential(m)),
            Err(w::HttpError::TooLarge(m)) => Err(http::HttpError::TooLarge(m)),
        }
    }

    #[cfg(not(feature = "connector"))]
    pub fn http_send(request: &http::Request) -> Result<http::Response, http::HttpError> {
        Err(http::HttpError::Denied(format!(
            "{}: policies cannot make HTTP requests",
            request.url
        )))
    }
}
