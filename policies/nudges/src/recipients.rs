//! Who receives a nudge, and whether they are working right now.

use switchboard_sdk::host;
use switchboard_sdk::{NudgeLevel, OpenItem, Person, Shift, Site, Timestamp};

/// One recipient: a role, and a person in it unless the nudge goes to the
/// role's pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// Role name.
    pub role: String,
    /// Roster person id, or `None` for the role pool.
    pub person: Option<String>,
}

/// Lists the recipients of `level` for `item` who are working at `now`. Empty
/// when nobody is: the nudge then waits for a later call.
///
/// Reminders and warnings go to the item's owner: the person when one is
/// assigned, else the role pool, which follows the clinic hours. Absent
/// people get nothing. Escalations go to every working holder of
/// `escalation_role` except the owner, unless the owner is the only holder;
/// a role nobody holds is escalated to its pool.
pub fn recipients(
    site: &Site,
    item: &OpenItem,
    level: NudgeLevel,
    escalation_role: &str,
    now: Timestamp,
) -> Vec<Recipient> {
    match level {
        NudgeLevel::Reminder | NudgeLevel::Warning => owner(site, item, now).into_iter().collect(),
        NudgeLevel::Escalation => escalation(site, item, escalation_role, now),
    }
}

fn owner(site: &Site, item: &OpenItem, now: Timestamp) -> Option<Recipient> {
    // An owner who left the roster is treated like a pool assignment.
    match item.person.as_deref().and_then(|id| site.person(id)) {
        Some(person) => is_working(site, person, now).then(|| Recipient {
            role: item.role.clone(),
            person: Some(person.id.clone()),
        }),
        None => is_clinic_open(site, now).then(|| Recipient {
            role: item.role.clone(),
            person: None,
        }),
    }
}

fn escalation(site: &Site, item: &OpenItem, role: &str, now: Timestamp) -> Vec<Recipient> {
    let holders: Vec<&Person> = site.people.iter().filter(|p| p.has_role(role)).collect();
    if holders.is_empty() {
        let pool = Recipient {
            role: role.to_string(),
            person: None,
        };
        return if is_clinic_open(site, now) {
            vec![pool]
        } else {
            Vec::new()
        };
    }

    let owner = item.person.as_deref();
    let others_exist = holders.iter().any(|p| Some(p.id.as_str()) != owner);
    holders
        .into_iter()
        .filter(|p| !(others_exist && Some(p.id.as_str()) == owner))
        .filter(|p| is_working(site, p, now))
        .map(|p| Recipient {
            role: role.to_string(),
            person: Some(p.id.clone()),
        })
        .collect()
}

/// True when `person` is not absent and `now` falls in their working hours
/// (their own, else the clinic's) in the site's time zone.
pub fn is_working(site: &Site, person: &Person, now: Timestamp) -> bool {
    !person.is_absent(now) && within(site.hours_of(person), now)
}

fn is_clinic_open(site: &Site, now: Timestamp) -> bool {
    within(&site.clinic_hours, now)
}

fn within(shifts: &[Shift], now: Timestamp) -> bool {
    let local = host::to_local(now);
    shifts
        .iter()
        .any(|shift| shift.contains(local.weekday, local.minute))
}
