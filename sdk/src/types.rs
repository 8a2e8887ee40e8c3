//! Plain Rust forms of the WIT types, shared by guests, the host and the
//! JSON-lines files that the test benches read and write.
//!
//! In JSON, timestamps are RFC 3339 strings and enum cases are kebab-case, as
//! in the WIT file. Field names are snake_case.

use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Builds a timestamp from whole seconds since the epoch.
    pub fn from_secs(secs: i64) -> Self {
        Timestamp(secs * 1000)
    }

    /// Parses an RFC 3339 string such as `2026-03-08T09:30:00-06:00`.
    ///
    /// # Errors
    ///
    /// Returns the parser's message when the text is not RFC 3339.
    pub fn parse_rfc3339(text: &str) -> Result<Self, String> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| Timestamp(t.timestamp_millis()))
            .map_err(|e| format!("invalid timestamp {text:?}: {e} (expected RFC 3339 such as 2026-03-08T09:30:00Z)"))
    }

    /// Adds whole minutes.
    pub fn plus_minutes(self, minutes: i64) -> Self {
        Timestamp(self.0 + minutes * 60_000)
    }

    /// Whole minutes from `earlier` to `self`, negative if `earlier` is later.
    pub fn minutes_since(self, earlier: Timestamp) -> i64 {
        (self.0 - earlier.0).div_euclid(60_000)
    }

    /// The timestamp as a chrono UTC date-time.
    pub fn to_utc(self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0)
            .single()
            .unwrap_or_default()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Timestamp::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

macro_rules! wit_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every case, in WIT order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The case's name as written in WIT, JSON and rule tables.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => {
                        let known: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                        Err(format!("unknown {} {text:?} (expected one of: {})", stringify!($name), known.join(", ")))
                    }
                }
            }
        }
    };
}

wit_enum!(
    /// What kind of work an item is.
    Category {
        /// Prescription renewal request.
        Refill = "refill",
        /// Lab or imaging result.
        Result = "result",
        /// Form to fill in.
        Form = "form",
        /// Unsigned visit note.
        VisitNote = "visit-note",
        /// Referral to coordinate.
        Referral = "referral",
        /// Patient message or phone call record.
        Message = "message",
        /// Prior authorization request.
        PriorAuth = "prior-auth",
        /// Preparation before a scheduled visit.
        PreVisitPrep = "pre-visit-prep",
        /// Anything else.
        Other = "other",
    }
);

wit_enum!(
    /// Interpretation of a result.
    ResultFlag {
        /// Not a result.
        None = "none",
        /// Within the reference range.
        Normal = "normal",
        /// Outside the reference range.
        Abnormal = "abnormal",
        /// Panic value.
        Critical = "critical",
        /// Missing or unmapped flag.
        Unknown = "unknown",
    }
);

wit_enum!(
    /// FHIR `request-priority` codes, lowest first.
    Priority {
        /// Normal priority.
        Routine = "routine",
        /// Sooner than routine.
        Urgent = "urgent",
        /// As soon as possible, above urgent.
        Asap = "asap",
        /// Immediately; the highest priority.
        Stat = "stat",
    }
);

wit_enum!(
    /// Whether the EHR still considers the work open.
    EhrState {
        /// Still to be done.
        Open = "open",
        /// Finished in the EHR; closes the matching item.
        Done = "done",
        /// Withdrawn in the EHR.
        Cancelled = "cancelled",
    }
);

wit_enum!(
    /// A day of the week.
    Weekday {
        /// Monday.
        Monday = "mon",
        /// Tuesday.
        Tuesday = "tue",
        /// Wednesday.
        Wednesday = "wed",
        /// Thursday.
        Thursday = "thu",
        /// Friday.
        Friday = "fri",
        /// Saturday.
        Saturday = "sat",
        /// Sunday.
        Sunday = "sun",
    }
);

