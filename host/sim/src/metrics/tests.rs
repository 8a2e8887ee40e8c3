//! KPI tests on small hand-made record sets. Each expected value is worked
//! out in the comment beside it.

use chrono::NaiveDate;
use switchboard_sdk::site::parse_shifts;
use switchboard_sdk::{Category, Timestamp};

use super::*;
use crate::local::DateRange;

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn facts(clinic_hours: &str) -> SiteFacts {
    let hours = parse_shifts(&[clinic_hours.to_string()]).unwrap();
    SiteFacts::new("north", "America/Chicago", 18 * 60, hours).unwrap()
}

fn chart(encounter: &str, clinician: &str, ended: &str, signed: Option<&str>) -> ChartRecord {
    ChartRecord {
        encounter: encounter.to_string(),
        clinician: clinician.to_string(),
        pod: Some("blue".to_string()),
        visit_ended: at(ended),
        signed: signed.map(at),
    }
}

fn item(
    id: &str,
    role: &str,
    routed: &str,
    due: Option<&str>,
    completed: Option<&str>,
) -> RoutedItemRecord {
    RoutedItemRecord {
        item: id.to_string(),
        category: Category::Refill,
        role: role.to_string(),
        clinician_role: role == "physician",
        person: None,
        pod: Some("blue".to_string()),
        created: at(routed),
        routed: at(routed),
        completed: completed.map(at),
        due: due.map(at),
    }
}

fn input(facts: SiteFacts, charts: Vec<ChartRecord>, items: Vec<RoutedItemRecord>) -> MetricsInput {
    MetricsInput {
        facts,
        charts,
        claims: Vec::new(),
        items,
    }
}

fn day_report(input: &MetricsInput, day: NaiveDate) -> KpiReport {
    report(input, DateRange::day(day), &ReportOptions::default())
}

#[test]
fn open_charts_counted_at_spring_forward_close() {
    // On 2026-03-08 Chicago is on CDT (UTC-5): 18:00 local closes at 23:00Z.
    // c1 ended 21:00Z, unsigned: open.
    // c2 ended 21:00Z, signed 23:30Z (after close): open.
    // c3 ended 21:00Z, signed 22:59Z (before close): closed.
    // Count 2. Closing at 00:00Z (the CST offset) would count only c1.
    let charts = vec![
        chart("c1", "dr-a", "2026-03-08T21:00:00Z", None),
        chart(
            "c2",
            "dr-a",
            "2026-03-08T21:00:00Z",
            Some("2026-03-08T23:30:00Z"),
        ),
        chart(
            "c3",
            "dr-a",
            "2026-03-08T21:00:00Z",
            Some("2026-03-08T22:59:00Z"),
        ),
    ];
    let data = input(facts("mon-sun 08:00-17:00"), charts, Vec::new());

    let report = day_report(&data, date(2026, 3, 8));

    assert_eq!(
        report.stat(Kpi::OpenChartsEndOfDay),
        Stat::new(Some(2.0), 1)
    );
    assert_eq!(report.counted_at, Some(at("2026-03-08T23:00:00Z")));
}

#[test]
fn visit_after_spring_close_is_not_counted() {
    // A visit that ended 23:30Z (18:30 CDT) ended after the 23:00Z close.
    let charts = vec![chart("late", "dr-b", "2026-03-08T23:30:00Z", None)];
    let data = input(facts("mon-sun 08:00-17:00"), charts, Vec::new());

    let report = day_report(&data, date(2026, 3, 8));

    assert_eq!(
        report.stat(Kpi::OpenChartsEndOfDay),
        Stat::new(Some(0.0), 1)
    );
}

