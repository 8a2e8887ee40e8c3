//! The routing function the simulator calls to choose each item's owner.

use serde::{Deserialize, Serialize};
use switchboard_sdk::{Category, RouteError, Site, WorkItem};

/// The owner a routing function chose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Role pool.
    pub role: String,
    /// Person within the pool; `None` leaves the item to the pool, and the
    /// simulator gives it to the least-loaded member.
    #[serde(default)]
    pub person: Option<String>,
}

impl Owner {
    /// Builds an owner in `role`, optionally a named person.
    pub fn new(role: impl Into<String>, person: Option<&str>) -> Self {
        Owner {
            role: role.into(),
            person: person.map(str::to_string),
        }
    }
}

/// Decides who owns each in-basket item of a simulated site.
///
/// `site` is the site's roster as a policy receives it (roster ids, roles,
/// pods, hours; each person's EHR id is `Practitioner/<roster id>`). The
/// item's provider fields contain those EHR references. An error leaves the
/// item unrouted; the simulator then gives it to the clinician the EHR
/// would (the ordering clinician of a result, else the PCP) and counts it
/// as unrouted.
///
/// Visit notes are not passed here: the rendering clinician always signs
/// their own chart.
pub trait Assign {
    /// Chooses the owner of `item` at `site`.
    ///
    /// # Errors
    ///
    /// A [`RouteError`] when no owner can be chosen.
    fn assign(&mut self, site: &Site, item: &WorkItem) -> Result<Owner, RouteError>;
}

impl<F> Assign for F
where
    F: FnMut(&Site, &WorkItem) -> Result<Owner, RouteError>,
{
    fn assign(&mut self, site: &Site, item: &WorkItem) -> Result<Owner, RouteError> {
        self(site, item)
    }
}

/// The EHR's default routing: every item to a clinician, the ordering
/// clinician for results and the patient's PCP for everything else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysicianDefault;

impl Assign for PhysicianDefault {
    fn assign(&mut self, site: &Site, item: &WorkItem) -> Result<Owner, RouteError> {
        let reference = match item.category {
            Category::Result => item.ordering.as_ref().or(item.pcp.as_ref()),
            _ => item.pcp.as_ref().or(item.ordering.as_ref()),
        };
        let reference = reference.ok_or_else(|| {
            RouteError::InvalidItem(format!(
                "item {} has neither a PCP nor an ordering clinician",
                item.external_id
            ))
        })?;
        let person = site
            .resolve_provider(reference)
            .and_then(|id| site.person(id))
            .ok_or_else(|| {
                RouteError::NoOwner(format!(
                    "provider {reference} is not on the roster of site {}",
                    site.id
                ))
            })?;

        let role = person
            .roles
            .iter()
            .find(|r| site.role(r).is_some_and(|role| role.clinician))
            .or_else(|| person.roles.first())
            .ok_or_else(|| {
                RouteError::NoOwner(format!(
                    "person {} has no role on the roster of site {}",
                    person.id, site.id
                ))
            })?;
        Ok(Owner::new(role.clone(), Some(&person.id)))
    }
}
