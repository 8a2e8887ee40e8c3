//! Item actions staff take: claim, start, hand back, reassign, complete and
//! cancel.
//!
//! | action | from | to | who |
//! |---|---|---|---|
//! | claim | ready | accepted | a person holding the item's role; not an item suggested to someone else |
//! | start | accepted | in-progress | the owner |
//! | hand back | accepted, in-progress | ready, no person | the owner |
//! | reassign | received, ready, accepted, in-progress | ready | anyone, with a reason; the new person must hold the new role |
//! | complete | ready, accepted, in-progress | completed | the owner, or anyone in the role while no person owns it |
//! | cancel | any open status | cancelled | anyone, with a reason |
//!
//! Every action appends a history entry naming the actor. Actions use
//! optimistic concurrency: a change made meanwhile by someone else is
//! re-read and the action is checked again against it.

use switchboard_sdk::{Site, Timestamp};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::model::{Action, Item, ItemId, ItemStatus, Owner};
use crate::store::{Expect, Mutation};

const OPEN: [ItemStatus; 4] = [
    ItemStatus::Received,
    ItemStatus::Ready,
    ItemStatus::Accepted,
    ItemStatus::InProgress,
];

/// A reassignment: the new owner and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reassignment {
    /// The new role pool.
    pub role: String,
    /// The new person, or `None` to leave the item in the pool.
    pub person: Option<String>,
    /// Why, shown to the new owner. Required.
    pub reason: String,
}

impl Engine {
    /// Claims a ready item for `person`, who must hold its role.
    ///
    /// # Errors
    ///
    /// [`EngineError::InvalidTransition`] unless the item is ready,
    /// [`EngineError::NotInRole`], [`EngineError::NotOwner`] when it is
    /// suggested to someone else, [`EngineError::UnknownPerson`] and the
    /// errors of every action (see [`Engine::item`]).
    pub fn claim(&self, site: &str, id: ItemId, person: &str) -> Result<Item, EngineError> {
        self.act(site, id, Action::Claimed, person, |item, roster, _| {
            expect_status(item, Action::Claimed, &[ItemStatus::Ready])?;
            let role = owner_of(item).role.clone();
            require_role(roster, item.id, Action::Claimed, person, &role)?;
            if let Some(other) = item.person().filter(|p| *p != person) {
                return Err(not_owner(item.id, Action::Claimed, person, other));
            }
            owner_of_mut(item).person = Some(person.to_string());
            Ok((ItemStatus::Accepted, format!("claimed from role {role}")))
        })
    }

    /// Starts work on an item its owner has claimed.
    ///
    /// # Errors
    ///
    /// [`EngineError::InvalidTransition`] unless the item is accepted, and
    /// [`EngineError::NotOwner`].
    pub fn start(&self, site: &str, id: ItemId, person: &str) -> Result<Item, EngineError> {
        self.act(site, id, Action::Started, person, |item, _, _| {
            expect_status(item, Action::Started, &[ItemStatus::Accepted])?;
            require_owner(item, Action::Started, person)?;
            Ok((ItemStatus::InProgress, String::new()))
        })
    }

    /// Returns an item to its role pool.
    ///
    /// # Errors
    ///
    /// [`EngineError::InvalidTransition`] unless the item is accepted or in
    /// progress, and [`EngineError::NotOwner`].
    pub fn hand_back(&self, site: &str, id: ItemId, person: &str) -> Result<Item, EngineError> {
        self.act(site, id, Action::HandedBack, person, |item, _, _| {
            expect_status(
                item,
                Action::HandedBack,
                &[ItemStatus::Accepted, ItemStatus::InProgress],
            )?;
            require_owner(item, Action::HandedBack, person)?;
            let owner = owner_of_mut(item);
            owner.person = None;
            Ok((
                ItemStatus::Ready,
                format!("returned to role {}", owner.role),
            ))
        })
    }

    /// Moves an item to another role pool or person. Also routes a pending
    /// item or a dead letter by hand.
    ///
    /// # Errors
    ///
    /// [`EngineError::InvalidTransition`] for a closed item,
    /// [`EngineError::InvalidRequest`] for an empty reason,
    /// [`EngineError::UnknownRole`], [`EngineError::UnknownPerson`] and
    /// [`EngineError::NotInRole`] for an owner the roster does not allow.
    pub fn reassign(
        &self,
        site: &str,
        id: ItemId,
        actor: &str,
        to: &Reassignment,
    ) -> Result<Item, EngineError> {
        if to.reason.trim().is_empty() {
            return Err(EngineError::InvalidRequest(format!(
                "reassigning item {id} needs a reason for the new owner"
            )));
        }
        self.act(site, id, Action::Reassigned, actor, |item, roster, now| {
            expect_status(item, Action::Reassigned, &OPEN)?;
            if roster.role(&to.role).is_none() {
                return Err(EngineError::UnknownRole {
                    site: roster.id.clone(),
                    role: to.role.clone(),
                });
            }
            if let Some(person) = &to.person {
                require_role(roster, item.id, Action::Reassigned, person, &to.role)?;
            }

            let previous = item
                .owner
                .as_ref()
                .map(describe_owner)
                .unwrap_or_else(|| "nobody".into());
            item.owner = Some(Owner {
                role: to.role.clone(),
                person: to.person.clone(),
                priority: item.effective_priority(),
                due: item.owner.as_ref().and_then(|o| o.due),
                reason: to.reason.clone(),
                rule: String::new(),
                policy: None,
                routed_at: now,
            });
            item.failure = None;
            let next = describe_owner(owner_of(item));
            Ok((
                ItemStatus::Ready,
                format!("from {previous} to {next}: {}", to.reason),
            ))
        })
    }

