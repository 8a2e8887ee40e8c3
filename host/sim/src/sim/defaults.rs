//! Default values of the practice model and where each comes from.
//!
//! Each figure is marked as one of:
//!
//! - verified: stated in the abstract or text of the cited study;
//! - derived: computed here from verified figures;
//! - unverified: reported from the cited study without rereading it;
//! - assumption: chosen for this model, with the reason.
//!
//! Sources:
//!
//! - Murphy DR et al., "The Burden of Inbox Notifications in Commercial
//!   Electronic Health Records", JAMA Intern Med 2016;176(4):559-560,
//!   <https://pmc.ncbi.nlm.nih.gov/articles/PMC4860883>. 46 primary-care
//!   physicians received 76.9 notifications per day, 15.5 (20.2 %) of them
//!   test results.
//! - Akbar F et al., "Physicians' electronic inbox work patterns and factors
//!   associated with high inbox work duration", J Am Med Inform Assoc
//!   2021;28(5):923-930, abstract at
//!   <https://plosjournal.deepdyve.com/lp/oxford-university-press/physicians-electronic-inbox-work-patterns-and-factors-associated-with-z7IqUyAcP8>.
//!   1,275 PCPs spent 52 minutes per workday on the inbox, 19 (37 %) outside
//!   work hours. Results took 29 % and patient messages 28 % of that time.
//! - Arndt BG et al., "More Tethered to the EHR: EHR Workload Trends Among
//!   Academic Primary Care Physicians, 2019-2023", Ann Fam Med
//!   2024;22(1):12-18, <https://www.annfammed.org/content/22/1/12>. Per 8
//!   hours of scheduled clinic, patient medical advice requests rose by 5.4
//!   (55.5 %) and prescription messages by 2.3 (19.5 %), which puts the
//!   2022-2023 levels near 15.1 and 14.1 (derived).
//! - Baron RJ, "What's Keeping Us So Busy in Primary Care? A Snapshot from
//!   One Practice", N Engl J Med 2010;362:1632-1636. About 18 visits per
//!   physician per day (unverified).
//! - Apathy NC et al., "Documentation dynamics: Note composition, burden,
//!   and physician efficiency", Health Serv Res 2023;58(3):674-685,
//!   <https://pubmed.ncbi.nlm.nih.gov/36342001/>. Physicians in the top
//!   decile of note length close 5.6 percentage points fewer visits the same
//!   day than the median physician.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::config::{
    ClaimLag, InboxMix, PersonConfig, PracticeConfig, ResultRates, RoleConfig, SigningHabits,
    SiteConfig, Volumes, WorkKind,
};

impl Default for PracticeConfig {
    fn default() -> Self {
        PracticeConfig {
            // Assumption: a Monday, so a run starts at the top of a week.
            start_date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default(),
            // Assumption: the common 24-hour closure target, as the SDK's
            // site files default to.
            chart_deadline_hours: 24,
            // Assumption: evening "pajama time" after family time.
            after_hours_start: "20:00".to_string(),
            // Assumption: clinicians stop by about midnight.
            after_hours_window_hours: 4.0,
            volumes: Volumes::default(),
            results: ResultRates::default(),
            signing: SigningHabits::default(),
            claims: ClaimLag::default(),
            roles: roles(),
            minutes: minutes(),
            cosign: cosign(),
            due_hours: due_hours(),
            sites: sites(),
        }
    }
}

impl Default for Volumes {
    fn default() -> Self {
        Volumes {
            // Baron 2010: about 18 visits per physician per day (unverified).
            appointments: 18.0,
            // Assumption: a common primary-care slot length.
            visit_minutes: 20,
            // Assumption: visits run up to 5 minutes late.
            visit_overrun_minutes: 5,
            // Assumption: no published figure was gathered.
            no_show_rate: 0.05,
            // Assumption: sets only the range of synthetic patient ids.
            patients_per_clinician: 1500,
            inbox: InboxMix::default(),
            // Assumption: portal messages pile up over the weekend and
            // arrive on Monday; no figure was found.
            monday_message_factor: 1.3,
            // Assumption: a partner or covering clinician orders some tests.
            covering_order_share: 0.15,
            // Assumption: a small share of messages and results is urgent.
            urgent_share: 0.05,
        }
    }
}

