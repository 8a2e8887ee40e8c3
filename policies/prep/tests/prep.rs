//! Prep items for upcoming visits.

use previsit_prep::PrepPolicy;
use switchboard_sdk::testing::{PolicyHarness, logs};
use switchboard_sdk::{
    Appointment, Attribute, Category, PatientItem, Policy, PrepItem, PrepVisit, ResultFlag,
    Timestamp,
};

const SITE: &str = "id = \"harbor\"\ntime_zone = \"America/Chicago\"\n\n[[roles]]\nname = \"physician\"\nclinician = true\n\n[[people]]\nid = \"dr-lee\"\nroles = [\"physician\"]\n";

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

/// The evening before the visits.
fn now() -> Timestamp {
    at("2026-03-09T23:00:00Z")
}

fn harness(config: &str) -> PolicyHarness<PrepPolicy> {
    PolicyHarness::new(SITE, config, now()).expect("the config is valid")
}

fn open(key: u64, category: Category, flag: ResultFlag, title: &str) -> PatientItem {
    PatientItem {
        key,
        category,
        flag,
        title: title.into(),
        attributes: Vec::new(),
    }
}

/// A visit Tue 2026-03-10 09:00 CDT (14:00Z) with Dr. Lee.
fn visit(id: &str, kind: &str, open_items: Vec<PatientItem>) -> PrepVisit {
    PrepVisit {
        appointment: Appointment {
            external_id: id.into(),
            patient: "Patient/7".into(),
            clinician: Some("Practitioner/lee".into()),
            start: at("2026-03-10T14:00:00Z"),
            kind: kind.into(),
        },
        clinician: Some("dr-lee".into()),
        open_items,
    }
}

fn attribute<'a>(item: &'a PrepItem, key: &str) -> Option<&'a str> {
    item.attributes
        .iter()
        .find(|a| a.key == key)
        .map(|a| a.value.as_str())
}

fn slugs(items: &[PrepItem]) -> Vec<&str> {
    items.iter().map(|i| i.slug.as_str()).collect()
}

#[test]
fn open_results_become_one_review_item() {
    let mut policy = harness("");
    let results = vec![
        open(11, Category::Result, ResultFlag::Normal, "CBC"),
        open(12, Category::Result, ResultFlag::Abnormal, "Lipid panel"),
        open(13, Category::Result, ResultFlag::Critical, "Potassium"),
    ];

    let items = policy
        .policy()
        .prepare(&[visit("Appointment/1", "follow-up", results)], now());

    assert_eq!(slugs(&items), ["results"]);
    let review = &items[0];
    assert_eq!(review.appointment, "Appointment/1");
    assert_eq!(
        review.title,
        "review 3 outstanding results (1 critical, 1 abnormal): CBC, Lipid panel, Potassium"
    );
    assert_eq!(
        review.due,
        Some(at("2026-03-10T13:00:00Z")),
        "an hour before 14:00Z"
    );
    assert_eq!(attribute(review, "clinician"), Some("dr-lee"));
    assert_eq!(attribute(review, "appointment"), Some("Appointment/1"));
    assert_eq!(attribute(review, "count"), Some("3"));
    assert_eq!(attribute(review, "items"), Some("11,12,13"));
    assert_eq!(attribute(review, "prep"), Some("results"));
}

#[test]
fn forms_and_referrals_get_their_own_items() {
    let mut policy = harness("");
    let open_items = vec![
        open(21, Category::Form, ResultFlag::None, "FMLA"),
        open(22, Category::Referral, ResultFlag::None, "Cardiology"),
        open(23, Category::Form, ResultFlag::None, "School physical"),
        open(24, Category::Refill, ResultFlag::None, "Lisinopril"),
    ];

    let items = policy
        .policy()
        .prepare(&[visit("Appointment/2", "follow-up", open_items)], now());

    assert_eq!(slugs(&items), ["forms", "referrals"]);
    assert_eq!(items[0].title, "collect 2 forms: FMLA, School physical");
    assert_eq!(items[1].title, "follow up 1 open referral: Cardiology");
    assert_eq!(attribute(&items[1], "items"), Some("22"));
}

#[test]
fn visit_without_open_work_gets_no_summary() {
    let mut policy = harness("");

    let items = policy
        .policy()
        .prepare(&[visit("Appointment/3", "follow-up", Vec::new())], now());

    assert_eq!(items, []);
}

#[test]
fn standard_item_follows_visit_kind() {
    let mut policy = harness("");
    let physical = visit("Appointment/4", "Annual-Physical", Vec::new());
    let new_patient = visit("Appointment/5", "new-patient", Vec::new());
    let sick = visit("Appointment/6", "sick-visit", Vec::new());

    let items = policy
        .policy()
        .prepare(&[physical, new_patient, sick], now());

    let created: Vec<(&str, &str)> = items
        .iter()
        .map(|i| (i.appointment.as_str(), i.slug.as_str()))
        .collect();
    assert_eq!(
        created,
        [
            ("Appointment/4", "screening-questionnaire"),
            ("Appointment/5", "outside-records")
        ]
    );
    assert_eq!(items[0].title, "collect the screening questionnaire");
    assert_eq!(items[0].due, Some(at("2026-03-10T13:00:00Z")));
    assert_eq!(
        items[1].due,
        Some(at("2026-03-08T14:00:00Z")),
        "two days before, from its own lead time"
    );
}

