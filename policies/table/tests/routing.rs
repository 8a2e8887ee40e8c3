//! Routing behaviour that case files cannot express: reason texts, batches,
//! error messages and logging.

use switchboard_sdk::host::Level;
use switchboard_sdk::packed::{OutcomeWriter, unpack_outcomes};
use switchboard_sdk::testing::{PolicyHarness, logs};
use switchboard_sdk::{
    Attribute, Category, PersonLoad, Policy, Priority, ResultFlag, RouteContext, RouteError,
    RouteItem, Timestamp,
};
use table_policy::{DEFAULT_TABLE, TablePolicy};

const SITE: &str = include_str!("../cases/sites/lakeview.toml");

/// Tuesday 2026-04-07 10:00 in Chicago; Dr. Baker is away that week.
fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-04-07T15:00:00Z").unwrap()
}

fn item(key: u64, category: Category) -> RouteItem {
    RouteItem {
        key,
        category,
        flag: ResultFlag::None,
        priority: Priority::Routine,
        created: now().plus_minutes(-30),
        due: None,
        patient: Some("Patient/1".into()),
        ordering: None,
        rendering: None,
        pcp: None,
        attributes: Vec::new(),
    }
}

fn context(load: &[(&str, u32)]) -> RouteContext {
    RouteContext {
        now: now(),
        load: load
            .iter()
            .map(|(person, open_items)| PersonLoad {
                person: person.to_string(),
                open_items: *open_items,
            })
            .collect(),
    }
}

fn harness(table: &str) -> PolicyHarness<TablePolicy> {
    PolicyHarness::new(SITE, table, now()).expect("the table compiles")
}

#[test]
fn reason_names_the_rule() {
    let mut policy = harness(DEFAULT_TABLE);
    let mut critical = item(1, Category::Result);
    critical.flag = ResultFlag::Critical;
    critical.ordering = Some("dr-adams".into());

    let assignment = policy.route(&critical, &context(&[])).unwrap();

    assert_eq!(
        assignment.reason,
        "rule critical-results: critical results go to the ordering clinician within the hour"
    );
    assert_eq!(assignment.rule, "critical-results");
}

#[test]
fn pool_fallback_reason_says_why() {
    let mut policy = harness(DEFAULT_TABLE);
    let mut note = item(2, Category::VisitNote);
    note.rendering = Some("dr-baker".into());

    let assignment = policy.route(&note, &context(&[])).unwrap();

    assert_eq!(assignment.person, None);
    assert_eq!(
        assignment.reason,
        "rule visit-notes: visit notes go to the rendering clinician (strategy rendering found no available person, so it stays in the physician pool)"
    );
}

#[test]
fn batch_counts_its_own_assignments() {
    let table = "[[rule]]\nname = \"messages\"\nreason = \"messages go to the least-loaded RN\"\nwhen = { category = \"message\" }\nrole = \"rn\"\nstrategy = \"least-loaded\"\n\n[[rule]]\nname = \"catch-all\"\nreason = \"rest\"\nrole = \"front-desk\"\n";
    let mut policy = harness(table);
    let items: Vec<RouteItem> = (1..=4).map(|key| item(key, Category::Message)).collect();

    let routed = policy
        .policy()
        .route_batch(&items, &context(&[("rn-ford", 1)]));

    // rn-hale starts at 0 and rn-ford at 1 (rn-gray is away): hale (1), then
    // the tie goes to ford by id (2), then hale (2), then ford by id (3).
    let people: Vec<Option<String>> = routed.into_iter().map(|r| r.unwrap().person).collect();
    assert_eq!(
        people,
        [
            Some("rn-hale"),
            Some("rn-ford"),
            Some("rn-hale"),
            Some("rn-ford")
        ]
        .map(|p| p.map(String::from))
    );
}

