//! Return on routing: clinician minutes and cost moved to other roles
//! between a baseline and a pilot (two date ranges or two simulator runs).
//!
//! Per category `c`, with `s` the share of items routed to a clinician role
//! and `N` the number of items routed:
//!
//! - items moved = (s_baseline − s_pilot) × N_pilot, so two periods of
//!   different volume compare at the pilot's volume;
//! - minutes moved = items moved × minutes per item of `c`;
//! - clinician cost moved = minutes moved / 60 × the clinician rate of `c`,
//!   the hourly cost of the clinician roles weighted by how many items of
//!   `c` each received over both periods;
//! - staff cost added = minutes moved / 60 × the staff rate of `c`, the
//!   same weighting over the other roles.
//!
//! The same minutes per item are charged on both sides, as the inputs
//! state one figure per category. A negative result means work moved
//! toward clinicians. Freed clinician time is capacity, not cash, until the
//! practice uses it (more visits, fewer after-hours hours).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use switchboard_sdk::Category;

use super::report::{KpiReport, RoutingCount};

/// The stated inputs of an ROI calculation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoiInputs {
    /// Fully loaded cost per hour of each role, keyed by role name.
    pub cost_per_hour: BTreeMap<String, f64>,
    /// Minutes of work per item, keyed by category.
    pub minutes_per_item: BTreeMap<Category, f64>,
    /// Currency symbol printed before amounts.
    #[serde(default = "default_currency")]
    pub currency: String,
}

fn default_currency() -> String {
    "$".to_string()
}

/// An error that stops the ROI calculation.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RoiError {
    /// A role that received items has no hourly cost.
    #[error(
        "role {role:?} received items but has no cost; add `{role} = <cost per hour>` under [cost_per_hour]"
    )]
    MissingCost {
        /// The role.
        role: String,
    },
    /// A category that was routed has no minutes per item.
    #[error(
        "category {category} was routed but has no minutes; add `{category} = <minutes>` under [minutes_per_item]"
    )]
    MissingMinutes {
        /// The category.
        category: Category,
    },
    /// A cost or minute figure is negative or not a number.
    #[error("{what} is {value}; use a number of zero or more")]
    InvalidInput {
        /// Which input.
        what: String,
        /// The rejected value.
        value: f64,
    },
}

/// One category's part of the result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoiCategory {
    /// The category.
    pub category: Category,
    /// Baseline share of items routed to clinician roles.
    pub baseline_share: Option<f64>,
    /// Pilot share of items routed to clinician roles.
    pub pilot_share: Option<f64>,
    /// Items routed in the pilot.
    pub pilot_items: usize,
    /// Items moved off clinicians at pilot volume.
    pub items_moved: f64,
    /// Clinician minutes moved.
    pub minutes_moved: f64,
    /// Hourly cost of the clinician roles for this category.
    pub clinician_rate: Option<f64>,
    /// Hourly cost of the other roles for this category.
    pub staff_rate: Option<f64>,
    /// The arithmetic of this category, with its numbers.
    pub formula: String,
}

/// One result line with the formula that produced it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoiLine {
    /// The quantity the line measures.
    pub label: String,
    /// The value; `None` when it cannot be computed.
    pub value: Option<f64>,
    /// Unit: `items`, `minutes`, `minutes per clinic day` or the currency.
    pub unit: String,
    /// The formula with the numbers filled in.
    pub formula: String,
}

/// The ROI of a pilot against its baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Roi {
    /// Per-category arithmetic.
    pub categories: Vec<RoiCategory>,
    /// Totals, each with its formula.
    pub lines: Vec<RoiLine>,
}

/// Computes the clinician minutes and cost moved from `baseline` to `pilot`.
///
/// # Errors
///
/// [`RoiError`] when a routed role has no cost, a routed category has no
/// minutes, or an input is negative.
pub fn roi(baseline: &KpiReport, pilot: &KpiReport, inputs: &RoiInputs) -> Result<Roi, RoiError> {
    validate(inputs, &baseline.routing, &pilot.routing)?;

    let categories: BTreeSet<Category> = baseline
        .routing
        .iter()
        .chain(&pilot.routing)
        .map(|r| r.category)
        .collect();
    let rows: Vec<RoiCategory> = categories
        .into_iter()
        .map(|category| category_roi(category, baseline, pilot, inputs))
        .collect();

    let lines = total_lines(&rows, pilot.clinic_days, &inputs.currency);
    Ok(Roi {
        categories: rows,
        lines,
    })
}

fn validate(
    inputs: &RoiInputs,
    baseline: &[RoutingCount],
    pilot: &[RoutingCount],
) -> Result<(), RoiError> {
    let figures = inputs
        .cost_per_hour
        .iter()
        .map(|(role, v)| (format!("cost_per_hour.{role}"), *v))
        .chain(
            inputs
                .minutes_per_item
                .iter()
                .map(|(category, v)| (format!("minutes_per_item.{category}"), *v)),
        );
    for (what, value) in figures {
        if !(value >= 0.0 && value.is_finite()) {
            return Err(RoiError::InvalidInput { what, value });
        }
    }

    for count in baseline.iter().chain(pilot) {
        if !inputs.cost_per_hour.contains_key(&count.role) {
            return Err(RoiError::MissingCost {
                role: count.role.clone(),
            });
        }
        if !inputs.minutes_per_item.contains_key(&count.category) {
            return Err(RoiError::MissingMinutes {
                category: count.category,
            });
        }
    }
    Ok(())
}