#[test]
fn open_charts_counted_at_fall_back_close() {
    // On 2026-11-01 Chicago is back on CST (UTC-6): 18:00 local closes at
    // 00:00Z on 11-02.
    // e1 ended 23:30Z (17:30 CST), unsigned: open.
    // e2 ended 23:30Z, signed 23:45Z (17:45 CST): closed.
    // e3 ended 23:30Z, signed 00:30Z (18:30 CST): open.
    // Count 2. Closing at 23:00Z (the CDT offset) would count none.
    let charts = vec![
        chart("e1", "dr-a", "2026-11-01T23:30:00Z", None),
        chart(
            "e2",
            "dr-a",
            "2026-11-01T23:30:00Z",
            Some("2026-11-01T23:45:00Z"),
        ),
        chart(
            "e3",
            "dr-a",
            "2026-11-01T23:30:00Z",
            Some("2026-11-02T00:30:00Z"),
        ),
    ];
    let data = input(facts("mon-sun 08:00-17:00"), charts, Vec::new());

    let report = day_report(&data, date(2026, 11, 1));

    assert_eq!(
        report.stat(Kpi::OpenChartsEndOfDay),
        Stat::new(Some(2.0), 1)
    );
    assert_eq!(report.counted_at, Some(at("2026-11-02T00:00:00Z")));
}

#[test]
fn open_charts_skip_days_without_clinic_hours() {
    // 2026-03-07 and 03-08 are Saturday and Sunday; only Monday 03-09 is a
    // clinic day. The chart is open at Monday's close (23:00Z), so the mean
    // over the one clinic day is 1.
    let charts = vec![chart("c1", "dr-a", "2026-03-06T21:00:00Z", None)];
    let data = input(facts("mon-fri 08:00-17:00"), charts, Vec::new());
    let range = DateRange::new(date(2026, 3, 7), date(2026, 3, 9)).unwrap();

    let report = report(&data, range, &ReportOptions::default());

    assert_eq!(
        report.stat(Kpi::OpenChartsEndOfDay),
        Stat::new(Some(1.0), 1)
    );
    assert_eq!(report.daily[0].value(Kpi::OpenChartsEndOfDay), None);
    assert!(!report.daily[1].clinic_day);
    assert_eq!(report.daily[2].value(Kpi::OpenChartsEndOfDay), Some(1.0));
}

#[test]
fn signature_after_local_midnight_belongs_to_next_day() {
    // Both visits end Monday 2026-03-09 16:00 CDT (21:00Z).
    // x is signed 23:30 CDT Monday = 04:30Z Tuesday: a Monday signature.
    // y is signed 00:30 CDT Tuesday = 05:30Z Tuesday: a Tuesday signature.
    // Bucketing by UTC date would put both on Tuesday.
    let charts = vec![
        chart(
            "x",
            "dr-a",
            "2026-03-09T21:00:00Z",
            Some("2026-03-10T04:30:00Z"),
        ),
        chart(
            "y",
            "dr-a",
            "2026-03-09T21:00:00Z",
            Some("2026-03-10T05:30:00Z"),
        ),
    ];
    let data = input(facts("mon-fri 08:00-17:00"), charts, Vec::new());
    let range = DateRange::new(date(2026, 3, 9), date(2026, 3, 10)).unwrap();

    let report = report(&data, range, &ReportOptions::default());

    let monday = &report.daily[0].values;
    let tuesday = &report.daily[1].values;
    let signing = |values: &[KpiValue]| {
        values
            .iter()
            .find(|v| v.kpi == Kpi::AfterHoursSigning)
            .unwrap()
            .stat
    };
    assert_eq!(signing(monday), Stat::new(Some(1.0), 1));
    assert_eq!(signing(tuesday), Stat::new(Some(1.0), 1));
    // Same-day closure of Monday's two visits: only x was signed Monday.
    assert_eq!(report.daily[0].value(Kpi::SameDayClosure), Some(0.5));
}

