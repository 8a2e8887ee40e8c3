//! The practice model: who works where, how much work arrives and how long
//! it takes. Deserialized from TOML; every field has a default (see
//! [`super::defaults`] for the values and their sources).
//!
//! Tables keyed by role or work kind (`[roles]`, `[minutes]`, `[cosign]`,
//! `[due_hours]`) merge key by key into the defaults, so a file that sets
//! `[minutes.refill] ma = 2.0` keeps every other default. `sites` is a
//! list and replaces the default practice as a whole.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize};
use switchboard_sdk::site::{parse_clock, parse_shifts};
use switchboard_sdk::{Category, Priority, ResultFlag};

use crate::local;

/// The kind of work an item is, as the workload model prices it: a result
/// splits by flag because an abnormal result takes longer than a normal one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkKind {
    /// Refill request.
    Refill,
    /// Result within range.
    ResultNormal,
    /// Result outside range.
    ResultAbnormal,
    /// Panic-value result.
    ResultCritical,
    /// Patient message.
    Message,
    /// Form to fill in.
    Form,
    /// Referral to coordinate.
    Referral,
    /// Prior authorization.
    PriorAuth,
    /// Anything else (CC'd charts, FYI notices, staff messages).
    Other,
}

impl WorkKind {
    /// Every kind, in table order.
    pub const ALL: &'static [WorkKind] = &[
        WorkKind::Refill,
        WorkKind::ResultNormal,
        WorkKind::ResultAbnormal,
        WorkKind::ResultCritical,
        WorkKind::Message,
        WorkKind::Form,
        WorkKind::Referral,
        WorkKind::PriorAuth,
        WorkKind::Other,
    ];

    /// Returns the kind of an item of `category` with result flag `flag`.
    pub fn of(category: Category, flag: ResultFlag) -> WorkKind {
        match (category, flag) {
            (Category::Refill, _) => WorkKind::Refill,
            (Category::Result, ResultFlag::Abnormal) => WorkKind::ResultAbnormal,
            (Category::Result, ResultFlag::Critical) => WorkKind::ResultCritical,
            (Category::Result, _) => WorkKind::ResultNormal,
            (Category::Message, _) => WorkKind::Message,
            (Category::Form, _) => WorkKind::Form,
            (Category::Referral, _) => WorkKind::Referral,
            (Category::PriorAuth, _) => WorkKind::PriorAuth,
            _ => WorkKind::Other,
        }
    }

    /// Returns the kebab-case name used in config tables.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkKind::Refill => "refill",
            WorkKind::ResultNormal => "result-normal",
            WorkKind::ResultAbnormal => "result-abnormal",
            WorkKind::ResultCritical => "result-critical",
            WorkKind::Message => "message",
            WorkKind::Form => "form",
            WorkKind::Referral => "referral",
            WorkKind::PriorAuth => "prior-auth",
            WorkKind::Other => "other",
        }
    }
}

impl fmt::Display for WorkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The whole practice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PracticeConfig {
    /// First simulated date (site-local).
    pub start_date: NaiveDate,
    /// Hours after a visit's end by which its note should be signed.
    pub chart_deadline_hours: u32,
    /// Local time (`HH:MM`) at which clinicians start after-hours work.
    pub after_hours_start: String,
    /// Hours the after-hours session may run at most, a bound on how late a
    /// clinician keeps working.
    pub after_hours_window_hours: f64,
    /// Arrival volumes.
    pub volumes: Volumes,
    /// Result flag rates.
    pub results: ResultRates,
    /// When clinicians intend to close their charts.
    pub signing: SigningHabits,
    /// Time from signature to claim submission.
    pub claims: ClaimLag,
    /// Roles: clinician flag and daily capacities.
    #[serde(deserialize_with = "merge_roles")]
    pub roles: BTreeMap<String, RoleConfig>,
    /// Minutes of work per item, by kind and role.
    #[serde(deserialize_with = "merge_minutes")]
    pub minutes: BTreeMap<WorkKind, BTreeMap<String, f64>>,
    /// Clinician minutes still needed when another role handled the item
    /// (signing a prepared refill, countersigning a form).
    #[serde(deserialize_with = "merge_cosign")]
    pub cosign: BTreeMap<WorkKind, f64>,
    /// Hours from arrival to the item's due time; kinds without an entry
    /// have no due time.
    #[serde(deserialize_with = "merge_due_hours")]
    pub due_hours: BTreeMap<WorkKind, f64>,
    /// Sites.
    pub sites: Vec<SiteConfig>,
}