    /// Completes an item.
    ///
    /// # Errors
    ///
    /// [`EngineError::InvalidTransition`] unless the item is ready, accepted
    /// or in progress; [`EngineError::NotOwner`] when someone else owns it;
    /// [`EngineError::NotInRole`] for an unowned item.
    pub fn complete(&self, site: &str, id: ItemId, person: &str) -> Result<Item, EngineError> {
        self.act(site, id, Action::Completed, person, |item, roster, _| {
            let from = [
                ItemStatus::Ready,
                ItemStatus::Accepted,
                ItemStatus::InProgress,
            ];
            expect_status(item, Action::Completed, &from)?;
            match item.person() {
                Some(_) if item.status != ItemStatus::Ready => {
                    require_owner(item, Action::Completed, person)?
                }
                Some(owner) if owner != person => {
                    return Err(not_owner(item.id, Action::Completed, person, owner));
                }
                _ => {
                    let role = owner_of(item).role.clone();
                    require_role(roster, item.id, Action::Completed, person, &role)?;
                    owner_of_mut(item).person = Some(person.to_string());
                }
            }
            Ok((ItemStatus::Completed, String::new()))
        })
    }

    /// Cancels an open item.
    ///
    /// # Errors
    ///
    /// [`EngineError::InvalidTransition`] for a closed item and
    /// [`EngineError::InvalidRequest`] for an empty reason.
    pub fn cancel(
        &self,
        site: &str,
        id: ItemId,
        actor: &str,
        reason: &str,
    ) -> Result<Item, EngineError> {
        if reason.trim().is_empty() {
            return Err(EngineError::InvalidRequest(format!(
                "cancelling item {id} needs a reason"
            )));
        }
        self.act(site, id, Action::Cancelled, actor, |item, _, _| {
            expect_status(item, Action::Cancelled, &OPEN)?;
            Ok((ItemStatus::Cancelled, reason.to_string()))
        })
    }

    /// Reads the item, lets `change` check and modify it, records the
    /// history entry and commits, retrying after a concurrent change.
    fn act(
        &self,
        site: &str,
        id: ItemId,
        action: Action,
        actor: &str,
        change: impl Fn(&mut Item, &Site, Timestamp) -> Result<(ItemStatus, String), EngineError>,
    ) -> Result<Item, EngineError> {
        let roster = self.site(site)?;
        if actor.trim().is_empty() {
            return Err(EngineError::InvalidRequest(format!(
                "cannot {} item {id}: the actor is empty; name the person who acts",
                action.verb()
            )));
        }

        self.commit_with_retry(action.verb(), || {
            let mut item = self.item(site, id)?;
            let expect = Expect::Revision(item.revision);
            let now = self.now();
            let (to, detail) = change(&mut item, &roster, now)?;
            item.record(now, actor, action, to, detail);

            let mut stored = item.clone();
            stored.revision += 1;
            Ok((
                vec![Mutation::PutItem {
                    item: Box::new(item),
                    expect,
                }],
                stored,
            ))
        })
    }
}

fn expect_status(item: &Item, action: Action, expected: &[ItemStatus]) -> Result<(), EngineError> {
    if expected.contains(&item.status) {
        return Ok(());
    }
    Err(EngineError::InvalidTransition {
        verb: action.verb(),
        id: item.id,
        status: item.status,
        expected: expected.to_vec(),
    })
}

/// Returns the owner of an item in a routed status, which always has one.
fn owner_of(item: &Item) -> &Owner {
    item.owner.as_ref().expect("routed items have an owner")
}

fn owner_of_mut(item: &mut Item) -> &mut Owner {
    item.owner.as_mut().expect("routed items have an owner")
}

fn describe_owner(owner: &Owner) -> String {
    match &owner.person {
        Some(person) => format!("{} / {person}", owner.role),
        None => owner.role.clone(),
    }
}

fn not_owner(id: ItemId, action: Action, person: &str, owner: &str) -> EngineError {
    EngineError::NotOwner {
        verb: action.verb(),
        id,
        person: person.to_string(),
        owner: owner.to_string(),
    }
}

fn require_owner(item: &Item, action: Action, person: &str) -> Result<(), EngineError> {
    match item.person() {
        Some(owner) if owner == person => Ok(()),
        Some(owner) => Err(not_owner(item.id, action, person, owner)),
        None => Err(not_owner(item.id, action, person, "nobody")),
    }
}

fn require_role(
    roster: &Site,
    id: ItemId,
    action: Action,
    person: &str,
    role: &str,
) -> Result<(), EngineError> {
    let Some(entry) = roster.person(person) else {
        return Err(EngineError::UnknownPerson {
            site: roster.id.clone(),
            person: person.to_string(),
        });
    };
    if entry.has_role(role) {
        return Ok(());
    }
    Err(EngineError::NotInRole {
        verb: action.verb(),
        id,
        person: person.to_string(),
        role: role.to_string(),
    })
}