wit_enum!(
    /// How urgent a nudge is.
    NudgeLevel {
        /// First reminder.
        Reminder = "reminder",
        /// Second, firmer reminder.
        Warning = "warning",
        /// Sent to a supervising role.
        Escalation = "escalation",
    }
);

wit_enum!(
    /// What happened to a chart.
    ChartChange {
        /// Visit ended, note not final.
        Opened = "opened",
        /// Note became final.
        Signed = "signed",
        /// Signed note changed.
        Amended = "amended",
    }
);

// The enums come from a macro with a fixed derive list, so Default is
// written by hand.
#[allow(clippy::derivable_impls)]
impl Default for ResultFlag {
    fn default() -> Self {
        ResultFlag::None
    }
}

#[allow(clippy::derivable_impls)]
impl Default for Priority {
    fn default() -> Self {
        Priority::Routine
    }
}

#[allow(clippy::derivable_impls)]
impl Default for EhrState {
    fn default() -> Self {
        EhrState::Open
    }
}

/// One free-form key and value attached to an item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    /// Attribute name, such as `loinc`.
    pub key: String,
    /// Attribute value.
    pub value: String,
}

/// A unit of open work as a connector reports it. See the WIT `work-item`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkItem {
    /// The EHR's id for the work, stable across versions.
    pub external_id: String,
    /// Version ordering key: larger is newer.
    pub version: u64,
    /// Kind of work.
    pub category: Category,
    /// Result interpretation, `none` for non-results.
    #[serde(default)]
    pub flag: ResultFlag,
    /// Priority.
    #[serde(default)]
    pub priority: Priority,
    /// Whether the EHR still considers the work open.
    #[serde(default)]
    pub state: EhrState,
    /// Short label as the EHR gave it.
    pub title: String,
    /// EHR patient reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// EHR encounter reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encounter: Option<String>,
    /// EHR reference of the ordering provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordering: Option<String>,
    /// EHR reference of the rendering clinician.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendering: Option<String>,
    /// EHR reference of the patient's primary-care provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcp: Option<String>,
    /// When the work appeared in the EHR.
    pub created: Timestamp,
    /// When the EHR wants it done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Timestamp>,
    /// Free-form attributes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
}

impl WorkItem {
    /// Builds the routing view of the item, numbered `key`, with its
    /// provider references resolved against `site` the way the engine
    /// resolves them.
    pub fn route_item(&self, site: &Site, key: u64) -> RouteItem {
        RouteItem {
            key,
            category: self.category,
            flag: self.flag,
            priority: self.priority,
            created: self.created,
            due: self.due,
            patient: self.patient.clone(),
            ordering: site.roster_id(self.ordering.as_deref()),
            rendering: site.roster_id(self.rendering.as_deref()),
            pcp: site.roster_id(self.pcp.as_deref()),
            attributes: self.attributes.clone(),
        }
    }

    /// Builds an open routine item with no optional fields set.
    pub fn new(
        external_id: impl Into<String>,
        version: u64,
        category: Category,
        title: impl Into<String>,
        created: Timestamp,
    ) -> Self {
        WorkItem {
            external_id: external_id.into(),
            version,
            category,
            flag: ResultFlag::None,
            priority: Priority::Routine,
            state: EhrState::Open,
            title: title.into(),
            patient: None,
            encounter: None,
            ordering: None,
            rendering: None,
            pcp: None,
            created,
            due: None,
            attributes: Vec::new(),
        }
    }

    /// The value of the first attribute named `key`.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        find_attribute(&self.attributes, key)
    }
}

pub(crate) fn find_attribute<'a>(attributes: &'a [Attribute], key: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|a| a.key == key)
        .map(|a| a.value.as_str())
}

