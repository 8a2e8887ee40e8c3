//! Determinism, and the default practice against published figures.

use std::collections::BTreeMap;

use switchboard_sdk::{Category, RouteError, Site, WorkItem};

use super::date;
use crate::local::local_moment;
use crate::sim::*;

fn to_ma(_: &Site, _: &WorkItem) -> Result<Owner, RouteError> {
    Ok(Owner::new("ma", None))
}

#[test]
fn same_seed_gives_same_output() {
    let config = PracticeConfig::default();

    let first = run(&config, 5, 42, &mut PhysicianDefault).unwrap();
    let second = run(&config, 5, 42, &mut PhysicianDefault).unwrap();
    let other = run(&config, 5, 43, &mut PhysicianDefault).unwrap();

    assert_eq!(first, second);
    assert_eq!(fhir::feed(&first.sites[0]), fhir::feed(&second.sites[0]));
    assert_eq!(hl7::feed(&first.sites[0]), hl7::feed(&second.sites[0]));
    assert_ne!(first.sites[0].items, other.sites[0].items);
}

#[test]
fn generation_ignores_routing() {
    let config = PracticeConfig::default();

    let baseline = run(&config, 3, 9, &mut PhysicianDefault).unwrap();
    let routed = run(&config, 3, 9, &mut to_ma).unwrap();

    assert_eq!(baseline.sites[0].items, routed.sites[0].items);
    assert_eq!(baseline.sites[0].encounters, routed.sites[0].encounters);
}

/// Clinician-days of in-basket volume: each clinician's volume scale
/// times the site's clinic days.
fn clinician_days(config: &PracticeConfig, clinic_days: usize) -> f64 {
    config
        .sites
        .iter()
        .flat_map(|s| &s.people)
        .filter(|p| config.is_clinician_role(&p.role))
        .map(|p| p.volume_scale * clinic_days as f64)
        .sum()
}

#[test]
fn default_volumes_match_published_ranges() {
    // Four weeks from Monday 2026-03-02: 20 clinic days at every site.
    let config = PracticeConfig::default();
    let output = run(&config, 28, 2026, &mut PhysicianDefault).unwrap();
    let days = clinician_days(&config, 20);

    let mut per_category: BTreeMap<Category, usize> = BTreeMap::new();
    for item in output.sites.iter().flat_map(|s| &s.items) {
        *per_category.entry(item.item.category).or_default() += 1;
    }
    let total: usize = per_category.values().sum();
    let notes: usize = output.sites.iter().map(|s| s.encounters.len()).sum();
    let share = |c: Category| per_category[&c] as f64 / total as f64;

    // Murphy 2016: 76.9 notifications per PCP per day. The in-basket here
    // is 72 items a day plus the notes left open past the visit day.
    let per_day = total as f64 / days;
    assert!(
        (65.0..=80.0).contains(&per_day),
        "in-basket items per clinician-day {per_day}"
    );
    // Results 20-30 %, messages 15-25 %, refills 15-20 % of the in-basket.
    assert!(
        (0.20..=0.30).contains(&share(Category::Result)),
        "results {}",
        share(Category::Result)
    );
    assert!(
        (0.15..=0.25).contains(&share(Category::Message)),
        "messages {}",
        share(Category::Message)
    );
    assert!(
        (0.15..=0.20).contains(&share(Category::Refill)),
        "refills {}",
        share(Category::Refill)
    );
    // About 18 visits per physician per day (Baron 2010), less no-shows.
    let visits = notes as f64 / days;
    assert!(
        (15.0..=19.0).contains(&visits),
        "visits per clinician-day {visits}"
    );
}

#[test]
fn default_physician_time_matches_published_figures() {
    let config = PracticeConfig::default();
    let output = run(&config, 28, 2026, &mut PhysicianDefault).unwrap();

    // Clinician queue minutes (inbox plus notes) and their after-hours
    // part, over all clinician working days.
    let (mut inside, mut outside, mut worked) = (0.0, 0.0, 0usize);
    for day in output.sites.iter().flat_map(|s| &s.outcome.days) {
        if config.is_clinician_role(&day.role) {
            inside += day.in_hours_minutes;
            outside += day.after_hours_minutes;
            worked += 1;
        }
    }
    let after_hours_share = outside / (inside + outside);
    // Akbar 2021: 37 % of inbox time falls outside work hours. The model
    // is calibrated to land near it; 25-45 % leaves room for the notes,
    // which the study did not count.
    assert!(
        (0.25..=0.45).contains(&after_hours_share),
        "after-hours share {after_hours_share}"
    );
    let per_day = (inside + outside) / worked as f64;
    // About 52 inbox minutes (Akbar 2021) and 6 minutes for each of about
    // 17 notes: roughly 150 minutes a working day.
    assert!(
        (120.0..=180.0).contains(&per_day),
        "clinician queue minutes per day {per_day}"
    );
}

#[test]
fn default_same_day_closure_is_in_published_range() {
    let config = PracticeConfig::default();
    let output = run(&config, 28, 2026, &mut PhysicianDefault).unwrap();

    let (mut same_day, mut charts) = (0usize, 0usize);
    for site in &output.sites {
        let facts = site.facts();
        for (i, encounter) in site.encounters.iter().enumerate() {
            charts += 1;
            let visit = local_moment(facts.zone, encounter.end).date;
            if site.outcome.signed[i].is_some_and(|s| local_moment(facts.zone, s).date == visit) {
                same_day += 1;
            }
        }
    }

    // The suggested closure model: 60-75 % of notes closed the same day.
    let share = same_day as f64 / charts as f64;
    assert!((0.60..=0.75).contains(&share), "same-day closure {share}");
}

#[test]
fn appointments_follow_local_hours_over_dst() {
    // Friday 2026-03-06 is on CST and Monday 03-09 on CDT: 08:00 local is
    // 14:00Z before the change and 13:00Z after it.
    let mut config = PracticeConfig {
        start_date: date(2026, 3, 6),
        ..PracticeConfig::default()
    };
    config.sites.truncate(1);

    let output = run(&config, 4, 5, &mut PhysicianDefault).unwrap();

    let site = &output.sites[0];
    let zone = site.facts().zone;
    let lee: Vec<&SimAppointment> = site
        .appointments
        .iter()
        .filter(|a| a.clinician == "dr-lee")
        .collect();
    assert!(!lee.is_empty());
    for appointment in lee {
        let local = local_moment(zone, appointment.start);
        assert!(
            (480..1020).contains(&local.minute),
            "{} starts at local minute {}",
            appointment.id,
            local.minute
        );
        assert_eq!((local.minute - 480) % 20, 0, "slots start every 20 minutes");
    }
}
