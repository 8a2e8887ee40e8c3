//! A two-day scenario small enough to compute by hand, run under the
//! physician default and under routing to an MA.

use std::collections::BTreeMap;

use switchboard_sdk::{Category, RouteError, Site, Timestamp, WorkItem};

use super::{at, date};
use crate::local::DateRange;
use crate::metrics::{Kpi, ReportOptions, report};
use crate::sim::*;

/// Builds a practice of one physician and one MA in UTC, Monday 2026-03-09 and Tuesday 03-10,
/// clinic 08:00-17:00 (540 minutes).
///
/// - Physician: 60 queue minutes in hours (each work minute takes 540/60 =
///   9 wall minutes), 30 after hours from 20:00. A refill takes 5 minutes,
///   a note 10, a co-signature of a refill 1.
/// - MA: 90 minutes in hours (540/90 = 6 wall minutes per minute); a
///   refill takes 10.
/// - Monday: 8 refills arrive at 08:00; 6 visits end at 09:00, 09:30,
///   10:00, 10:30, 11:00 and 11:30, each closed as soon as time allows.
fn scenario_config() -> PracticeConfig {
    let mut config = PracticeConfig {
        start_date: date(2026, 3, 9),
        after_hours_start: "20:00".into(),
        ..PracticeConfig::default()
    };
    config.signing.note_minutes = 10.0;
    config.claims = ClaimLag {
        min_clinic_days: 1,
        max_clinic_days: 1,
    };
    config.roles = BTreeMap::from([
        (
            "physician".to_string(),
            RoleConfig {
                clinician: true,
                capacity_minutes: 60.0,
                after_hours_minutes: 30.0,
                default_minutes: 1.0,
            },
        ),
        (
            "ma".to_string(),
            RoleConfig {
                clinician: false,
                capacity_minutes: 90.0,
                after_hours_minutes: 0.0,
                default_minutes: 5.0,
            },
        ),
    ]);
    config.minutes = BTreeMap::from([(
        WorkKind::Refill,
        BTreeMap::from([("physician".to_string(), 5.0), ("ma".to_string(), 10.0)]),
    )]);
    config.cosign = BTreeMap::from([(WorkKind::Refill, 1.0)]);
    config.due_hours = BTreeMap::from([(WorkKind::Refill, 48.0)]);
    config.sites = vec![SiteConfig {
        id: "solo".into(),
        name: None,
        time_zone: "UTC".into(),
        clinic_hours: vec!["mon-fri 08:00-17:00".into()],
        closing_time: "18:00".into(),
        people: vec![
            PersonConfig::new("dr-a", "physician", None),
            PersonConfig::new("ma-b", "ma", None),
        ],
    }];
    config
}

fn scenario_generated(config: &PracticeConfig) -> Generated {
    let refills = (1..=8)
        .map(|n| {
            let mut item = WorkItem::new(
                format!("MedicationRequest/rx-{n}"),
                1,
                Category::Refill,
                "Refill",
                at("2026-03-09T08:00:00Z"),
            );
            item.patient = Some(format!("Patient/sim-solo-{n}"));
            item.pcp = Some("Practitioner/dr-a".into());
            item.ordering = Some("Practitioner/dr-a".into());
            SimItem {
                item,
                kind: WorkKind::Refill,
                resource_id: format!("rx-{n}"),
                pod: None,
                pcp: "dr-a".into(),
                ordering: Some("dr-a".into()),
                detail: ItemDetail::Refill {
                    medication: "Lisinopril 10 mg oral tablet",
                    prior_id: format!("rx-{n}-prior"),
                },
            }
        })
        .collect();
    let ends = ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"];
    let encounters = ends
        .iter()
        .enumerate()
        .map(|(n, end)| SimEncounter {
            id: format!("enc-{}", n + 1),
            appointment: format!("apt-{}", n + 1),
            patient: format!("Patient/sim-solo-{}", 100 + n),
            clinician: "dr-a".into(),
            pod: None,
            start: at(&format!("2026-03-09T{end}:00Z")).plus_minutes(-20),
            end: at(&format!("2026-03-09T{end}:00Z")),
            visit_text: "Routine visit",
            habit: ClosureHabit::SameDay,
            claim_clinic_days: 1,
            claim_time_fraction: 0.0,
        })
        .collect();
    Generated {
        seed: 0,
        start: config.start_date,
        days: 2,
        sites: vec![GeneratedSite {
            site: config.sites[0].clone(),
            appointments: Vec::new(),
            encounters,
            items: refills,
        }],
    }
}

