//! The clinic simulator: generates clinic days for a practice and models
//! who does the work and when, so a run with every item routed to the
//! physician can be compared with a run under a routing policy.
//!
//! [`run`] generates and simulates in one call. To compare two routings on
//! identical arrivals, [`generate`] once and [`simulate`] twice. The model
//! and its assumptions are described in the crate documentation.

mod assign;
mod catalog;
mod config;
mod defaults;
pub mod fhir;
mod generate;
pub mod hl7;
mod output;
mod random;
mod workload;

#[cfg(test)]
mod tests;

use switchboard_sdk::Site;

pub use assign::{Assign, Owner, PhysicianDefault};
pub use catalog::{Analyte, Panel};
pub use config::{
    ClaimLag, ConfigError, InboxMix, PersonConfig, PracticeConfig, ResultRates, RoleConfig,
    SigningHabits, SiteConfig, Volumes, WorkKind,
};
pub use generate::{
    ClosureHabit, Generated, GeneratedSite, ItemDetail, SimAppointment, SimEncounter, SimItem,
    SimObservation, generate, practitioner_ref,
};
pub use output::{
    Completion, DayOutput, RoleSummary, SimOutput, SiteOutput, SiteSummary, claim_ref,
    encounter_ref, last_date, roster_of,
};
pub use workload::{Cosign, ItemOwner, Outcome, WorkloadDay};

use crate::local::{DateRange, local_instant};

/// An error that stops a simulation.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SimError {
    /// The practice config is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The routing function named a person the site does not have.
    #[error(
        "site {site:?}: routing named person {person:?} for item {item:?}, who is not on the site's staff; add the person to the site's people or fix the routing"
    )]
    UnknownPerson {
        /// Site id.
        site: String,
        /// The person named.
        person: String,
        /// The item's external id.
        item: String,
    },
    /// The routing function chose a role that no one at the site has.
    #[error(
        "site {site:?}: routing chose role {role:?} for item {item:?}, but nobody at the site holds it; add staff with that role or fix the routing"
    )]
    UnknownRole {
        /// Site id.
        site: String,
        /// The role chosen.
        role: String,
        /// The item's external id.
        item: String,
    },
    /// Output could not be rendered.
    #[error("rendering failed: {0}")]
    Render(String),
}

/// Generates `days` days of `config`'s practice with `seed` and simulates
/// them with `assign` deciding each item's owner.
///
/// # Errors
///
/// [`SimError`] for an invalid config or a routing function that names a
/// person or role the site does not have.
pub fn run(
    config: &PracticeConfig,
    days: u32,
    seed: u64,
    assign: &mut dyn Assign,
) -> Result<SimOutput, SimError> {
    let generated = generate(config, days, seed)?;
    simulate(config, &generated, assign)
}

/// Simulates generated days with `assign` deciding each item's owner.
/// `config` must be the config `generated` came from.
///
/// # Errors
///
/// As [`run`].
pub fn simulate(
    config: &PracticeConfig,
    generated: &Generated,
    assign: &mut dyn Assign,
) -> Result<SimOutput, SimError> {
    let range = DateRange {
        start: generated.start,
        end: last_date(generated.start, generated.days),
    };
    let mut sites = Vec::with_capacity(generated.sites.len());
    for site in &generated.sites {
        let roster: Site = roster_of(config, &site.site);
        let outcome = workload::simulate_site(
            config,
            site,
            &roster,
            generated.start,
            generated.days,
            assign,
        )?;
        let zone = crate::local::parse_zone(&site.site.time_zone).unwrap_or(chrono_tz::UTC);
        let as_of = local_instant(
            zone,
            range.start + chrono::Duration::days(i64::from(generated.days)),
            0,
        );
        sites.push(output::site_output(
            config,
            site.clone(),
            outcome,
            range,
            as_of,
        ));
    }
    let warm_up = chrono::Duration::days(i64::from(config.signing.tail_max_days) + 1);
    let steady = DateRange::new(range.start + warm_up, range.end).ok();
    Ok(SimOutput {
        seed: generated.seed,
        range,
        steady,
        sites,
    })
}