impl Default for InboxMix {
    /// Sets 72.0 items per clinician per clinic day. With the visit
    /// notes not closed on the visit day (about 28 % of 17 attended visits,
    /// near 5) the in-basket reaches Murphy 2016's 76.9 notifications per
    /// day (derived).
    fn default() -> Self {
        InboxMix {
            // Murphy 2016: 15.5 test-result notifications per day (verified).
            result: 15.5,
            // Arndt 2024: about 15.1 patient medical advice requests per 8
            // hours of scheduled clinic in 2022-2023 (derived). A day of
            // this model has about 6 hours of visits, so this is the high
            // end for a day; it stays inside the 15-25 % message share.
            message: 15.1,
            // Between Arndt 2024's about 14.1 prescription messages per 8
            // hours of clinic (derived) and Baron 2010's about 12 refills
            // per day (unverified).
            refill: 12.5,
            // Assumption: inside the 4-8 per day suggested from Baron 2010's
            // 26 % administrative calls (unverified).
            form: 5.0,
            // Assumption: no per-type count was gathered.
            referral: 3.0,
            // Assumption: no per-type count was gathered.
            prior_auth: 2.0,
            // Assumption: the rest of Murphy 2016's 76.9 after the visit
            // notes (CC'd charts, FYI notices, staff messages).
            other: 18.9,
        }
    }
}

impl Default for ResultRates {
    fn default() -> Self {
        ResultRates {
            // Assumption: middle of a 20-35 % range; no published share of
            // abnormal primary-care results was gathered.
            abnormal_rate: 0.25,
            // Assumption: panic values are rare (1-2 % of results).
            critical_rate: 0.015,
        }
    }
}

impl Default for SigningHabits {
    fn default() -> Self {
        SigningHabits {
            // Assumption: 15-25 % of notes wait 1 to 3 days; Epic's "visits
            // closed the same day" measure is reported only relative to the
            // median physician (Apathy 2023, verified), not as a level.
            next_days_share: 0.20,
            // Assumption: a 5-10 % tail of 4 to 14 days, concentrated in a
            // few clinicians through `closure_multiplier`.
            tail_share: 0.08,
            // Assumption: two weeks, past which most practices escalate.
            tail_max_days: 14,
            // Assumption: some clinicians finish notes at home by choice.
            evening_preference: 0.10,
            // Assumption: finishing and signing one note after the visit.
            note_minutes: 6.0,
        }
    }
}

impl Default for ClaimLag {
    fn default() -> Self {
        // Assumption: billing submits within 1 to 3 clinic days of signing.
        ClaimLag {
            min_clinic_days: 1,
            max_clinic_days: 3,
        }
    }
}

/// Default roles.
///
/// Clinician capacity (derived and assumption): under "everything to the
/// physician" a clinician has about 52 inbox minutes per day (see
/// [`minutes`]) and about 100 note minutes (17 attended visits × 6), so 152
/// in all. 100 minutes of desk time inside clinic hours leaves about 35 %
/// for after hours, close to Akbar 2021's 37 % of inbox time outside work
/// hours (verified). The 90-minute after-hours cap is an assumption.
/// Staff capacities are assumptions: the part of a day left for queue work
/// after rooming, phones and check-in.
pub fn roles() -> BTreeMap<String, RoleConfig> {
    let clinician = RoleConfig {
        clinician: true,
        capacity_minutes: 100.0,
        after_hours_minutes: 90.0,
        default_minutes: 1.0,
    };
    let staff = |capacity_minutes: f64| RoleConfig {
        clinician: false,
        capacity_minutes,
        after_hours_minutes: 0.0,
        default_minutes: 5.0,
    };
    BTreeMap::from([
        ("physician".to_string(), clinician.clone()),
        ("np".to_string(), clinician.clone()),
        ("pa".to_string(), clinician),
        ("rn".to_string(), staff(300.0)),
        ("ma".to_string(), staff(180.0)),
        ("front-desk".to_string(), staff(180.0)),
        ("billing".to_string(), staff(240.0)),
        ("referral-coordinator".to_string(), staff(300.0)),
    ])
}