#[test]
fn batch_counts_assignments_made_before_balancing() {
    let table = "[[rule]]\nname = \"results\"\nreason = \"results to RN Ford\"\nwhen = { category = \"result\" }\nrole = \"rn\"\nperson = \"rn-ford\"\n\n[[rule]]\nname = \"messages\"\nreason = \"messages to the least-loaded RN\"\nrole = \"rn\"\nstrategy = \"least-loaded\"\n";
    let mut policy = harness(table);
    let items = vec![item(1, Category::Result), item(2, Category::Message)];

    let routed = policy.policy().route_batch(&items, &context(&[]));

    // Both RNs start at 0, a tie rn-ford would win by id, but the result
    // routed first gave rn-ford one more item.
    let people: Vec<Option<String>> = routed.into_iter().map(|r| r.unwrap().person).collect();
    assert_eq!(
        people,
        [Some("rn-ford".to_string()), Some("rn-hale".to_string())]
    );
}

/// The packed path (`route_into`, which borrows names from the table)
/// and the owned path agree item by item on a batch that mixes every
/// category and flag, assignments by balance, pools and errors.
#[test]
fn packed_outcomes_match_route_batch() {
    let flags = [
        ResultFlag::None,
        ResultFlag::Normal,
        ResultFlag::Abnormal,
        ResultFlag::Critical,
    ];
    let providers = [None, Some("dr-adams"), Some("dr-baker"), Some("nobody")];
    let items: Vec<RouteItem> = (0..72u64)
        .map(|key| {
            let mut item = item(key, Category::ALL[key as usize % Category::ALL.len()]);
            item.flag = flags[key as usize % flags.len()];
            item.ordering = providers[key as usize % 4].map(String::from);
            item.rendering = providers[(key as usize / 4) % 4].map(String::from);
            item.pcp = providers[(key as usize / 16) % 4].map(String::from);
            item
        })
        .collect();
    let context = context(&[("rn-ford", 2), ("ma-hill", 1)]);
    let tables = [
        DEFAULT_TABLE,
        include_str!("../cases/tables/balance.toml"),
        include_str!("../cases/tables/strict.toml"),
        include_str!("../cases/tables/cel.toml"),
    ];

    let (mut with_person, mut errors) = (0, 0);
    for table in tables {
        let mut policy = harness(table);
        let expected = policy.policy().route_batch(&items, &context);
        let mut out = OutcomeWriter::with_capacity(0);

        policy.policy().route_into(&items, &context, &mut out);

        let written = unpack_outcomes(&out.into_bytes()).unwrap();
        assert_eq!(written, expected);
        with_person += expected
            .iter()
            .filter(|o| o.as_ref().is_ok_and(|a| a.person.is_some()))
            .count();
        errors += expected.iter().filter(|o| o.is_err()).count();
    }
    assert!(
        with_person > 0 && errors > 0,
        "{with_person} persons, {errors} errors"
    );
}

#[test]
fn batch_keeps_item_order() {
    let mut policy = harness(DEFAULT_TABLE);
    let items = vec![
        item(1, Category::Form),
        item(2, Category::Referral),
        item(3, Category::PriorAuth),
    ];

    let routed = policy.policy().route_batch(&items, &context(&[]));

    let rules: Vec<String> = routed.into_iter().map(|r| r.unwrap().rule).collect();
    assert_eq!(rules, ["forms", "referrals", "prior-authorizations"]);
}

#[test]
fn no_owner_names_rule_and_role() {
    let table = "[[rule]]\nname = \"scribes\"\nreason = \"to the scribes\"\nrole = \"scribe\"\n";
    let mut policy = harness(table);

    let error = policy
        .route(&item(1, Category::Other), &context(&[]))
        .unwrap_err();

    assert_eq!(
        error,
        RouteError::NoOwner(
            "rule scribes: nobody on the roster holds role scribe; add the role to people in the site file"
                .into()
        )
    );
}

#[test]
fn absent_pool_has_no_owner() {
    let table =
        "[[rule]]\nname = \"to-baker\"\nreason = \"to the physicians\"\nrole = \"physician\"\n";
    let site = SITE.replace(
        "roles = [\"physician\", \"medical-director\"]",
        "roles = [\"medical-director\"]",
    );
    let mut policy = PolicyHarness::<TablePolicy>::new(&site, table, now()).unwrap();

    let error = policy
        .route(&item(1, Category::Other), &context(&[]))
        .unwrap_err();

    // Dr. Baker, the only physician left, is away this week.
    assert_eq!(
        error,
        RouteError::NoOwner("rule to-baker: everyone holding role physician is absent".into())
    );
}

