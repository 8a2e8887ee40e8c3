//! Reading the roster part of a site file (`sites/<site>.toml`).
//!
//! The host validates the whole file strictly. This reader takes only what a
//! plugin sees, so the SDK's test harness and the host's test benches build
//! the same [`Site`] from the same file.

use serde::Deserialize;

use crate::types::{Absence, ConfigError, Person, Role, Shift, Site, Weekday};

#[derive(Deserialize)]
struct SiteFile {
    id: String,
    time_zone: String,
    #[serde(default = "default_clinic_hours")]
    clinic_hours: Vec<String>,
    #[serde(default = "default_deadline_hours")]
    chart_deadline_hours: u32,
    #[serde(default)]
    roles: Vec<RoleEntry>,
    #[serde(default)]
    people: Vec<PersonEntry>,
}

/// A `[[roles]]` entry of a site file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleEntry {
    /// Role name used in rules and assignments.
    pub name: String,
    /// True for licensed prescribers (physician, NP, PA).
    #[serde(default)]
    pub clinician: bool,
}

/// A `[[people]]` entry of a site file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonEntry {
    /// Roster id.
    pub id: String,
    /// Display name for the console (staff, not patients).
    #[serde(default)]
    pub name: Option<String>,
    /// Role names.
    pub roles: Vec<String>,
    /// Care team.
    #[serde(default)]
    pub pod: Option<String>,
    /// Shift specs such as `mon-fri 08:00-17:00`; empty means clinic hours.
    #[serde(default)]
    pub hours: Vec<String>,
    /// Spans away.
    #[serde(default)]
    pub absences: Vec<Absence>,
    /// EHR provider references that mean this person.
    #[serde(default)]
    pub ehr_ids: Vec<String>,
}

fn default_clinic_hours() -> Vec<String> {
    vec!["mon-fri 08:00-17:00".to_string()]
}

/// Twenty-four hours is the common closure target in primary care.
fn default_deadline_hours() -> u32 {
    24
}

/// Parses the roster fields of a site file's TOML text into a [`Site`].
///
/// # Errors
///
/// Returns a [`ConfigError`] with line and column for TOML errors, and one
/// naming the value for bad shift text or a person whose role is not defined.
pub fn parse_site(text: &str) -> Result<Site, ConfigError> {
    let file: SiteFile = toml::from_str(text).map_err(|e| ConfigError::from_toml(&e, text))?;
    build_site(
        file.id,
        file.time_zone,
        &file.clinic_hours,
        file.chart_deadline_hours,
        file.roles,
        file.people,
    )
}

/// Builds a [`Site`] from a site file's parsed parts.
///
/// # Errors
///
/// A [`ConfigError`] naming the value for bad shift text, a person whose
/// role is not defined, or a duplicate person or role.
pub fn build_site(
    id: String,
    time_zone: String,
    clinic_hours: &[String],
    chart_deadline_hours: u32,
    roles: Vec<RoleEntry>,
    people: Vec<PersonEntry>,
) -> Result<Site, ConfigError> {
    let clinic_hours =
        parse_shifts(clinic_hours).map_err(|e| ConfigError::new(format!("clinic_hours: {e}")))?;
    let mut defined: Vec<Role> = Vec::with_capacity(roles.len());
    for r in roles {
        if defined.iter().any(|d| d.name == r.name) {
            return Err(ConfigError::new(format!(
                "role {:?} is defined twice; remove one [[roles]] entry",
                r.name
            )));
        }
        defined.push(Role {
            name: r.name,
            clinician: r.clinician,
        });
    }
    let roles = defined;

    let mut out: Vec<Person> = Vec::with_capacity(people.len());
    for entry in people {
        if out.iter().any(|p| p.id == entry.id) {
            return Err(ConfigError::new(format!(
                "person {:?} is listed twice; person ids must be unique",
                entry.id
            )));
        }
        let hours = parse_shifts(&entry.hours)
            .map_err(|e| ConfigError::new(format!("people {:?} hours: {e}", entry.id)))?;
        if let Some(role) = entry
            .roles
            .iter()
            .find(|r| !roles.iter().any(|d| &d.name == *r))
        {
            return Err(ConfigError::new(format!(
                "person {:?} has role {role:?}, which the site does not define; add a [[roles]] entry named {role:?}",
                entry.id
            )));
        }
        out.push(Person {
            id: entry.id,
            roles: entry.roles,
            pod: entry.pod,
            hours,
            absences: entry.absences,
            ehr_ids: entry.ehr_ids,
        });
    }

    Ok(Site {
        id,
        time_zone,
        roles,
        people: out,
        clinic_hours,
        chart_deadline_minutes: chart_deadline_hours * 60,
    })
}