#[test]
fn after_hours_boundary_minutes() {
    // dr-a works clinic hours, Monday 08:00-17:00 CDT (13:00Z-22:00Z), end
    // exclusive. Signatures on Monday 2026-03-09:
    //   07:59 CDT = 12:59Z  after hours
    //   08:00 CDT = 13:00Z  in hours
    //   16:59 CDT = 21:59Z  in hours
    //   17:00 CDT = 22:00Z  after hours
    // dr-o has own hours mon-thu 07:00-16:00:
    //   Monday 07:30 CDT = 12:30Z     in hours (before clinic hours start)
    //   Monday 16:00 CDT = 21:00Z     after hours (end is exclusive)
    //   Friday 03-13 10:00 = 15:00Z   after hours (not a working day)
    // dr-a 2 of 4, dr-o 2 of 3, site 4 of 7.
    let ended = "2026-03-09T12:00:00Z";
    let charts = vec![
        chart("a1", "dr-a", ended, Some("2026-03-09T12:59:00Z")),
        chart("a2", "dr-a", ended, Some("2026-03-09T13:00:00Z")),
        chart("a3", "dr-a", ended, Some("2026-03-09T21:59:00Z")),
        chart("a4", "dr-a", ended, Some("2026-03-09T22:00:00Z")),
        chart("o1", "dr-o", ended, Some("2026-03-09T12:30:00Z")),
        chart("o2", "dr-o", ended, Some("2026-03-09T21:00:00Z")),
        chart("o3", "dr-o", ended, Some("2026-03-13T15:00:00Z")),
    ];
    let own_hours = parse_shifts(&["mon-thu 07:00-16:00".to_string()]).unwrap();
    let facts = facts("mon-fri 08:00-17:00").with_hours("dr-o", own_hours);
    let data = input(facts, charts, Vec::new());
    let range = DateRange::new(date(2026, 3, 9), date(2026, 3, 13)).unwrap();

    let report = report(&data, range, &ReportOptions::default());

    assert_eq!(
        report.stat(Kpi::AfterHoursSigning),
        Stat::new(Some(4.0 / 7.0), 7)
    );
    let per_clinician = report.breakdown(Kpi::AfterHoursSigning, Dimension::Clinician);
    assert_eq!(per_clinician[0].key, "dr-a");
    assert_eq!(per_clinician[0].stat, Stat::new(Some(0.5), 4));
    assert_eq!(per_clinician[1].key, "dr-o");
    assert_eq!(per_clinician[1].stat, Stat::new(Some(2.0 / 3.0), 3));
}

#[test]
fn days_to_close_median_of_even_count() {
    // Visits end Monday 2026-03-09 15:00Z; signing lags 6 h, 12 h, 24 h and
    // 72 h are 0.25, 0.5, 1.0 and 3.0 days.
    // Median (0.5 + 1.0) / 2 = 0.75; mean 4.75 / 4 = 1.1875.
    let ended = "2026-03-09T15:00:00Z";
    let charts = vec![
        chart("d1", "dr-a", ended, Some("2026-03-09T21:00:00Z")),
        chart("d2", "dr-a", ended, Some("2026-03-10T03:00:00Z")),
        chart("d3", "dr-a", ended, Some("2026-03-10T15:00:00Z")),
        chart("d4", "dr-a", ended, Some("2026-03-12T15:00:00Z")),
    ];
    let data = input(facts("mon-fri 08:00-17:00"), charts, Vec::new());
    let range = DateRange::new(date(2026, 3, 9), date(2026, 3, 13)).unwrap();

    let report = report(&data, range, &ReportOptions::default());

    assert_eq!(
        report.stat(Kpi::DaysToCloseMedian),
        Stat::new(Some(0.75), 4)
    );
    assert_eq!(
        report.stat(Kpi::DaysToCloseMean),
        Stat::new(Some(1.1875), 4)
    );
    // d1 (16:00 CDT) and d2 (22:00 CDT) were signed Monday: 2 of 4.
    assert_eq!(report.stat(Kpi::SameDayClosure), Stat::new(Some(0.5), 4));
}

#[test]
fn unsigned_charts_are_reported_separately() {
    // As of Friday 2026-03-13 18:00 CDT (23:00Z):
    //   u1 ended Monday 03-09 15:00Z: 4 days 8 h old, bucket 4-7.
    //   u2 ended Friday 03-13 15:00Z: 8 h old, bucket 0-1.
    //   s1 ended Monday and was signed Wednesday: not open.
    // Days-to-close reads only s1: 2.0 days.
    let charts = vec![
        chart("u1", "dr-a", "2026-03-09T15:00:00Z", None),
        chart("u2", "dr-b", "2026-03-13T15:00:00Z", None),
        chart(
            "s1",
            "dr-a",
            "2026-03-09T15:00:00Z",
            Some("2026-03-11T15:00:00Z"),
        ),
    ];
    let data = input(facts("mon-fri 08:00-17:00"), charts, Vec::new());
    let range = DateRange::new(date(2026, 3, 9), date(2026, 3, 13)).unwrap();

    let report = report(&data, range, &ReportOptions::default());

    assert_eq!(report.stat(Kpi::ChartsStillOpen), Stat::count(2));
    assert_eq!(report.stat(Kpi::DaysToCloseMedian), Stat::new(Some(2.0), 1));
    let total = report.open_charts.last().unwrap();
    assert_eq!(total.clinician, "all");
    assert_eq!(total.buckets, vec![1, 0, 1, 0, 0]);
    assert_eq!(report.open_charts[0].clinician, "dr-a");
    assert_eq!(report.open_charts[0].buckets, vec![0, 0, 1, 0, 0]);
}