#[test]
fn required_person_error_names_the_strategy() {
    let table = "[[rule]]\nname = \"own-notes\"\nreason = \"notes to their author\"\nrole = \"physician\"\nstrategy = \"rendering\"\nrequire_person = true\n";
    let mut policy = harness(table);

    let error = policy
        .route(&item(1, Category::VisitNote), &context(&[]))
        .unwrap_err();

    assert_eq!(error, RouteError::NoOwner("rule own-notes: strategy rendering found no available person, and the rule requires a person".into()));
}

#[test]
fn absent_fixed_person_reason_names_them() {
    let table = "[[rule]]\nname = \"gray\"\nreason = \"all to RN Gray\"\nrole = \"rn\"\nperson = \"rn-gray\"\n";
    let mut policy = harness(table);

    let assignment = policy
        .route(&item(1, Category::Referral), &context(&[]))
        .unwrap();

    assert_eq!(
        assignment.reason,
        "rule gray: all to RN Gray (rn-gray is absent, so it stays in the rn pool)"
    );
}

#[test]
fn empty_when_table_is_a_catch_all() {
    let table = "[[rule]]\nname = \"everything\"\nreason = \"all to billing\"\nwhen = {}\nrole = \"billing\"\n";
    let mut policy = harness(table);

    let assignment = policy
        .route(&item(1, Category::Message), &context(&[]))
        .unwrap();

    assert_eq!(assignment.rule, "everything");
}

#[test]
fn due_and_priority_follow_the_rule() {
    let table = "[[rule]]\nname = \"auths\"\nreason = \"auths within a day\"\nrole = \"billing\"\nraise_priority = \"urgent\"\ndue_minutes = 1440\n";
    let mut policy = harness(table);

    let assignment = policy
        .route(&item(1, Category::PriorAuth), &context(&[]))
        .unwrap();

    assert_eq!(assignment.priority, Priority::Urgent);
    assert_eq!(
        assignment.due,
        Some(Timestamp::parse_rfc3339("2026-04-08T15:00:00Z").unwrap())
    );
}

#[test]
fn rule_without_due_keeps_the_item_due() {
    let mut policy = harness(DEFAULT_TABLE);

    let assignment = policy
        .route(&item(1, Category::Form), &context(&[]))
        .unwrap();

    assert_eq!(assignment.due, None);
}

#[test]
fn age_bounds_are_min_inclusive_max_exclusive() {
    let table = "[[rule]]\nname = \"fresh\"\nreason = \"new\"\nwhen = { max_age_minutes = 30 }\nrole = \"rn\"\n\n[[rule]]\nname = \"catch-all\"\nreason = \"old\"\nrole = \"front-desk\"\n";
    let mut policy = harness(table);
    let mut young = item(1, Category::Message);
    young.created = now().plus_minutes(-29);
    let mut thirty = item(2, Category::Message);
    thirty.created = now().plus_minutes(-30);

    let young_rule = policy.route(&young, &context(&[])).unwrap().rule;
    let thirty_rule = policy.route(&thirty, &context(&[])).unwrap().rule;

    assert_eq!(young_rule, "fresh");
    assert_eq!(thirty_rule, "catch-all");
}

#[test]
fn attribute_tests_read_the_first_value() {
    let table = "[[rule]]\nname = \"hba1c\"\nreason = \"a1c\"\nwhen = { attributes = { loinc = { one_of = [\"4548-4\", \"17856-6\"] }, lab = { present = true }, stale = { present = false } } }\nrole = \"rn\"\n\n[[rule]]\nname = \"catch-all\"\nreason = \"rest\"\nrole = \"front-desk\"\n";
    let mut policy = harness(table);
    let attribute = |key: &str, value: &str| Attribute {
        key: key.into(),
        value: value.into(),
    };
    let mut first = item(1, Category::Result);
    first.attributes = vec![
        attribute("loinc", "17856-6"),
        attribute("lab", "main"),
        attribute("loinc", "1-1"),
    ];
    let mut second_only = item(2, Category::Result);
    second_only.attributes = vec![
        attribute("loinc", "1-1"),
        attribute("lab", "main"),
        attribute("loinc", "4548-4"),
    ];
    let mut stale = item(3, Category::Result);
    stale.attributes = vec![
        attribute("loinc", "4548-4"),
        attribute("lab", "main"),
        attribute("stale", "yes"),
    ];

    let rules: Vec<String> = [first, second_only, stale]
        .iter()
        .map(|i| policy.route(i, &context(&[])).unwrap().rule)
        .collect();

    assert_eq!(rules, ["hba1c", "catch-all", "catch-all"]);
}