/// How much work arrives per clinician per clinic day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Volumes {
    /// Booked appointments per clinician per clinic day (mean).
    pub appointments: f64,
    /// Scheduled length of a visit in minutes.
    pub visit_minutes: u16,
    /// Largest overrun of a visit past its slot, in minutes (uniform).
    pub visit_overrun_minutes: u16,
    /// Share of booked appointments the patient misses.
    pub no_show_rate: f64,
    /// Patients in each clinician's panel; sets the range of patient ids.
    pub patients_per_clinician: u32,
    /// In-basket items per clinician per clinic day, by category (means).
    pub inbox: InboxMix,
    /// Monday's portal-message volume relative to the weekly mean; other
    /// clinic days are lowered so the week's total stays the same.
    pub monday_message_factor: f64,
    /// Share of results ordered by a clinician other than the patient's PCP.
    pub covering_order_share: f64,
    /// Share of messages and results sent with urgent priority.
    pub urgent_share: f64,
}

/// Mean in-basket items per clinician per clinic day, by category.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct InboxMix {
    /// Lab and imaging results.
    pub result: f64,
    /// Patient medical-advice messages.
    pub message: f64,
    /// Prescription renewal requests.
    pub refill: f64,
    /// Forms and letters.
    pub form: f64,
    /// Referrals to coordinate.
    pub referral: f64,
    /// Prior authorizations.
    pub prior_auth: f64,
    /// CC'd charts, FYI notices and staff messages.
    pub other: f64,
}

impl InboxMix {
    /// Lists the mean per category, in generation order.
    pub fn entries(&self) -> [(Category, f64); 7] {
        [
            (Category::Result, self.result),
            (Category::Message, self.message),
            (Category::Refill, self.refill),
            (Category::Form, self.form),
            (Category::Referral, self.referral),
            (Category::PriorAuth, self.prior_auth),
            (Category::Other, self.other),
        ]
    }

    /// Items per clinician per clinic day over every category.
    pub fn total(&self) -> f64 {
        self.entries().iter().map(|(_, v)| v).sum()
    }
}

/// Result flag rates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResultRates {
    /// Share of results flagged abnormal (not critical).
    pub abnormal_rate: f64,
    /// Share of results flagged critical.
    pub critical_rate: f64,
}

/// When clinicians intend to close a chart, before capacity decides when
/// they can.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigningHabits {
    /// Share of charts a clinician means to close 1 to 3 days after the
    /// visit. The same-day share is what remains after this and the tail.
    pub next_days_share: f64,
    /// Share of charts left 4 to `tail_max_days` days.
    pub tail_share: f64,
    /// Maximum deliberate delay in days.
    pub tail_max_days: u32,
    /// Share of same-day charts a clinician keeps for the evening even when
    /// clinic time allows.
    pub evening_preference: f64,
    /// Clinician minutes to finish and sign one note after the visit.
    pub note_minutes: f64,
}

impl SigningHabits {
    /// Computes the share of charts meant to close on the visit day.
    pub fn same_day_share(&self) -> f64 {
        1.0 - self.next_days_share - self.tail_share
    }
}

/// Time from a chart's signature to its claim's submission.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClaimLag {
    /// Minimum clinic days after the signature (uniform between the two).
    pub min_clinic_days: u32,
    /// Maximum clinic days after the signature.
    pub max_clinic_days: u32,
}

/// A role: whether it is a clinician role and how much queue work its
/// members do per working day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoleConfig {
    /// True for licensed prescribers (physician, NP, PA): they see visits,
    /// sign charts and may work after hours.
    pub clinician: bool,
    /// Minutes of queue work per working day inside working hours.
    pub capacity_minutes: f64,
    /// Minutes of queue work a member does after hours at most, per day.
    pub after_hours_minutes: f64,
    /// Minutes per item for work kinds the `[minutes]` table does not list
    /// for this role.
    pub default_minutes: f64,
}

impl Default for RoleConfig {
    fn default() -> Self {
        RoleConfig {
            clinician: false,
            capacity_minutes: 240.0,
            after_hours_minutes: 0.0,
            default_minutes: 5.0,
        }
    }
}

/// One site of the practice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Site id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// IANA time zone.
    pub time_zone: String,
    /// Clinic hours such as `mon-fri 08:00-17:00`.
    #[serde(default = "default_clinic_hours")]
    pub clinic_hours: Vec<String>,
    /// Local time (`HH:MM`) at which open charts are counted.
    #[serde(default = "default_closing_time")]
    pub closing_time: String,
    /// Staff.
    pub people: Vec<PersonConfig>,
}

fn default_clinic_hours() -> Vec<String> {
    vec!["mon-fri 08:00-17:00".to_string()]
}

