//! The trait a routing, nudge or pre-visit prep policy implements.

use crate::packed::OutcomeWriter;
use crate::types::{
    Assignment, ConfigError, Nudge, OpenItem, PrepItem, PrepVisit, RouteContext, RouteError,
    RouteItem, Site, Timestamp,
};

/// A site policy. Implement it and export it with [`crate::export_policy!`].
///
/// The host creates the policy through [`Policy::configure`] before any other
/// call, and again (a new value) when the site's configuration changes. Calls
/// on one instance never overlap.
pub trait Policy: Sized + 'static {
    /// Builds the policy from the site and the policy's config text (TOML,
    /// possibly empty).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] rejects the configuration; the host keeps the
    /// previous version running.
    fn configure(site: Site, config: &str) -> Result<Self, ConfigError>;

    /// Decides who owns one item.
    ///
    /// # Errors
    ///
    /// A [`RouteError`] stores the item as a dead letter for a later retry.
    fn route(&mut self, item: &RouteItem, context: &RouteContext)
    -> Result<Assignment, RouteError>;

    /// Routes a batch; the default calls [`Policy::route`] per item. The
    /// result has one entry per item in order.
    fn route_batch(
        &mut self,
        items: &[RouteItem],
        context: &RouteContext,
    ) -> Vec<Result<Assignment, RouteError>> {
        items.iter().map(|item| self.route(item, context)).collect()
    }

    /// Routes a batch and writes one outcome per item, in order, to `out`.
    /// The default writes what [`Policy::route_batch`] returns.
    ///
    /// The host calls this for every batch it routes through the
    /// `policy-packed` interface. Override it when the policy can write
    /// an outcome from data it already holds, with
    /// [`OutcomeWriter::assignment`] and an
    /// [`AssignmentRef`](crate::packed::AssignmentRef) that borrows
    /// the role, person, reason and rule names: that skips building four
    /// strings per item and freeing them after packing. The result must
    /// equal what `route_batch` returns. The host rejects a batch with
    /// more or fewer outcomes than items: the call fails, the instance is
    /// replaced, and the batch's items wait as dead letters for a retry.
    fn route_into(&mut self, items: &[RouteItem], context: &RouteContext, out: &mut OutcomeWriter) {
        for outcome in self.route_batch(items, context) {
            out.push(&outcome);
        }
    }

    /// Returns the nudges due at `now`. The default sends none.
    fn nudges(&mut self, items: &[OpenItem], now: Timestamp) -> Vec<Nudge> {
        let _ = (items, now);
        Vec::new()
    }

    /// Returns prep items for upcoming visits. The default creates none.
    fn prepare(&mut self, visits: &[PrepVisit], now: Timestamp) -> Vec<PrepItem> {
        let _ = (visits, now);
        Vec::new()
    }
}