fn to_ma(_: &Site, _: &WorkItem) -> Result<Owner, RouteError> {
    Ok(Owner::new("ma", None))
}

#[test]
fn scenario_physician_default_signs_late() {
    // The physician works the 8 refills first (5 min × 9 = 45 wall minutes
    // each): done 08:45, 09:30, ..., 14:00, 40 of 60 minutes used.
    // Notes with the 20 minutes left: enc-1 14:00 + 90 = 15:30; enc-2
    // ends as the window closes at 17:00 and is stamped 16:59:59.
    // Evening from 20:00, 30 minutes: enc-3 20:10, enc-4 20:20, enc-5 20:30.
    // enc-6 carries to Tuesday: 08:00 + 90 = 09:30.
    let config = scenario_config();
    let generated = scenario_generated(&config);

    let output = simulate(&config, &generated, &mut PhysicianDefault).unwrap();

    let site = &output.sites[0];
    let signed: Vec<Option<Timestamp>> = site.outcome.signed.clone();
    assert_eq!(
        signed,
        vec![
            Some(at("2026-03-09T15:30:00Z")),
            Some(at("2026-03-09T16:59:59Z")),
            Some(at("2026-03-09T20:10:00Z")),
            Some(at("2026-03-09T20:20:00Z")),
            Some(at("2026-03-09T20:30:00Z")),
            Some(at("2026-03-10T09:30:00Z")),
        ]
    );
    assert_eq!(site.outcome.completed[0], Some(at("2026-03-09T08:45:00Z")));
    assert_eq!(site.outcome.completed[7], Some(at("2026-03-09T14:00:00Z")));
    assert_eq!(site.outcome.owners[0].person, "dr-a");
    assert!(site.outcome.cosigns.is_empty());
}

#[test]
fn scenario_routing_to_ma_signs_sooner() {
    // The MA does the refills (10 min × 6 = 60 wall minutes each): done
    // 09:00, 10:00, ..., 16:00, each leaving a 1-minute co-signature.
    // The physician (9 wall minutes per minute), co-signatures first:
    //   09:00 cosign 1 → 09:09; enc-1 → 10:39; cosign 2 → 10:48;
    //   enc-2 → 12:18; cosigns 3, 4 → 12:27, 12:36; enc-3 → 14:06;
    //   cosigns 5, 6 → 14:15, 14:24; enc-4 → 15:54; cosigns 7, 8 → 16:03,
    //   16:12; enc-5 gets 48/9 = 5 1/3 minutes before 17:00.
    // Evening: enc-5's last 4 2/3 minutes → 20:04:40; enc-6 → 20:14:40.
    let config = scenario_config();
    let generated = scenario_generated(&config);

    let output = simulate(&config, &generated, &mut to_ma).unwrap();

    let site = &output.sites[0];
    assert_eq!(
        site.outcome.signed,
        vec![
            Some(at("2026-03-09T10:39:00Z")),
            Some(at("2026-03-09T12:18:00Z")),
            Some(at("2026-03-09T14:06:00Z")),
            Some(at("2026-03-09T15:54:00Z")),
            Some(at("2026-03-09T20:04:40Z")),
            Some(at("2026-03-09T20:14:40Z")),
        ]
    );
    assert_eq!(site.outcome.completed[0], Some(at("2026-03-09T09:00:00Z")));
    assert_eq!(site.outcome.completed[7], Some(at("2026-03-09T16:00:00Z")));
    assert_eq!(site.outcome.owners[0].role, "ma");
    assert_eq!(site.outcome.cosigns.len(), 8);
    assert_eq!(
        site.outcome.cosigns[7].done,
        Some(at("2026-03-09T16:12:00Z"))
    );
}