fn default_closing_time() -> String {
    "18:00".to_string()
}

/// A member of staff.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonConfig {
    /// Roster id, unique within the site.
    pub id: String,
    /// Role name; must be a key of `[roles]`.
    pub role: String,
    /// Care team.
    #[serde(default)]
    pub pod: Option<String>,
    /// Own working hours; empty means the site's clinic hours.
    #[serde(default)]
    pub hours: Vec<String>,
    /// Scales this clinician's appointments and in-basket volume.
    #[serde(default = "one")]
    pub volume_scale: f64,
    /// Scales this clinician's shares of delayed charts (1 to 3 days and
    /// the tail).
    #[serde(default = "one")]
    pub closure_multiplier: f64,
    /// Replaces the role's in-hours capacity for this person.
    #[serde(default)]
    pub capacity_minutes: Option<f64>,
}

fn one() -> f64 {
    1.0
}

impl PersonConfig {
    /// Builds a person with default scales and the site's clinic hours.
    pub fn new(id: &str, role: &str, pod: Option<&str>) -> Self {
        PersonConfig {
            id: id.to_string(),
            role: role.to_string(),
            pod: pod.map(str::to_string),
            hours: Vec::new(),
            volume_scale: 1.0,
            closure_multiplier: 1.0,
            capacity_minutes: None,
        }
    }
}

fn merge_roles<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, RoleConfig>, D::Error> {
    let overlay: BTreeMap<String, RoleOverlay> = BTreeMap::deserialize(deserializer)?;
    let mut roles = super::defaults::roles();
    for (name, change) in overlay {
        let role = roles.entry(name).or_default();
        change.apply(role);
    }
    Ok(roles)
}

/// The fields of a `[roles.NAME]` table that the file sets.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleOverlay {
    clinician: Option<bool>,
    capacity_minutes: Option<f64>,
    after_hours_minutes: Option<f64>,
    default_minutes: Option<f64>,
}

impl RoleOverlay {
    fn apply(self, role: &mut RoleConfig) {
        if let Some(v) = self.clinician {
            role.clinician = v;
        }
        if let Some(v) = self.capacity_minutes {
            role.capacity_minutes = v;
        }
        if let Some(v) = self.after_hours_minutes {
            role.after_hours_minutes = v;
        }
        if let Some(v) = self.default_minutes {
            role.default_minutes = v;
        }
    }
}

fn merge_minutes<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<WorkKind, BTreeMap<String, f64>>, D::Error> {
    let overlay: BTreeMap<WorkKind, BTreeMap<String, f64>> = BTreeMap::deserialize(deserializer)?;
    let mut minutes = super::defaults::minutes();
    for (kind, roles) in overlay {
        minutes.entry(kind).or_default().extend(roles);
    }
    Ok(minutes)
}

fn merge_cosign<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<WorkKind, f64>, D::Error> {
    let mut table = super::defaults::cosign();
    table.extend(BTreeMap::<WorkKind, f64>::deserialize(deserializer)?);
    Ok(table)
}

fn merge_due_hours<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<WorkKind, f64>, D::Error> {
    let mut table = super::defaults::due_hours();
    table.extend(BTreeMap::<WorkKind, f64>::deserialize(deserializer)?);
    Ok(table)
}

/// An error that rejects a practice configuration.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The TOML text is invalid or has unknown keys.
    #[error("invalid practice config: {0}")]
    Toml(String),
    /// A value is out of its range.
    #[error("{key} is {value}; {expected}")]
    OutOfRange {
        /// The config key.
        key: String,
        /// The rejected value, as text.
        value: String,
        /// The accepted range and how to fix it.
        expected: String,
    },
    /// A site, person or role reference is wrong.
    #[error("{0}")]
    Invalid(String),
}

impl PracticeConfig {
    /// Parses and validates a practice file.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Toml`] with the parser's line and column for invalid
    /// TOML or unknown keys; the other variants name the value at fault.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: PracticeConfig =
            toml::from_str(text).map_err(|e| ConfigError::Toml(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Writes the config as a practice file that [`PracticeConfig::from_toml`]
    /// reads back unchanged, such as a template of the defaults.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Toml`] if the TOML serializer fails.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        toml::to_string(self).map_err(|e| ConfigError::Toml(e.to_string()))
    }

    /// Checks ranges, time texts and references.
    ///
    /// # Errors
    ///
    /// The first problem found, naming the key and the accepted range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_rates()?;
        self.validate_roles()?;
        self.validate_times()?;
        if self.sites.is_empty() {
            return Err(ConfigError::Invalid(
                "the practice has no sites; add a [[sites]] entry".to_string(),
            ));
        }
        for site in &self.sites {
            self.validate_site(site)?;
        }
        Ok(())
    }

