//! Which nudge level an item is due for at a given time.

use switchboard_sdk::{Category, NudgeLevel, OpenItem, Timestamp};

use crate::config::{Offsets, Settings};

/// What an item's levels are measured from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// A visit note's chart deadline.
    ChartDeadline(Timestamp),
    /// Any other item's due time.
    Due(Timestamp),
}

impl Anchor {
    /// Returns the anchor time.
    pub fn at(self) -> Timestamp {
        match self {
            Anchor::ChartDeadline(at) | Anchor::Due(at) => at,
        }
    }
}

/// Finds the anchor and offsets that apply to `item`, if any.
///
/// A visit note's deadline is `chart_deadline_minutes` after its visit
/// ended; a note without `visit_ended` counts from `created`, which the host
/// sets when the visit's chart opens. Other items need a `due` time.
pub fn anchor_of(
    item: &OpenItem,
    settings: &Settings,
    chart_deadline_minutes: u32,
) -> Option<(Anchor, Offsets)> {
    if item.category == Category::VisitNote {
        let ended = item.visit_ended.unwrap_or(item.created);
        let deadline = ended.plus_minutes(i64::from(chart_deadline_minutes));
        return settings
            .charts
            .map(|offsets| (Anchor::ChartDeadline(deadline), offsets));
    }
    let due = item.due?;
    settings.due.map(|offsets| (Anchor::Due(due), offsets))
}

/// Returns the highest level due at `now`, unless that level was already
/// sent.
///
/// Lower levels that were never sent are skipped: once a warning is due, a
/// late reminder would only add noise.
pub fn level_due(
    anchor: Anchor,
    offsets: &Offsets,
    sent: &[NudgeLevel],
    now: Timestamp,
) -> Option<NudgeLevel> {
    let highest = NudgeLevel::ALL
        .iter()
        .rev()
        .copied()
        .find(|level| now >= anchor.at().plus_minutes(i64::from(offsets.of(*level))))?;
    (!sent.contains(&highest)).then_some(highest)
}