#[test]
fn scenario_kpis_compare_by_hand() {
    // Days to close (hours): physician default 6.5, 7.49972, 10.1667,
    // 9.8333, 9.5, 22.0; sorted, the middle pair 9.5 and 9.8333 gives a
    // median of 9.6667 h = 0.402778 days. Routed to the MA: 1.65, 2.8,
    // 4.1, 5.4, 9.0778, 8.7444; median (4.1 + 5.4) / 2 = 4.75 h =
    // 0.197917 days.
    // After-hours signatures: 3 of 6 (20:10, 20:20, 20:30) against 2 of 6.
    // Same-day closure: 5 of 6 against 6 of 6.
    // Claims go out at 08:00 on the next clinic day; the run ends Tuesday
    // midnight, so only Monday's signatures produce claims: 5 against 6.
    let config = scenario_config();
    let generated = scenario_generated(&config);
    let range = DateRange::new(date(2026, 3, 9), date(2026, 3, 10)).unwrap();

    let before = simulate(&config, &generated, &mut PhysicianDefault).unwrap();
    let after = simulate(&config, &generated, &mut to_ma).unwrap();

    let options = ReportOptions::default();
    let baseline = report(&before.sites[0].metrics(), range, &options);
    let pilot = report(&after.sites[0].metrics(), range, &options);
    let close = |r: &crate::metrics::KpiReport| r.stat(Kpi::DaysToCloseMedian).value.unwrap();
    assert!(
        (close(&baseline) - 9.6667 / 24.0).abs() < 1e-4,
        "{}",
        close(&baseline)
    );
    assert!(
        (close(&pilot) - 4.75 / 24.0).abs() < 1e-9,
        "{}",
        close(&pilot)
    );
    assert_eq!(baseline.stat(Kpi::AfterHoursSigning).value, Some(0.5));
    assert_eq!(pilot.stat(Kpi::AfterHoursSigning).value, Some(2.0 / 6.0));
    assert_eq!(baseline.stat(Kpi::SameDayClosure).value, Some(5.0 / 6.0));
    assert_eq!(pilot.stat(Kpi::SameDayClosure).value, Some(1.0));
    assert_eq!(before.sites[0].claim_events().len(), 5);
    assert_eq!(after.sites[0].claim_events().len(), 6);
    assert_eq!(
        after.sites[0].claim_events()[0].submitted,
        at("2026-03-10T08:00:00Z")
    );
}

#[test]
fn scenario_inbox_share_counts_notes() {
    // Physician default: 8 refills and 6 visit notes, all clinician: 100 %.
    // Routed: the 6 notes of 14 items stay with the clinician: 6/14.
    let config = scenario_config();
    let generated = scenario_generated(&config);
    let range = DateRange::new(date(2026, 3, 9), date(2026, 3, 10)).unwrap();

    let after = simulate(&config, &generated, &mut to_ma).unwrap();

    let pilot = report(&after.sites[0].metrics(), range, &ReportOptions::default());
    assert_eq!(pilot.stat(Kpi::PhysicianInboxShare).value, Some(6.0 / 14.0));
}

#[test]
fn unknown_role_is_named() {
    let config = scenario_config();
    let generated = scenario_generated(&config);
    let mut to_pharmacist = |_: &Site, _: &WorkItem| Ok(Owner::new("pharmacist", None));

    let error = simulate(&config, &generated, &mut to_pharmacist).unwrap_err();

    assert_eq!(
        error,
        SimError::UnknownRole {
            site: "solo".into(),
            role: "pharmacist".into(),
            item: "MedicationRequest/rx-1".into()
        }
    );
}

#[test]
fn routing_error_falls_back_to_clinician() {
    let config = scenario_config();
    let generated = scenario_generated(&config);
    let mut reject_all = |_: &Site, _: &WorkItem| Err(RouteError::NoMatch("no rule".into()));

    let output = simulate(&config, &generated, &mut reject_all).unwrap();

    let site = &output.sites[0];
    assert_eq!(site.summary().unrouted, 8);
    assert_eq!(site.outcome.owners[0].person, "dr-a");
    assert_eq!(
        site.outcome.owners[0].unrouted.as_deref(),
        Some("no rule matched: no rule")
    );
}

#[test]
fn pool_goes_to_least_loaded_member() {
    // Two MAs; items routed to the pool alternate because each assignment
    // adds 10 queued minutes to the member who took it.
    let mut config = scenario_config();
    config.sites[0]
        .people
        .push(PersonConfig::new("ma-c", "ma", None));
    let generated = scenario_generated(&config);

    let output = simulate(&config, &generated, &mut to_ma).unwrap();

    let people: Vec<&str> = output.sites[0]
        .outcome
        .owners
        .iter()
        .map(|o| o.person.as_str())
        .collect();
    assert_eq!(
        people,
        [
            "ma-b", "ma-c", "ma-b", "ma-c", "ma-b", "ma-c", "ma-b", "ma-c"
        ]
    );
}