/// The lean view of an item that `route` receives. Provider fields are
/// roster person ids.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RouteItem {
    /// The host's item number, unique within the site.
    pub key: u64,
    /// Kind of work.
    pub category: Category,
    /// Result interpretation.
    #[serde(default)]
    pub flag: ResultFlag,
    /// Priority.
    #[serde(default)]
    pub priority: Priority,
    /// When the work appeared in the EHR.
    pub created: Timestamp,
    /// When the EHR wants it done.
    #[serde(default)]
    pub due: Option<Timestamp>,
    /// EHR patient reference.
    #[serde(default)]
    pub patient: Option<String>,
    /// Roster id of the ordering provider.
    #[serde(default)]
    pub ordering: Option<String>,
    /// Roster id of the rendering clinician.
    #[serde(default)]
    pub rendering: Option<String>,
    /// Roster id of the patient's primary-care provider.
    #[serde(default)]
    pub pcp: Option<String>,
    /// Free-form attributes.
    #[serde(default)]
    pub attributes: Vec<Attribute>,
}

impl RouteItem {
    /// The value of the first attribute named `key`.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        find_attribute(&self.attributes, key)
    }

    /// Whole minutes between `created` and `now`.
    pub fn age_minutes(&self, now: Timestamp) -> i64 {
        now.minutes_since(self.created)
    }
}

/// Who should own an item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Role pool.
    pub role: String,
    /// Person within the pool, or `None` to leave the item in the pool.
    #[serde(default)]
    pub person: Option<String>,
    /// Priority of the work.
    pub priority: Priority,
    /// When the work should be done; `None` keeps the item's own due time.
    #[serde(default)]
    pub due: Option<Timestamp>,
    /// Human-readable reason naming the rule.
    pub reason: String,
    /// Name of the rule that decided.
    pub rule: String,
}

/// Why a policy could not route an item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "message", rename_all = "kebab-case")]
pub enum RouteError {
    /// No rule matched.
    #[error("no rule matched: {0}")]
    NoMatch(String),
    /// The matching rule named a role or person nobody can fill.
    #[error("no owner available: {0}")]
    NoOwner(String),
    /// The item lacks a field the rule needs.
    #[error("invalid item: {0}")]
    InvalidItem(String),
}

/// A configuration the plugin could not accept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}{}", position(*line, *column))]
pub struct ConfigError {
    /// What is wrong and how to fix it.
    pub message: String,
    /// 1-based line in the config text.
    pub line: Option<u32>,
    /// 1-based column in the config text.
    pub column: Option<u32>,
}

fn position(line: Option<u32>, column: Option<u32>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" (line {l}, column {c})"),
        (Some(l), None) => format!(" (line {l})"),
        _ => String::new(),
    }
}

impl ConfigError {
    /// An error without a position.
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError {
            message: message.into(),
            line: None,
            column: None,
        }
    }

    /// Converts a TOML parse error, computing line and column from `text`.
    pub fn from_toml(error: &toml::de::Error, text: &str) -> Self {
        let (line, column) = match error.span() {
            Some(span) => {
                let (l, c) = line_column(text, span.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        ConfigError {
            message: error.message().to_string(),
            line,
            column,
        }
    }
}

/// 1-based line and column of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |s| s.chars().count()) + 1;
    (line as u32, column as u32)
}

/// A recurring span of working time in site-local minutes after midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shift {
    /// Day of the week.
    pub day: Weekday,
    /// Start, minutes after local midnight.
    pub start_minute: u16,
    /// End (exclusive), minutes after local midnight, at most 1440.
    pub end_minute: u16,
}

impl Shift {
    /// True when local `minute` on `day` falls inside this shift.
    pub fn contains(&self, day: Weekday, minute: u16) -> bool {
        self.day == day && minute >= self.start_minute && minute < self.end_minute
    }
}

/// A span when a person is away, in UTC; `end` is exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Absence {
    /// First moment away.
    pub start: Timestamp,
    /// First moment back.
    pub end: Timestamp,
}

/// A member of staff at the site.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Person {
    /// Site-local id used in assignments.
    pub id: String,
    /// Role names this person can take.
    pub roles: Vec<String>,
    /// Care team.
    pub pod: Option<String>,
    /// Weekly hours; empty means the site's clinic hours.
    pub hours: Vec<Shift>,
    /// Spans away.
    pub absences: Vec<Absence>,
    /// EHR provider references that mean this person.
    pub ehr_ids: Vec<String>,
}