#[test]
fn cel_failure_is_no_match_and_logged_sparingly() {
    let table = "[[rule]]\nname = \"loinc-check\"\nreason = \"x\"\nwhen = { expr = 'item.attributes[\"loinc\"] == \"2160-0\"' }\nrole = \"rn\"\n\n[[rule]]\nname = \"catch-all\"\nreason = \"rest\"\nrole = \"front-desk\"\n";
    let mut policy = harness(table);

    let rules: Vec<String> = (1..=12)
        .map(|key| {
            policy
                .route(&item(key, Category::Result), &context(&[]))
                .unwrap()
                .rule
        })
        .collect();

    assert!(rules.iter().all(|r| r == "catch-all"), "{rules:?}");
    let warnings: Vec<_> = logs()
        .into_iter()
        .filter(|l| l.level == Level::Warn)
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(
        warnings[0].message.contains("no such key \"loinc\""),
        "{:?}",
        warnings[0]
    );
    assert!(
        warnings[0].fields.contains(&("item".into(), "1".into())),
        "{:?}",
        warnings[0]
    );
    assert!(
        warnings[1]
            .fields
            .contains(&("failures".into(), "10".into())),
        "{:?}",
        warnings[1]
    );
}

#[test]
fn cel_non_bool_result_is_no_match() {
    let table = "[[rule]]\nname = \"numbers\"\nreason = \"x\"\nwhen = { expr = 'age_minutes + 1' }\nrole = \"rn\"\n\n[[rule]]\nname = \"catch-all\"\nreason = \"rest\"\nrole = \"front-desk\"\n";
    let mut policy = harness(table);

    let assignment = policy
        .route(&item(1, Category::Other), &context(&[]))
        .unwrap();

    assert_eq!(assignment.rule, "catch-all");
    let warning = logs()
        .into_iter()
        .find(|l| l.level == Level::Warn)
        .expect("a warning");
    assert!(
        warning
            .message
            .contains("returned a value of type int instead of a bool"),
        "{warning:?}"
    );
}

#[test]
fn configure_logs_the_table_and_empty_roles() {
    let table = "[[rule]]\nname = \"scribes\"\nreason = \"to the scribes\"\nwhen = { category = \"visit-note\" }\nrole = \"scribe\"\n\n[[rule]]\nname = \"catch-all\"\nreason = \"rest\"\nrole = \"front-desk\"\n";
    let _policy = harness(table);

    let lines = logs();

    let info = lines
        .iter()
        .find(|l| l.level == Level::Info)
        .expect("an info line");
    assert!(
        info.fields.contains(&("rules".into(), "2".into())),
        "{info:?}"
    );
    assert!(
        info.fields.contains(&("site".into(), "lakeview".into())),
        "{info:?}"
    );
    let warning = lines
        .iter()
        .find(|l| l.level == Level::Warn)
        .expect("a warning");
    assert!(
        warning.fields.contains(&("role".into(), "scribe".into())),
        "{warning:?}"
    );
}

#[test]
fn reconfigure_keeps_nothing_from_the_old_table() {
    let site = switchboard_sdk::site::parse_site(SITE).unwrap();
    let _guard = switchboard_sdk::testing::MockHost::new()
        .at(now())
        .install();
    let _old = TablePolicy::configure(site.clone(), DEFAULT_TABLE).unwrap();
    let replacement =
        "[[rule]]\nname = \"everything\"\nreason = \"all to billing\"\nrole = \"billing\"\n";

    let mut new = TablePolicy::configure(site, replacement).unwrap();

    assert_eq!(
        new.route(&item(1, Category::Result), &context(&[]))
            .unwrap()
            .rule,
        "everything"
    );
}
