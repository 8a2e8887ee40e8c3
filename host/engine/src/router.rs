//! The routing boundary: the engine calls a [`Router`] to decide who owns
//! each item, and the host implements it by calling the site's policy
//! plugin.

use switchboard_sdk::{Assignment, RouteContext, RouteError, RouteItem, Site};

use crate::model::PolicyRef;

/// A policy's decisions for one batch.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteOutcome {
    /// The policy that was called, recorded with every assignment.
    pub policy: PolicyRef,
    /// One result per item, in the order of the items.
    pub results: Vec<Result<Assignment, RouteError>>,
}

/// Why a whole routing call failed: the plugin trapped, ran past a limit,
/// or the site has no active policy.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RouterError {
    /// The policy that was called, when one was.
    pub policy: Option<PolicyRef>,
    /// What failed, with ids only.
    pub message: String,
}

/// Routes items of one site. The host's implementation calls the site's
/// policy plugin; tests use a native one.
///
/// The engine calls it outside any lock, with at most 256 items per call,
/// and never twice at once for the same site.
pub trait Router: Send + Sync {
    /// Decides who owns each item.
    ///
    /// # Errors
    ///
    /// A [`RouterError`] when the call failed as a whole; the engine keeps
    /// every item of the batch as a dead letter with its message.
    fn route(
        &self,
        site: &Site,
        items: &[RouteItem],
        context: &RouteContext,
    ) -> Result<RouteOutcome, RouterError>;
}