fn category_roi(
    category: Category,
    baseline: &KpiReport,
    pilot: &KpiReport,
    inputs: &RoiInputs,
) -> RoiCategory {
    let (baseline_clinician, baseline_total) = clinician_counts(&baseline.routing, category);
    let (pilot_clinician, pilot_total) = clinician_counts(&pilot.routing, category);
    let baseline_share = share(baseline_clinician, baseline_total);
    let pilot_share = share(pilot_clinician, pilot_total);

    let items_moved = match (baseline_share, pilot_share) {
        (Some(before), Some(after)) => (before - after) * pilot_total as f64,
        _ => 0.0,
    };
    let minutes_per_item = inputs
        .minutes_per_item
        .get(&category)
        .copied()
        .unwrap_or(0.0);
    let minutes_moved = items_moved * minutes_per_item;

    let both: Vec<&RoutingCount> = baseline
        .routing
        .iter()
        .chain(&pilot.routing)
        .filter(|r| r.category == category)
        .collect();
    let clinician_rate = weighted_rate(both.iter().filter(|r| r.clinician_role).copied(), inputs);
    let staff_rate = weighted_rate(both.iter().filter(|r| !r.clinician_role).copied(), inputs);

    let formula = match (baseline_share, pilot_share) {
        (Some(before), Some(after)) => format!(
            "{category}: ({before:.3} − {after:.3}) × {pilot_total} items × {minutes_per_item} min = {minutes_moved:.1} min"
        ),
        _ => format!("{category}: routed in only one period, so nothing is compared (0 min)"),
    };

    RoiCategory {
        category,
        baseline_share,
        pilot_share,
        pilot_items: pilot_total,
        items_moved,
        minutes_moved,
        clinician_rate,
        staff_rate,
        formula,
    }
}

/// Items of `category` routed to clinician roles, and all items of it.
fn clinician_counts(routing: &[RoutingCount], category: Category) -> (usize, usize) {
    let of_category = routing.iter().filter(|r| r.category == category);
    let (mut clinician, mut total) = (0, 0);
    for count in of_category {
        total += count.items;
        if count.clinician_role {
            clinician += count.items;
        }
    }
    (clinician, total)
}

fn share(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Computes the hourly cost of `counts`' roles weighted by their item
/// counts.
fn weighted_rate<'r>(
    counts: impl Iterator<Item = &'r RoutingCount>,
    inputs: &RoiInputs,
) -> Option<f64> {
    let (mut cost, mut items) = (0.0, 0usize);
    for count in counts {
        let rate = inputs
            .cost_per_hour
            .get(&count.role)
            .copied()
            .unwrap_or(0.0);
        cost += rate * count.items as f64;
        items += count.items;
    }
    (items > 0).then(|| cost / items as f64)
}

fn total_lines(rows: &[RoiCategory], clinic_days: usize, currency: &str) -> Vec<RoiLine> {
    let items: f64 = rows.iter().map(|r| r.items_moved).sum();
    let minutes: f64 = rows.iter().map(|r| r.minutes_moved).sum();
    let clinician_cost: f64 = rows
        .iter()
        .map(|r| r.minutes_moved / 60.0 * r.clinician_rate.unwrap_or(0.0))
        .sum();
    let staff_cost: f64 = rows
        .iter()
        .map(|r| r.minutes_moved / 60.0 * r.staff_rate.unwrap_or(0.0))
        .sum();
    let per_day = (clinic_days > 0).then(|| minutes / clinic_days as f64);

    let cost_terms = |rate: fn(&RoiCategory) -> Option<f64>| {
        let terms: Vec<String> = rows
            .iter()
            .filter(|r| r.minutes_moved != 0.0)
            .map(|r| {
                format!(
                    "{:.1}/60 × {currency}{:.2}",
                    r.minutes_moved,
                    rate(r).unwrap_or(0.0)
                )
            })
            .collect();
        if terms.is_empty() {
            "0".to_string()
        } else {
            terms.join(" + ")
        }
    };

    vec![
        RoiLine {
            label: "Items moved off clinicians".to_string(),
            value: Some(items),
            unit: "items".to_string(),
            formula:
                "Σ over categories (baseline clinician share − pilot clinician share) × pilot items"
                    .to_string(),
        },
        RoiLine {
            label: "Clinician minutes moved".to_string(),
            value: Some(minutes),
            unit: "minutes".to_string(),
            formula: "Σ over categories items moved × minutes per item".to_string(),
        },
        RoiLine {
            label: "Clinician minutes moved per clinic day".to_string(),
            value: per_day,
            unit: "minutes per clinic day".to_string(),
            formula: format!("{minutes:.1} min / {clinic_days} pilot clinic days"),
        },
        RoiLine {
            label: "Clinician cost moved".to_string(),
            value: Some(clinician_cost),
            unit: currency.to_string(),
            formula: format!(
                "Σ minutes moved / 60 × clinician rate = {}",
                cost_terms(|r| r.clinician_rate)
            ),
        },
        RoiLine {
            label: "Staff cost added".to_string(),
            value: Some(staff_cost),
            unit: currency.to_string(),
            formula: format!(
                "Σ minutes moved / 60 × staff rate = {}",
                cost_terms(|r| r.staff_rate)
            ),
        },
        RoiLine {
            label: "Net value of time moved".to_string(),
            value: Some(clinician_cost - staff_cost),
            unit: currency.to_string(),
            formula: format!(
                "clinician cost moved − staff cost added = {currency}{clinician_cost:.2} − {currency}{staff_cost:.2}"
            ),
        },
    ]
}