#[test]
fn as_of_hides_later_signatures() {
    // The chart was signed Wednesday, but the report is as of Tuesday
    // 23:00Z (Tuesday's close), so the chart is still open and has no
    // days-to-close yet.
    let charts = vec![chart(
        "c",
        "dr-a",
        "2026-03-09T15:00:00Z",
        Some("2026-03-11T15:00:00Z"),
    )];
    let data = input(facts("mon-fri 08:00-17:00"), charts, Vec::new());
    let range = DateRange::new(date(2026, 3, 9), date(2026, 3, 13)).unwrap();
    let options = ReportOptions {
        pod: None,
        as_of: Some(at("2026-03-10T23:00:00Z")),
    };

    let report = report(&data, range, &options);

    assert_eq!(report.stat(Kpi::ChartsStillOpen), Stat::count(1));
    assert_eq!(report.stat(Kpi::DaysToCloseMedian), Stat::new(None, 0));
    // Only Monday's and Tuesday's closes are known: 2 clinic days.
    assert_eq!(report.clinic_days, 2);
}

#[test]
fn days_to_claim_median_and_mean() {
    // Dates of service Monday 00:00 CDT (05:00Z); submitted 1.5 and 3.5
    // days later. Median (1.5 + 3.5) / 2 = 2.5, mean 2.5.
    let mut data = input(facts("mon-fri 08:00-17:00"), Vec::new(), Vec::new());
    data.claims = vec![
        ClaimRecord {
            claim: "k1".into(),
            encounter: None,
            visit_date: at("2026-03-09T05:00:00Z"),
            submitted: at("2026-03-10T17:00:00Z"),
        },
        ClaimRecord {
            claim: "k2".into(),
            encounter: None,
            visit_date: at("2026-03-09T05:00:00Z"),
            submitted: at("2026-03-12T17:00:00Z"),
        },
    ];

    let report = day_report(&data, date(2026, 3, 9));

    assert_eq!(report.stat(Kpi::DaysToClaimMedian), Stat::new(Some(2.5), 2));
    assert_eq!(report.stat(Kpi::DaysToClaimMean), Stat::new(Some(2.5), 2));
}

#[test]
fn inbox_share_and_overdue_items() {
    // Monday 2026-03-09, close 18:00 CDT = 23:00Z. Four items, three to the
    // physician role: share 3/4.
    //   i1 due 22:00Z, open:                    overdue
    //   i2 due 22:00Z, done 22:30Z:             not overdue
    //   i3 due 23:30Z, open:                    not yet due
    //   i4 due 20:00Z, done 23:30Z (after close): overdue
    let items = vec![
        item(
            "i1",
            "physician",
            "2026-03-09T14:00:00Z",
            Some("2026-03-09T22:00:00Z"),
            None,
        ),
        item(
            "i2",
            "physician",
            "2026-03-09T14:00:00Z",
            Some("2026-03-09T22:00:00Z"),
            Some("2026-03-09T22:30:00Z"),
        ),
        item(
            "i3",
            "physician",
            "2026-03-09T14:00:00Z",
            Some("2026-03-09T23:30:00Z"),
            None,
        ),
        item(
            "i4",
            "ma",
            "2026-03-09T14:00:00Z",
            Some("2026-03-09T20:00:00Z"),
            Some("2026-03-09T23:30:00Z"),
        ),
    ];
    let data = input(facts("mon-fri 08:00-17:00"), Vec::new(), items);

    let report = day_report(&data, date(2026, 3, 9));

    assert_eq!(
        report.stat(Kpi::PhysicianInboxShare),
        Stat::new(Some(0.75), 4)
    );
    assert_eq!(
        report.stat(Kpi::OverdueItemsEndOfDay),
        Stat::new(Some(2.0), 1)
    );
    let by_role = report.breakdown(Kpi::OverdueItemsEndOfDay, Dimension::Role);
    assert_eq!(by_role[0].key, "ma");
    assert_eq!(by_role[0].stat.value, Some(1.0));
    assert_eq!(by_role[1].key, "physician");
    assert_eq!(by_role[1].stat.value, Some(1.0));
}

