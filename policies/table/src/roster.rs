//! The site's roster resolved into indexes, so routing compares integers
//! instead of strings.

use switchboard_sdk::{Person, Site, Timestamp};

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
    /// Person ids sorted, for binary search.
    by_id: Vec<(String, PersonId)>,
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

        let mut by_id: Vec<(String, PersonId)> = people
            .iter()
            .enumerate()
            .map(|(i, m)| (m.person.id.clone(), i as PersonId))
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

        Roster {
            people,
            roles,
            by_id,
        }
    }

    /// Finds the person with roster id `id`.
    pub(crate) fn find(&self, id: &str) -> Option<PersonId> {
        self.by_id
            .binary_search_by(|(candidate, _)| candidate.as_str().cmp(id))
            .ok()
            .map(|i| self.by_id[i].1)
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
