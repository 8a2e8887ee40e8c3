//! The site's roster resolved into indexes, so routing compares integers
//! instead of strings.

use switchboard_sdk::{Person, Site, Timestamp, text};

/// Index of a person in [`Roster::people`].
pub(crate) type PersonId = u16;

/// Index of a role in [`Roster::roles`].
pub(crate) type RoleId = u16;

/// One member of staff, with roles and pod resolved to indexes.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) person: Person,
    pub(crate) roles: Vec<RoleId>,
    /// Index of the person's pod among the site's pods, in order of first
    /// appearance.
    pub(crate) pod: Option<u16>,
}

impl Member {
    pub(crate) fn holds(&self, role: RoleId) -> bool {
        self.roles.contains(&role)
    }

    pub(crate) fn is_absent(&self, now: Timestamp) -> bool {
        self.person.is_absent(now)
    }
}

/// A role and the people who hold it, sorted by person id so that ties in
/// load balancing break the same way whatever the roster order.
#[derive(Debug)]
pub(crate) struct RoleEntry {
    pub(crate) name: String,
    pub(crate) members: Vec<PersonId>,
}

/// The roster of one site.
#[derive(Debug)]
pub(crate) struct Roster {
    pub(crate) people: Vec<Member>,
    pub(crate) roles: Vec<RoleEntry>,
    /// Open-addressed table from id to person: slot `text::hash(id) & mask`
    /// or the next free one after it. A power of two at least twice the
    /// roster, so a probe ends at an empty slot after a step or two.
    slots: Vec<Option<PersonId>>,
}

impl Roster {
    /// Indexes `site`. Roles a person lists that the site does not define are
    /// ignored here; the site parser already rejects them.
    ///
    /// # Panics
    ///
    /// When the site has more than 65,535 people or roles, which no clinic
    /// roster reaches.
    pub(crate) fn new(site: &Site) -> Self {
        assert!(
            site.people.len() <= usize::from(u16::MAX) && site.roles.len() <= usize::from(u16::MAX),
            "roster too large"
        );

        let roles_by_name: Vec<&str> = site.roles.iter().map(|r| r.name.as_str()).collect();
        let mut pods: Vec<String> = Vec::new();
        let mut people = Vec::with_capacity(site.people.len());
        for person in &site.people {
            let roles = person
                .roles
                .iter()
                .filter_map(|r| roles_by_name.iter().position(|n| n == r))
                .map(|i| i as RoleId)
                .collect();
            let pod = person.pod.as_ref().map(|pod| intern(&mut pods, pod));
            people.push(Member {
                person: person.clone(),
                roles,
                pod,
            });
        }

        let mut by_id: Vec<(&str, PersonId)> = people
            .iter()
            .enumerate()
            .map(|(i, m)| (m.person.id.as_str(), i as PersonId))
            .collect();
        by_id.sort();

        let roles = site
            .roles
            .iter()
            .enumerate()
            .map(|(index, role)| {
                let members = by_id
                    .iter()
                    .filter(|(_, p)| people[usize::from(*p)].holds(index as RoleId))
                    .map(|(_, p)| *p)
                    .collect();
                RoleEntry {
                    name: role.name.clone(),
                    members,
                }
            })
            .collect();

        let slots = id_slots(&people);
        Roster {
            people,
            roles,
            slots,
        }
    }

    /// Finds the person with roster id `id`.
    ///
    /// This runs for each provider reference of each routed item. A binary
    /// search over sorted ids cost about 150 instructions a lookup inside
    /// the component, most of it in string comparisons. Hashing reads `id`
    /// once.
    pub(crate) fn find(&self, id: &str) -> Option<PersonId> {
        let mask = self.slots.len() - 1;
        let mut slot = text::hash(id) as usize & mask;
        loop {
            let person = self.slots[slot]?;
            if text::eq(self.id_of(person), id) {
                return Some(person);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Finds the role named `name`.
    pub(crate) fn role(&self, name: &str) -> Option<RoleId> {
        self.roles
            .iter()
            .position(|r| r.name == name)
            .map(|i| i as RoleId)
    }

    pub(crate) fn member(&self, person: PersonId) -> &Member {
        &self.people[usize::from(person)]
    }

    pub(crate) fn id_of(&self, person: PersonId) -> &str {
        &self.member(person).person.id
    }

    pub(crate) fn role_name(&self, role: RoleId) -> &str {
        &self.roles[usize::from(role)].name
    }

    /// Members of `role`, sorted by person id.
    pub(crate) fn members(&self, role: RoleId) -> &[PersonId] {
        &self.roles[usize::from(role)].members
    }
}

fn intern(pods: &mut Vec<String>, pod: &str) -> u16 {
    match pods.iter().position(|p| p == pod) {
        Some(i) => i as u16,
        None => {
            pods.push(pod.to_string());
            (pods.len() - 1) as u16
        }
    }
}

/// Builds [`Roster::slots`] for `people`. Site ids are unique (the site
/// parser rejects duplicates), so each person takes one slot.
fn id_slots(people: &[Member]) -> Vec<Option<PersonId>> {
    let size = (people.len() * 2).next_power_of_two().max(8);
    let mask = size - 1;
    let mut slots = vec![None; size];
    for (index, member) in people.iter().enumerate() {
        let mut slot = text::hash(&member.person.id) as usize & mask;
        while slots[slot].is_some() {
            slot = (slot + 1) & mask;
        }
        slots[slot] = Some(index as PersonId);
    }
    slots
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(ids: &[String]) -> Site {
        Site {
            id: "test".into(),
            time_zone: "America/Chicago".into(),
            roles: Vec::new(),
            people: ids
                .iter()
                .map(|id| Person {
                    id: id.clone(),
                    ..Person::default()
                })
                .collect(),
            clinic_hours: Vec::new(),
            chart_deadline_minutes: 0,
        }
    }

    #[test]
    fn finds_every_person_and_nobody_else() {
        for size in [0, 1, 3, 4, 9, 200] {
            let ids: Vec<String> = (0..size).map(|n| format!("staff-{n:03}")).collect();
            let roster = Roster::new(&site(&ids));

            for (index, id) in ids.iter().enumerate() {
                assert_eq!(roster.find(id), Some(index as PersonId), "{id} of {size}");
            }
            for missing in ["", "staff-", "staff-0000", "staff-999", "Staff-000"] {
                assert_eq!(roster.find(missing), None, "{missing} of {size}");
            }
        }
    }
}