#[test]
fn empty_range_reports_not_available() {
    let data = input(facts("mon-fri 08:00-17:00"), Vec::new(), Vec::new());
    let range = DateRange::new(date(2026, 3, 9), date(2026, 3, 13)).unwrap();

    let report = report(&data, range, &ReportOptions::default());

    assert_eq!(report.stat(Kpi::DaysToCloseMedian).value, None);
    assert_eq!(report.stat(Kpi::DaysToClaimMean).value, None);
    assert_eq!(report.stat(Kpi::PhysicianInboxShare).value, None);
    assert_eq!(report.stat(Kpi::AfterHoursSigning).value, None);
    assert_eq!(report.stat(Kpi::SameDayClosure).value, None);
    assert_eq!(report.stat(Kpi::ChartsStillOpen), Stat::count(0));
    assert_eq!(
        report.stat(Kpi::OpenChartsEndOfDay),
        Stat::new(Some(0.0), 5)
    );
}

#[test]
fn weekend_range_lacks_closing_counts() {
    // Saturday and Sunday have no clinic hours, so there is no closing count
    // to average.
    let data = input(facts("mon-fri 08:00-17:00"), Vec::new(), Vec::new());
    let range = DateRange::new(date(2026, 3, 7), date(2026, 3, 8)).unwrap();

    let report = report(&data, range, &ReportOptions::default());

    assert_eq!(report.stat(Kpi::OpenChartsEndOfDay), Stat::new(None, 0));
    assert_eq!(report.stat(Kpi::OverdueItemsEndOfDay), Stat::new(None, 0));
}

#[test]
fn pod_option_limits_every_record() {
    let mut green = chart("g", "dr-g", "2026-03-09T15:00:00Z", None);
    green.pod = Some("green".into());
    let charts = vec![chart("b", "dr-a", "2026-03-09T15:00:00Z", None), green];
    let data = input(facts("mon-fri 08:00-17:00"), charts, Vec::new());
    let options = ReportOptions {
        pod: Some("green".into()),
        as_of: None,
    };

    let report = report(&data, DateRange::day(date(2026, 3, 9)), &options);

    assert_eq!(report.stat(Kpi::ChartsStillOpen), Stat::count(1));
    assert_eq!(report.open_charts[0].clinician, "dr-g");
}

#[test]
fn comparison_judges_each_direction() {
    // Baseline Monday: one chart signed after 2 days. Pilot Tuesday: one
    // chart signed after 0.5 days. (0.5 − 2.0) / 2.0 = −75 %, better.
    let charts = vec![
        chart(
            "b",
            "dr-a",
            "2026-03-09T15:00:00Z",
            Some("2026-03-11T15:00:00Z"),
        ),
        chart(
            "p",
            "dr-a",
            "2026-03-10T15:00:00Z",
            Some("2026-03-11T03:00:00Z"),
        ),
    ];
    let data = input(facts("mon-fri 08:00-17:00"), charts, Vec::new());
    let baseline = day_report(&data, date(2026, 3, 9));
    let pilot = day_report(&data, date(2026, 3, 10));

    let comparison = compare(baseline, pilot);

    let row = comparison.row(Kpi::DaysToCloseMedian).unwrap();
    assert_eq!(row.change_percent, Some(-75.0));
    assert_eq!(row.verdict, Verdict::Better);
    let by_clinician = comparison
        .breakdowns
        .iter()
        .find(|r| {
            r.kpi == Kpi::DaysToCloseMedian && r.part == Some((Dimension::Clinician, "dr-a".into()))
        })
        .unwrap();
    assert_eq!(by_clinician.verdict, Verdict::Better);
}