/// Default minutes per item by kind and role.
///
/// Clinician minutes are derived from Akbar 2021 (verified): 52 inbox
/// minutes per workday, results 29 % (15.1 min) and patient messages 28 %
/// (14.6 min). Spread over [`InboxMix::default`]'s 15.5 results and 15.1
/// messages that is about 1.0 minute each; a normal result is set below
/// and an abnormal one above that mean (0.735 × 0.8 + 0.25 × 1.4 + 0.015 ×
/// 3.0 = 0.98). The remaining 43 % (22.4 min) is split over refills, forms,
/// referrals, prior authorizations and other items by assumption:
/// 12.5 × 0.6 + 5 × 1.5 + 3 × 0.5 + 2 × 1.0 + 18.9 × 0.2 = 22.3.
///
/// Staff minutes are assumptions: staff call patients back, prepare
/// renewals under protocol and fill in forms, so an item takes them longer
/// than the clinician's review of it.
pub fn minutes() -> BTreeMap<WorkKind, BTreeMap<String, f64>> {
    let table: &[(WorkKind, &[(&str, f64)])] = &[
        (
            WorkKind::Refill,
            &[
                ("physician", 0.6),
                ("np", 0.6),
                ("pa", 0.6),
                ("rn", 2.5),
                ("ma", 3.0),
            ],
        ),
        (
            WorkKind::ResultNormal,
            &[
                ("physician", 0.8),
                ("np", 0.8),
                ("pa", 0.8),
                ("rn", 1.5),
                ("ma", 2.0),
            ],
        ),
        (
            WorkKind::ResultAbnormal,
            &[
                ("physician", 1.4),
                ("np", 1.4),
                ("pa", 1.4),
                ("rn", 6.0),
                ("ma", 6.0),
            ],
        ),
        (
            WorkKind::ResultCritical,
            &[("physician", 3.0), ("np", 3.0), ("pa", 3.0), ("rn", 8.0)],
        ),
        (
            WorkKind::Message,
            &[
                ("physician", 1.0),
                ("np", 1.0),
                ("pa", 1.0),
                ("rn", 4.0),
                ("ma", 3.0),
                ("front-desk", 2.0),
            ],
        ),
        (
            WorkKind::Form,
            &[
                ("physician", 1.5),
                ("np", 1.5),
                ("pa", 1.5),
                ("rn", 8.0),
                ("ma", 8.0),
                ("front-desk", 6.0),
            ],
        ),
        (
            WorkKind::Referral,
            &[
                ("physician", 0.5),
                ("np", 0.5),
                ("pa", 0.5),
                ("referral-coordinator", 10.0),
                ("ma", 8.0),
                ("front-desk", 8.0),
            ],
        ),
        (
            WorkKind::PriorAuth,
            &[
                ("physician", 1.0),
                ("np", 1.0),
                ("pa", 1.0),
                ("billing", 10.0),
                ("ma", 12.0),
                ("rn", 12.0),
                ("front-desk", 10.0),
            ],
        ),
        (
            WorkKind::Other,
            &[
                ("physician", 0.2),
                ("np", 0.2),
                ("pa", 0.2),
                ("rn", 1.0),
                ("ma", 1.0),
                ("front-desk", 1.0),
                ("billing", 1.0),
                ("referral-coordinator", 1.0),
            ],
        ),
    ];
    table
        .iter()
        .map(|(kind, roles)| {
            let roles = roles.iter().map(|(r, m)| (r.to_string(), *m)).collect();
            (*kind, roles)
        })
        .collect()
}

/// Default clinician minutes left when another role handled an item.
/// All assumptions: signing a renewal the MA prepared, countersigning a
/// form or an authorization, acknowledging an abnormal or critical result
/// the RN acted on.
pub fn cosign() -> BTreeMap<WorkKind, f64> {
    BTreeMap::from([
        (WorkKind::Refill, 0.3),
        (WorkKind::Form, 0.5),
        (WorkKind::PriorAuth, 0.5),
        (WorkKind::ResultAbnormal, 0.5),
        (WorkKind::ResultCritical, 1.0),
    ])
}