    fn validate_rates(&self) -> Result<(), ConfigError> {
        let shares = [
            ("volumes.no_show_rate", self.volumes.no_show_rate),
            (
                "volumes.covering_order_share",
                self.volumes.covering_order_share,
            ),
            ("volumes.urgent_share", self.volumes.urgent_share),
            ("results.abnormal_rate", self.results.abnormal_rate),
            ("results.critical_rate", self.results.critical_rate),
            ("signing.next_days_share", self.signing.next_days_share),
            ("signing.tail_share", self.signing.tail_share),
            (
                "signing.evening_preference",
                self.signing.evening_preference,
            ),
        ];
        for (key, value) in shares {
            check_share(key, value)?;
        }
        check_share(
            "results.abnormal_rate + results.critical_rate",
            self.results.abnormal_rate + self.results.critical_rate,
        )?;
        check_share(
            "signing.next_days_share + signing.tail_share",
            self.signing.next_days_share + self.signing.tail_share,
        )?;

        let amounts = [
            ("volumes.appointments", self.volumes.appointments),
            (
                "volumes.monday_message_factor",
                self.volumes.monday_message_factor,
            ),
            ("signing.note_minutes", self.signing.note_minutes),
            ("after_hours_window_hours", self.after_hours_window_hours),
        ];
        for (key, value) in amounts.into_iter().chain(
            self.volumes
                .inbox
                .entries()
                .into_iter()
                .map(|(category, v)| (inbox_key(category), v)),
        ) {
            check_amount(key, value)?;
        }
        if self.volumes.monday_message_factor > 5.0 {
            return Err(out_of_range(
                "volumes.monday_message_factor",
                self.volumes.monday_message_factor,
                "use 0 to 5 (Monday's share of a five-day week's messages cannot pass 100 %)",
            ));
        }
        if self.volumes.visit_minutes == 0 {
            return Err(out_of_range(
                "volumes.visit_minutes",
                0.0,
                "use 1 or more minutes",
            ));
        }
        if self.volumes.patients_per_clinician == 0 {
            return Err(out_of_range(
                "volumes.patients_per_clinician",
                0.0,
                "use 1 or more",
            ));
        }
        if self.signing.tail_max_days < 4 {
            return Err(out_of_range(
                "signing.tail_max_days",
                f64::from(self.signing.tail_max_days),
                "use 4 or more; the tail starts at 4 days",
            ));
        }
        if self.claims.min_clinic_days > self.claims.max_clinic_days {
            return Err(ConfigError::Invalid(format!(
                "claims.min_clinic_days ({}) is above claims.max_clinic_days ({}); swap them",
                self.claims.min_clinic_days, self.claims.max_clinic_days
            )));
        }
        for (kind, roles) in &self.minutes {
            for (role, value) in roles {
                check_amount(&format!("minutes.{kind}.{role}"), *value)?;
            }
        }
        for (kind, value) in &self.cosign {
            check_amount(&format!("cosign.{kind}"), *value)?;
        }
        for (kind, value) in &self.due_hours {
            check_amount(&format!("due_hours.{kind}"), *value)?;
        }
        Ok(())
    }

    fn validate_roles(&self) -> Result<(), ConfigError> {
        for (name, role) in &self.roles {
            check_amount(
                &format!("roles.{name}.capacity_minutes"),
                role.capacity_minutes,
            )?;
            check_amount(
                &format!("roles.{name}.after_hours_minutes"),
                role.after_hours_minutes,
            )?;
            check_amount(
                &format!("roles.{name}.default_minutes"),
                role.default_minutes,
            )?;
            if role.default_minutes == 0.0 {
                return Err(out_of_range(
                    &format!("roles.{name}.default_minutes"),
                    0.0,
                    "use more than 0, or every unlisted item would take no time",
                ));
            }
        }
        Ok(())
    }

    fn validate_times(&self) -> Result<(), ConfigError> {
        if parse_clock(&self.after_hours_start).is_none() {
            return Err(ConfigError::Invalid(format!(
                "after_hours_start {:?} is not a time; use HH:MM such as \"20:00\"",
                self.after_hours_start
            )));
        }
        Ok(())
    }