fn routing_report(routing: Vec<RoutingCount>, clinic_days: usize) -> KpiReport {
    KpiReport {
        site: "north".into(),
        range: DateRange::day(date(2026, 3, 9)),
        pod: None,
        clinic_days,
        counted_at: None,
        values: Vec::new(),
        breakdowns: Vec::new(),
        daily: Vec::new(),
        open_charts: Vec::new(),
        routing,
    }
}

fn routed(category: Category, role: &str, items: usize) -> RoutingCount {
    RoutingCount {
        category,
        role: role.to_string(),
        clinician_role: role == "physician",
        items,
    }
}

fn roi_inputs() -> RoiInputs {
    RoiInputs {
        cost_per_hour: [("physician", 150.0), ("ma", 30.0), ("rn", 60.0)]
            .into_iter()
            .map(|(r, c)| (r.to_string(), c))
            .collect(),
        minutes_per_item: [(Category::Refill, 1.0), (Category::Result, 2.0)]
            .into_iter()
            .collect(),
        currency: "$".into(),
    }
}

#[test]
fn roi_moves_minutes_and_cost() {
    // Baseline: refills 100/100 and results 50/50 to the physician.
    // Pilot: refills 12 of 120 to the physician (108 to the MA), results 30
    // of 60 (30 to the RN), over 3 clinic days.
    // refill: (1.0 − 0.1) × 120 = 108 items × 1 min = 108 min
    // result: (1.0 − 0.5) × 60 = 30 items × 2 min = 60 min; total 168 min
    // per clinic day: 168 / 3 = 56 min
    // clinician cost: 108/60 × 150 + 60/60 × 150 = 270 + 150 = 420
    // staff cost: 108/60 × 30 + 60/60 × 60 = 54 + 60 = 114; net 306
    let baseline = routing_report(
        vec![
            routed(Category::Refill, "physician", 100),
            routed(Category::Result, "physician", 50),
        ],
        3,
    );
    let pilot = routing_report(
        vec![
            routed(Category::Refill, "physician", 12),
            routed(Category::Refill, "ma", 108),
            routed(Category::Result, "physician", 30),
            routed(Category::Result, "rn", 30),
        ],
        3,
    );

    let result = roi(&baseline, &pilot, &roi_inputs()).unwrap();

    let value = |label: &str| {
        result
            .lines
            .iter()
            .find(|l| l.label == label)
            .unwrap()
            .value
            .unwrap()
    };
    assert!((value("Items moved off clinicians") - 138.0).abs() < 1e-9);
    assert!((value("Clinician minutes moved") - 168.0).abs() < 1e-9);
    assert!((value("Clinician minutes moved per clinic day") - 56.0).abs() < 1e-9);
    assert!((value("Clinician cost moved") - 420.0).abs() < 1e-9);
    assert!((value("Staff cost added") - 114.0).abs() < 1e-9);
    assert!((value("Net value of time moved") - 306.0).abs() < 1e-9);
    assert!(
        result.categories[0]
            .formula
            .contains("(1.000 − 0.100) × 120 items"),
        "{}",
        result.categories[0].formula
    );
}

#[test]
fn roi_names_role_without_cost() {
    let baseline = routing_report(vec![routed(Category::Refill, "physician", 10)], 1);
    let pilot = routing_report(vec![routed(Category::Refill, "pharmacist", 10)], 1);

    let error = roi(&baseline, &pilot, &roi_inputs()).unwrap_err();

    assert_eq!(
        error,
        RoiError::MissingCost {
            role: "pharmacist".into()
        }
    );
}

#[test]
fn roi_per_day_needs_clinic_days() {
    let baseline = routing_report(vec![routed(Category::Refill, "physician", 10)], 0);
    let pilot = routing_report(vec![routed(Category::Refill, "ma", 10)], 0);

    let result = roi(&baseline, &pilot, &roi_inputs()).unwrap();

    let per_day = result
        .lines
        .iter()
        .find(|l| l.unit == "minutes per clinic day")
        .unwrap();
    assert_eq!(per_day.value, None);
}