/// Parses shift specs such as `mon-fri 08:00-17:00` or `sat 09:00-12:00`.
///
/// # Errors
///
/// Returns a message naming the spec and the expected form.
pub fn parse_shifts(specs: &[String]) -> Result<Vec<Shift>, String> {
    let mut shifts = Vec::new();
    for spec in specs {
        shifts.extend(parse_shift(spec)?);
    }
    Ok(shifts)
}

fn parse_shift(spec: &str) -> Result<Vec<Shift>, String> {
    let form = "expected a form such as \"mon-fri 08:00-17:00\"";
    let (days, times) = spec
        .trim()
        .split_once(' ')
        .ok_or_else(|| format!("invalid hours {spec:?}: {form}"))?;
    let (start, end) = times
        .trim()
        .split_once('-')
        .ok_or_else(|| format!("invalid hours {spec:?}: {form}"))?;
    let start_minute = parse_clock(start)
        .ok_or_else(|| format!("invalid start time {start:?} in {spec:?}: {form}"))?;
    let end_minute =
        parse_clock(end).ok_or_else(|| format!("invalid end time {end:?} in {spec:?}: {form}"))?;
    if end_minute <= start_minute {
        return Err(format!(
            "hours {spec:?} end before they start; split an overnight shift into two entries"
        ));
    }

    let day_list = match days.split_once('-') {
        Some((first, last)) => {
            let first = day_index(first)
                .ok_or_else(|| format!("invalid day {first:?} in {spec:?}: {form}"))?;
            let last = day_index(last)
                .ok_or_else(|| format!("invalid day {last:?} in {spec:?}: {form}"))?;
            if last < first {
                return Err(format!(
                    "day range in {spec:?} runs backwards; write it from Monday toward Sunday"
                ));
            }
            (first..=last).map(|i| Weekday::ALL[i]).collect()
        }
        None => {
            let mut list = Vec::new();
            for day in days.split(',') {
                let i = day_index(day)
                    .ok_or_else(|| format!("invalid day {day:?} in {spec:?}: {form}"))?;
                list.push(Weekday::ALL[i]);
            }
            list
        }
    };

    Ok(day_list
        .into_iter()
        .map(|day| Shift {
            day,
            start_minute,
            end_minute,
        })
        .collect())
}

fn day_index(text: &str) -> Option<usize> {
    Weekday::ALL.iter().position(|d| d.as_str() == text.trim())
}

/// Parses `HH:MM` into minutes after midnight; `24:00` is allowed as an end.
pub fn parse_clock(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_range_expands_to_each_day() {
        let shifts = parse_shifts(&["mon-wed 08:30-17:00".to_string()]).unwrap();

        assert_eq!(shifts.len(), 3);
        assert_eq!(shifts[0].day, Weekday::Monday);
        assert_eq!(shifts[2].day, Weekday::Wednesday);
        assert_eq!(shifts[0].start_minute, 510);
        assert_eq!(shifts[0].end_minute, 1020);
    }

    #[test]
    fn shift_list_and_midnight_end() {
        let shifts = parse_shifts(&["sat,sun 20:00-24:00".to_string()]).unwrap();

        assert_eq!(shifts.len(), 2);
        assert_eq!(shifts[1].day, Weekday::Sunday);
        assert_eq!(shifts[1].end_minute, 1440);
    }

    #[test]
    fn shift_rejects_backwards_hours() {
        let error = parse_shifts(&["mon 17:00-08:00".to_string()]).unwrap_err();

        assert!(error.contains("overnight"), "{error}");
    }

    #[test]
    fn undefined_role_is_named() {
        let text = "id = \"s\"\ntime_zone = \"UTC\"\n[[people]]\nid = \"a\"\nroles = [\"ma\"]\n";

        let error = parse_site(text).unwrap_err();

        assert!(error.message.contains("\"ma\""), "{error}");
    }

    #[test]
    fn toml_error_has_position() {
        let text = "id = \"s\"\ntime_zone = \n";

        let error = parse_site(text).unwrap_err();

        assert_eq!(error.line, Some(2));
    }
}