    fn validate_site(&self, site: &SiteConfig) -> Result<(), ConfigError> {
        let context = format!("site {:?}", site.id);
        local::parse_zone(&site.time_zone)
            .map_err(|e| ConfigError::Invalid(format!("{context}: {e}")))?;
        parse_shifts(&site.clinic_hours)
            .map_err(|e| ConfigError::Invalid(format!("{context}: clinic_hours: {e}")))?;
        if parse_clock(&site.closing_time).is_none() {
            return Err(ConfigError::Invalid(format!(
                "{context}: closing_time {:?} is not a time; use HH:MM such as \"18:00\"",
                site.closing_time
            )));
        }
        if site.id.is_empty()
            || !site
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(ConfigError::Invalid(format!(
                "{context}: site ids become part of FHIR ids; use letters, digits and '-' only"
            )));
        }

        let mut seen: Vec<&str> = Vec::new();
        for person in &site.people {
            self.validate_person(&context, person, &seen)?;
            seen.push(&person.id);
        }

        let clinicians = site
            .people
            .iter()
            .filter(|p| self.roles.get(&p.role).is_some_and(|r| r.clinician))
            .count();
        if clinicians == 0 {
            return Err(ConfigError::Invalid(format!(
                "{context} has no clinician; add a person whose role has clinician = true"
            )));
        }
        Ok(())
    }

    fn validate_person(
        &self,
        context: &str,
        person: &PersonConfig,
        seen: &[&str],
    ) -> Result<(), ConfigError> {
        let who = format!("{context} person {:?}", person.id);
        if seen.contains(&person.id.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "{who} is listed twice; person ids must be unique within a site"
            )));
        }
        if person.id.is_empty()
            || !person
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(ConfigError::Invalid(format!(
                "{who}: person ids become FHIR ids and HL7 fields; use letters, digits, '-' and '.' only"
            )));
        }
        if !self.roles.contains_key(&person.role) {
            let known: Vec<&str> = self.roles.keys().map(String::as_str).collect();
            return Err(ConfigError::Invalid(format!(
                "{who} has role {:?}, which [roles] does not define (defined: {}); add [roles.{}] or fix the name",
                person.role,
                known.join(", "),
                person.role
            )));
        }
        parse_shifts(&person.hours)
            .map_err(|e| ConfigError::Invalid(format!("{who} hours: {e}")))?;
        check_amount(&format!("{who} volume_scale"), person.volume_scale)?;
        check_amount(
            &format!("{who} closure_multiplier"),
            person.closure_multiplier,
        )?;
        if let Some(capacity) = person.capacity_minutes {
            check_amount(&format!("{who} capacity_minutes"), capacity)?;
        }
        Ok(())
    }

    /// Returns the minutes a member of `role` spends on one item of `kind`.
    pub fn minutes_for(&self, kind: WorkKind, role: &str) -> f64 {
        self.minutes
            .get(&kind)
            .and_then(|roles| roles.get(role))
            .copied()
            .or_else(|| self.roles.get(role).map(|r| r.default_minutes))
            .unwrap_or(RoleConfig::default().default_minutes)
    }

    /// Returns true when `role` is a clinician role.
    pub fn is_clinician_role(&self, role: &str) -> bool {
        self.roles.get(role).is_some_and(|r| r.clinician)
    }

    /// Returns the due time offset of `kind` in milliseconds, if it has one.
    pub fn due_millis(&self, kind: WorkKind) -> Option<i64> {
        self.due_hours
            .get(&kind)
            .map(|h| (h * 3_600_000.0).round() as i64)
    }
}

fn inbox_key(category: Category) -> &'static str {
    match category {
        Category::Result => "volumes.inbox.result",
        Category::Message => "volumes.inbox.message",
        Category::Refill => "volumes.inbox.refill",
        Category::Form => "volumes.inbox.form",
        Category::Referral => "volumes.inbox.referral",
        Category::PriorAuth => "volumes.inbox.prior-auth",
        _ => "volumes.inbox.other",
    }
}

fn out_of_range(key: &str, value: f64, expected: &str) -> ConfigError {
    ConfigError::OutOfRange {
        key: key.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

fn check_share(key: &str, value: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(out_of_range(key, value, "use a share from 0 to 1"))
    }
}

fn check_amount(key: &str, value: f64) -> Result<(), ConfigError> {
    if value >= 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(out_of_range(key, value, "use a number of 0 or more"))
    }
}

/// Chooses the default priority of an item: urgent for the urgent share of
/// messages and results, stat for critical results, else routine.
pub fn priority_for(kind: WorkKind, urgent: bool) -> Priority {
    match kind {
        WorkKind::ResultCritical => Priority::Stat,
        WorkKind::Message | WorkKind::ResultNormal | WorkKind::ResultAbnormal if urgent => {
            Priority::Urgent
        }
        _ => Priority::Routine,
    }
}