impl Person {
    /// True when the person holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// True when an absence covers `at`.
    pub fn is_absent(&self, at: Timestamp) -> bool {
        self.absences.iter().any(|a| a.start <= at && at < a.end)
    }
}

/// A role the site defines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// Role name.
    pub name: String,
    /// True for licensed prescribers.
    pub clinician: bool,
}

/// The site as a plugin sees it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Site {
    /// Site id.
    pub id: String,
    /// IANA time zone name.
    pub time_zone: String,
    /// Roles the site defines.
    pub roles: Vec<Role>,
    /// Staff.
    pub people: Vec<Person>,
    /// Clinic hours for people without their own.
    pub clinic_hours: Vec<Shift>,
    /// Minutes after a visit ends by which its note should be signed.
    pub chart_deadline_minutes: u32,
}

impl Site {
    /// The person with roster id `id`.
    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.id == id)
    }

    /// The role named `name`.
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// The shifts that apply to `person`: their own, else the clinic's.
    pub fn hours_of<'a>(&'a self, person: &'a Person) -> &'a [Shift] {
        if person.hours.is_empty() {
            &self.clinic_hours
        } else {
            &person.hours
        }
    }

    /// Resolves an EHR provider reference to a roster person id.
    pub fn resolve_provider(&self, ehr_ref: &str) -> Option<&str> {
        self.people
            .iter()
            .find(|p| p.id == ehr_ref || p.ehr_ids.iter().any(|e| e == ehr_ref))
            .map(|p| p.id.as_str())
    }

    /// Resolves an item's optional provider reference to the roster id that
    /// a [`RouteItem`] carries: `None` when the item has no reference or no
    /// person on the roster matches it.
    pub fn roster_id(&self, ehr_ref: Option<&str>) -> Option<String> {
        ehr_ref
            .and_then(|r| self.resolve_provider(r))
            .map(str::to_string)
    }
}

/// Open items per person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonLoad {
    /// Roster person id.
    pub person: String,
    /// Open items the person owns.
    pub open_items: u32,
}

/// Facts that change between `route` calls.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RouteContext {
    /// Current time.
    pub now: Timestamp,
    /// Open item counts per person.
    #[serde(default)]
    pub load: Vec<PersonLoad>,
}

impl RouteContext {
    /// Open items owned by `person`; zero when absent from the list.
    pub fn load_of(&self, person: &str) -> u32 {
        self.load
            .iter()
            .find(|l| l.person == person)
            .map_or(0, |l| l.open_items)
    }
}

/// An open item the nudge policy may remind someone about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenItem {
    /// Host item number.
    pub key: u64,
    /// Kind of work.
    pub category: Category,
    /// Owning role pool.
    pub role: String,
    /// Owning person.
    #[serde(default)]
    pub person: Option<String>,
    /// For visit notes, when the visit ended.
    #[serde(default)]
    pub visit_ended: Option<Timestamp>,
    /// When the work appeared.
    pub created: Timestamp,
    /// Due time.
    #[serde(default)]
    pub due: Option<Timestamp>,
    /// Levels already sent.
    #[serde(default)]
    pub sent: Vec<NudgeLevel>,
}

/// A reminder for someone to act on an item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nudge {
    /// Host item number.
    pub key: u64,
    /// Level.
    pub level: NudgeLevel,
    /// Recipient role.
    pub role: String,
    /// Recipient person.
    #[serde(default)]
    pub person: Option<String>,
    /// Text with ids and counts only.
    pub message: String,
}

/// A scheduled visit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appointment {
    /// EHR appointment id.
    pub external_id: String,
    /// EHR patient reference.
    pub patient: String,
    /// EHR reference of the clinician.
    #[serde(default)]
    pub clinician: Option<String>,
    /// Start time.
    pub start: Timestamp,
    /// Visit type.
    pub kind: String,
}