/// Default hours from arrival to due time. Results follow a common practice
/// rule (review within 24 hours, critical values at once: 1 hour here); the
/// others are assumptions. `other` items have no due time.
pub fn due_hours() -> BTreeMap<WorkKind, f64> {
    BTreeMap::from([
        (WorkKind::ResultNormal, 24.0),
        (WorkKind::ResultAbnormal, 24.0),
        (WorkKind::ResultCritical, 1.0),
        (WorkKind::Message, 48.0),
        (WorkKind::Refill, 48.0),
        (WorkKind::Form, 120.0),
        (WorkKind::Referral, 72.0),
        (WorkKind::PriorAuth, 72.0),
    ])
}

/// Builds the default practice: three sites in three time zones, one of them
/// without daylight saving. One clinician closes charts slowly
/// (`closure_multiplier` 1.6) and one quickly (0.7), so the tail sits with
/// a few people as practices report.
pub fn sites() -> Vec<SiteConfig> {
    let slow = |mut p: PersonConfig| {
        p.closure_multiplier = 1.6;
        p
    };
    let quick = |mut p: PersonConfig| {
        p.closure_multiplier = 0.7;
        p
    };
    let part_volume = |mut p: PersonConfig| {
        // Assumption: an NP carries a smaller panel than a physician.
        p.volume_scale = 0.8;
        p
    };
    let with_hours = |mut p: PersonConfig, hours: &str| {
        p.hours = vec![hours.to_string()];
        p
    };

    vec![
        SiteConfig {
            id: "northside".to_string(),
            name: Some("Northside Family Medicine".to_string()),
            time_zone: "America/Chicago".to_string(),
            clinic_hours: vec!["mon-fri 08:00-17:00".to_string()],
            closing_time: "18:00".to_string(),
            people: vec![
                PersonConfig::new("dr-lee", "physician", Some("blue")),
                slow(with_hours(
                    PersonConfig::new("dr-ortiz", "physician", Some("green")),
                    "mon-thu 07:00-16:00",
                )),
                part_volume(PersonConfig::new("np-shah", "np", Some("green"))),
                PersonConfig::new("rn-kim", "rn", None),
                PersonConfig::new("rn-diaz", "rn", None),
                PersonConfig::new("ma-ana", "ma", Some("blue")),
                PersonConfig::new("ma-ben", "ma", Some("blue")),
                PersonConfig::new("ma-cara", "ma", Some("green")),
                PersonConfig::new("ma-dev", "ma", Some("green")),
                PersonConfig::new("fd-dana", "front-desk", None),
                PersonConfig::new("fd-gus", "front-desk", None),
                PersonConfig::new("bill-eli", "billing", None),
                PersonConfig::new("ref-fay", "referral-coordinator", None),
            ],
        },
        SiteConfig {
            id: "eastgate".to_string(),
            name: Some("Eastgate Internal Medicine".to_string()),
            time_zone: "America/New_York".to_string(),
            clinic_hours: vec!["mon-fri 08:00-17:00".to_string()],
            closing_time: "18:00".to_string(),
            people: vec![
                PersonConfig::new("dr-patel", "physician", Some("red")),
                quick(PersonConfig::new("dr-nguyen", "physician", Some("red"))),
                PersonConfig::new("rn-lopez", "rn", None),
                PersonConfig::new("ma-ivy", "ma", Some("red")),
                PersonConfig::new("ma-joe", "ma", Some("red")),
                PersonConfig::new("fd-kai", "front-desk", None),
                PersonConfig::new("bill-lin", "billing", None),
                PersonConfig::new("ref-mo", "referral-coordinator", None),
            ],
        },
        SiteConfig {
            id: "mesa".to_string(),
            name: Some("Mesa Community Clinic".to_string()),
            time_zone: "America/Phoenix".to_string(),
            clinic_hours: vec!["mon-fri 07:30-16:30".to_string()],
            closing_time: "17:30".to_string(),
            people: vec![
                PersonConfig::new("dr-romero", "physician", Some("sun")),
                part_volume(PersonConfig::new("np-baker", "np", Some("sun"))),
                PersonConfig::new("rn-silva", "rn", None),
                PersonConfig::new("ma-teo", "ma", Some("sun")),
                PersonConfig::new("ma-ula", "ma", Some("sun")),
                PersonConfig::new("fd-uma", "front-desk", None),
                PersonConfig::new("bill-vic", "billing", None),
                PersonConfig::new("ref-wes", "referral-coordinator", None),
            ],
        },
    ]
}