#[test]
fn repeated_calls_return_the_same_slugs() {
    let mut policy = harness("");
    let visits = [visit(
        "Appointment/7",
        "annual-physical",
        vec![open(31, Category::Result, ResultFlag::Normal, "TSH")],
    )];

    let first = policy.policy().prepare(&visits, now());
    let second = policy.policy().prepare(&visits, at("2026-03-10T06:00:00Z"));

    assert_eq!(first, second);
    assert_eq!(slugs(&first), ["results", "screening-questionnaire"]);
}

#[test]
fn started_visit_gets_nothing() {
    let mut policy = harness("");
    let visits = [visit(
        "Appointment/8",
        "annual-physical",
        vec![open(41, Category::Form, ResultFlag::None, "FMLA")],
    )];

    let items = policy.policy().prepare(&visits, at("2026-03-10T14:00:00Z"));

    assert_eq!(items, []);
    let line = logs()
        .into_iter()
        .find(|l| l.message == "prep items created")
        .expect("a debug line");
    assert!(
        line.fields
            .contains(&("started_skipped".into(), "1".into())),
        "{line:?}"
    );
}

#[test]
fn visit_without_clinician_has_no_clinician_attribute() {
    let mut policy = harness("");
    let mut unassigned = visit(
        "Appointment/9",
        "follow-up",
        vec![open(51, Category::Form, ResultFlag::None, "DMV")],
    );
    unassigned.clinician = None;

    let items = policy.policy().prepare(&[unassigned], now());

    assert_eq!(attribute(&items[0], "clinician"), None);
    assert_eq!(attribute(&items[0], "appointment"), Some("Appointment/9"));
}

#[test]
fn long_title_lists_are_counted() {
    let mut policy = harness("[results]\nmax_titles = 2\n");
    let results = vec![
        open(61, Category::Result, ResultFlag::Normal, "CBC"),
        open(62, Category::Result, ResultFlag::Normal, "CBC"),
        open(63, Category::Result, ResultFlag::Normal, "BMP"),
        open(64, Category::Result, ResultFlag::Normal, "TSH"),
        open(65, Category::Result, ResultFlag::Normal, "A1c"),
    ];

    let items = policy
        .policy()
        .prepare(&[visit("Appointment/10", "follow-up", results)], now());

    assert_eq!(
        items[0].title,
        "review 5 outstanding results: CBC (2), BMP, and 2 more"
    );
}

#[test]
fn disabled_section_creates_nothing() {
    let mut policy = harness("[forms]\nenabled = false\n");
    let open_items = vec![
        open(71, Category::Form, ResultFlag::None, "FMLA"),
        open(72, Category::Result, ResultFlag::Normal, "CBC"),
    ];

    let items = policy
        .policy()
        .prepare(&[visit("Appointment/11", "follow-up", open_items)], now());

    assert_eq!(slugs(&items), ["results"]);
}

#[test]
fn lead_time_is_configurable() {
    let mut policy = harness("lead_minutes = 30\n[referrals]\nlead_minutes = 1440\n");
    let open_items = vec![
        open(81, Category::Form, ResultFlag::None, "FMLA"),
        open(82, Category::Referral, ResultFlag::None, "GI"),
    ];

    let items = policy
        .policy()
        .prepare(&[visit("Appointment/12", "follow-up", open_items)], now());

    assert_eq!(items[0].due, Some(at("2026-03-10T13:30:00Z")));
    assert_eq!(items[1].due, Some(at("2026-03-09T14:00:00Z")));
}

#[test]
fn open_item_attributes_do_not_leak_into_prep() {
    let mut policy = harness("");
    let mut result = open(91, Category::Result, ResultFlag::Normal, "CBC");
    result.attributes = vec![Attribute {
        key: "loinc".into(),
        value: "58410-2".into(),
    }];

    let items = policy
        .policy()
        .prepare(&[visit("Appointment/13", "follow-up", vec![result])], now());

    let keys: Vec<&str> = items[0].attributes.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "appointment",
            "visit_kind",
            "prep",
            "clinician",
            "count",
            "items"
        ]
    );
}

#[test]
fn sample_site_prep_file_is_the_defaults() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/config/sites/northside/prep.toml"
    );

    let copy = std::fs::read_to_string(path)
        .expect("examples/config/sites/northside/prep.toml is missing");

    assert_eq!(
        copy,
        previsit_prep::DEFAULT_CONFIG,
        "copy policies/prep/defaults.toml to {path}"
    );
}

#[test]
fn prep_policy_does_not_route() {
    let mut policy = harness("");
    let item = switchboard_sdk::RouteItem {
        key: 1,
        category: Category::Form,
        flag: ResultFlag::None,
        priority: switchboard_sdk::Priority::Routine,
        created: now(),
        due: None,
        patient: None,
        ordering: None,
        rendering: None,
        pcp: None,
        attributes: Vec::new(),
    };

    let result = policy.route(&item, &switchboard_sdk::RouteContext::default());

    assert!(matches!(
        result,
        Err(switchboard_sdk::RouteError::NoMatch(_))
    ));
}
