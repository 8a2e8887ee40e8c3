//! Simulates the default practice twice on the same arrivals, once with
//! every item routed to a clinician and once with a simple team routing,
//! and prints the baseline-versus-pilot table of each site.
//!
//! Run with `cargo run -p switchboard-sim --release --example compare -- [DAYS] [SEED]`.

use switchboard_sdk::{Category, ResultFlag, RouteError, Site, WorkItem};
use switchboard_sim::metrics::{ReportOptions, compare, report};
use switchboard_sim::render::comparison_table;
use switchboard_sim::sim::{Assign, Owner, PhysicianDefault, PracticeConfig, generate, simulate};

/// Routes refills to the pod's MA, normal results and messages to the RN
/// pool, referrals to the coordinator, prior authorizations to billing,
/// and forms and notices to the front desk. Abnormal and critical results
/// stay with the clinician.
fn team_routing(site: &Site, item: &WorkItem) -> Result<Owner, RouteError> {
    let role = match (item.category, item.flag) {
        (Category::Refill, _) => "ma",
        (Category::Result, ResultFlag::Normal) | (Category::Message, _) => "rn",
        (Category::Result, _) => return PhysicianDefault.assign(site, item),
        (Category::Referral, _) => "referral-coordinator",
        (Category::PriorAuth, _) => "billing",
        _ => "front-desk",
    };
    Ok(Owner::new(role, None))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let days: u32 = args.next().map_or(Ok(28), |a| a.parse())?;
    let seed: u64 = args.next().map_or(Ok(7), |a| a.parse())?;
    let config = PracticeConfig::default();

    let started = std::time::Instant::now();
    let generated = generate(&config, days, seed)?;
    let baseline = simulate(&config, &generated, &mut PhysicianDefault)?;
    let pilot = simulate(&config, &generated, &mut team_routing)?;
    eprintln!("generated and simulated twice in {:?}", started.elapsed());

    for (before, after) in baseline.sites.iter().zip(&pilot.sites) {
        let options = ReportOptions {
            pod: None,
            as_of: Some(before.as_of),
        };
        // Skip the warm-up, when backlogs are still building from zero.
        let range = baseline.steady.unwrap_or(baseline.range);
        let comparison = compare(
            report(&before.metrics(), range, &options),
            report(&after.metrics(), range, &options),
        );
        println!("{}", comparison_table(&comparison));
        println!("{:?}\n{:?}\n", before.summary(), after.summary());
    }
    Ok(())
}