/// An open item of the same patient, for the prep policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientItem {
    /// Host item number.
    pub key: u64,
    /// Kind of work.
    pub category: Category,
    /// Result interpretation.
    pub flag: ResultFlag,
    /// Short label.
    pub title: String,
    /// Attributes.
    #[serde(default)]
    pub attributes: Vec<Attribute>,
}

/// A visit to prepare.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepVisit {
    /// The appointment.
    pub appointment: Appointment,
    /// Roster id of the clinician.
    #[serde(default)]
    pub clinician: Option<String>,
    /// The patient's open items.
    #[serde(default)]
    pub open_items: Vec<PatientItem>,
}

/// A prep item to create.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepItem {
    /// EHR appointment id.
    pub appointment: String,
    /// Stable name within the visit.
    pub slug: String,
    /// Short label.
    pub title: String,
    /// Due time.
    #[serde(default)]
    pub due: Option<Timestamp>,
    /// Attributes.
    #[serde(default)]
    pub attributes: Vec<Attribute>,
}

/// A change to a chart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartEvent {
    /// EHR encounter id.
    pub encounter: String,
    /// EHR patient reference.
    #[serde(default)]
    pub patient: Option<String>,
    /// EHR reference of the rendering clinician.
    #[serde(default)]
    pub clinician: Option<String>,
    /// What changed.
    pub change: ChartChange,
    /// When the visit ended.
    pub visit_ended: Timestamp,
    /// When the change happened.
    pub at: Timestamp,
}

/// A submitted claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimEvent {
    /// EHR claim id.
    pub claim: String,
    /// Encounter the claim bills.
    #[serde(default)]
    pub encounter: Option<String>,
    /// Date of service.
    pub visit_date: Timestamp,
    /// Submission time.
    pub submitted: Timestamp,
}

/// Something the metrics count that is not work to route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// Chart opened, signed or amended.
    Chart(ChartEvent),
    /// Claim submitted.
    Claim(ClaimEvent),
    /// Visit scheduled.
    Appointment(Appointment),
}

/// A staff member the EHR knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterHint {
    /// EHR practitioner reference.
    pub ehr_id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Role code.
    #[serde(default)]
    pub role_code: Option<String>,
}

/// One input the connector could not use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    /// Where in the input.
    pub location: String,
    /// The field at fault.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: field {}: {}",
            self.location, self.field, self.message
        )
    }
}

/// What a connector produced from one poll or message.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Batch {
    /// Work items.
    #[serde(default)]
    pub items: Vec<WorkItem>,
    /// Metric events.
    #[serde(default)]
    pub events: Vec<Event>,
    /// Roster hints.
    #[serde(default)]
    pub roster: Vec<RosterHint>,
    /// Inputs that could not be used.
    #[serde(default)]
    pub rejects: Vec<Reject>,
}

impl Batch {
    /// Appends everything in `other`.
    pub fn extend(&mut self, other: Batch) {
        self.items.extend(other.items);
        self.events.extend(other.events);
        self.roster.extend(other.roster);
        self.rejects.extend(other.rejects);
    }
}

/// One page of pulled data and where to resume.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct PollResult {
    /// What the page produced.
    pub batch: Batch,
    /// Cursor for the next call.
    pub cursor: Option<String>,
    /// More data is ready now.
    pub more: bool,
}

/// Why a connector call failed as a whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "message", rename_all = "kebab-case")]
pub enum ConnectorError {
    /// The input could not be parsed.
    #[error("malformed input: {0}")]
    Malformed(String),
    /// The EHR answered with an error.
    #[error("EHR error: {0}")]
    Remote(String),
    /// The EHR could not be reached.
    #[error("EHR unavailable: {0}")]
    Unavailable(String),
    /// The configuration does not allow this call.
    #[error("unsupported: {0}")]
    Unsupported(String),
}
