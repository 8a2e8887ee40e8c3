//! Tables that `configure` rejects: each error names the rule and points at
//! the line and column of the value at fault.

use switchboard_sdk::site::parse_site;
use switchboard_sdk::testing::PolicyHarness;
use switchboard_sdk::{ConfigError, Site, Timestamp};
use table_policy::{TableError, TableErrorKind, TablePolicy};

const SITE: &str = include_str!("../cases/sites/lakeview.toml");

const CATCH_ALL: &str = "[[rule]]\nname = \"catch-all\"\nreason = \"everything else goes to the front desk\"\nrole = \"front-desk\"\n";

fn site() -> Site {
    parse_site(SITE).expect("the test site parses")
}

fn reject(text: &str) -> TableError {
    match TablePolicy::compile(&site(), text) {
        Ok(_) => panic!("the table was accepted:\n{text}"),
        Err(error) => error,
    }
}

/// The error as `configure` reports it to the host.
fn config_error(text: &str) -> ConfigError {
    PolicyHarness::<TablePolicy>::new(SITE, text, Timestamp(0)).expect_err("the table was accepted")
}

fn position(error: &ConfigError) -> (Option<u32>, Option<u32>) {
    (error.line, error.column)
}

#[test]
fn table_without_catch_all_is_rejected() {
    let text = "[[rule]]\nname = \"forms\"\nreason = \"forms go to the front desk\"\nwhen = { category = \"form\" }\nrole = \"front-desk\"\n";

    let error = config_error(text);

    assert_eq!(
        reject(text).kind,
        TableErrorKind::MissingCatchAll {
            rule: "forms".into()
        }
    );
    assert_eq!(position(&error), (Some(2), Some(8)));
    assert!(error.message.contains("\"forms\""), "{error}");
}

#[test]
fn rule_after_catch_all_is_rejected() {
    let text = format!(
        "{CATCH_ALL}[[rule]]\nname = \"late\"\nreason = \"never reached\"\nrole = \"rn\"\n"
    );

    let error = reject(&text);

    assert_eq!(
        error.kind,
        TableErrorKind::Unreachable {
            rule: "late".into(),
            catch_all: "catch-all".into()
        }
    );
    assert_eq!(position(&error.to_config_error(&text)), (Some(6), Some(8)));
}

#[test]
fn empty_table_is_rejected() {
    let error = reject("schema = 1\n");

    assert_eq!(error.kind, TableErrorKind::NoRules);
}

#[test]
fn too_many_rules_are_rejected() {
    let rule =
        "[[rule]]\nname = \"r{}\"\nreason = \"x\"\nwhen = { category = \"form\" }\nrole = \"ma\"\n";
    let text: String = (0..table_policy::MAX_RULES)
        .map(|i| rule.replace("{}", &i.to_string()))
        .collect::<String>()
        + CATCH_ALL;

    let error = reject(&text);

    assert_eq!(
        error.kind,
        TableErrorKind::TooManyRules {
            count: 2001,
            max: 2000
        }
    );
}

#[test]
fn unsupported_schema_is_rejected() {
    let text = format!("schema = 2\n{CATCH_ALL}");

    let error = reject(&text);

    assert_eq!(
        error.kind,
        TableErrorKind::UnsupportedSchema {
            found: 2,
            supported: 1
        }
    );
    assert_eq!(position(&error.to_config_error(&text)), (Some(1), Some(10)));
}

#[test]
fn unknown_role_names_rule_and_position() {
    let text = format!(
        "[[rule]]\nname = \"refills\"\nreason = \"refills go to the MAs\"\nwhen = {{ category = \"refill\" }}\nrole = \"medical-assistant\"\n{CATCH_ALL}"
    );

    let error = config_error(&text);

    assert!(
        matches!(reject(&text).kind, TableErrorKind::UnknownRole { ref rule, ref role, .. } if rule == "refills" && role == "medical-assistant")
    );
    assert_eq!(position(&error), (Some(5), Some(8)));
    assert!(error.message.contains("rule \"refills\""), "{error}");
    assert!(error.message.contains("\"medical-assistant\""), "{error}");
}

#[test]
fn unknown_person_names_rule_and_position() {
    let text = format!(
        "[[rule]]\nname = \"auths\"\nreason = \"auths go to Dr. Zed\"\nwhen = {{ category = \"prior-auth\" }}\nrole = \"physician\"\nperson = \"dr-zed\"\n{CATCH_ALL}"
    );

    let error = reject(&text);

    assert!(
        matches!(error.kind, TableErrorKind::UnknownPerson { ref rule, ref person, .. } if rule == "auths" && person == "dr-zed")
    );
    assert_eq!(position(&error.to_config_error(&text)), (Some(6), Some(10)));
}

#[test]
fn person_without_the_role_is_rejected() {
    let text = format!(
        "[[rule]]\nname = \"auths\"\nreason = \"auths go to RN Ford\"\nwhen = {{ category = \"prior-auth\" }}\nrole = \"billing\"\nperson = \"rn-ford\"\n{CATCH_ALL}"
    );

    let error = reject(&text);

    assert_eq!(
        error.kind,
        TableErrorKind::PersonLacksRole {
            rule: "auths".into(),
            person: "rn-ford".into(),
            roles: "billing".into()
        }
    );
}

#[test]
fn unknown_strategy_is_rejected() {
    let text = format!(
        "[[rule]]\nname = \"refills\"\nreason = \"refills\"\nwhen = {{ category = \"refill\" }}\nrole = \"ma\"\nstrategy = \"round-robin\"\n{CATCH_ALL}"
    );

    let error = reject(&text);

    assert_eq!(
        error.kind,
        TableErrorKind::UnknownStrategy {
            rule: "refills".into(),
            strategy: "round-robin".into()
        }
    );
    assert_eq!(position(&error.to_config_error(&text)), (Some(6), Some(12)));
}

#[test]
fn pool_in_strategy_list_is_rejected() {
    let text = format!(
        "[[rule]]\nname = \"r\"\nreason = \"x\"\nwhen = {{ category = \"refill\" }}\nrole = \"ma\"\nstrategy = [\"pcp\", \"pool\"]\n{CATCH_ALL}"
    );

    assert_eq!(
        reject(&text).kind,
        TableErrorKind::PoolInList { rule: "r".into() }
    );
}

#[test]
fn error_inside_spaced_header_names_the_rule() {
    let text = format!(
        "[[ rule ]]\nname = \"spaced\"\nreason = \"x\"\nrole = \"ma\"\nwhen = {{ flag = \"high\" }}\n{CATCH_ALL}"
    );

    let error = reject(&text);

    assert!(
        matches!(error.kind, TableErrorKind::Syntax { rule: Some(ref rule), .. } if rule == "spaced"),
        "{error:?}"
    );
}

#[test]
fn person_and_strategy_together_are_rejected() {
    let text = format!(
        "[[rule]]\nname = \"r\"\nreason = \"x\"\nwhen = {{ category = \"refill\" }}\nrole = \"ma\"\nperson = \"ma-hill\"\nstrategy = \"pod\"\n{CATCH_ALL}"
    );

    assert_eq!(
        reject(&text).kind,
        TableErrorKind::PersonAndStrategy { rule: "r".into() }
    );
}

#[test]
fn pod_of_without_pod_strategy_is_rejected() {
    let text = format!(
        "[[rule]]\nname = \"r\"\nreason = \"x\"\nwhen = {{ category = \"refill\" }}\nrole = \"ma\"\nstrategy = \"pcp\"\npod_of = \"pcp\"\n{CATCH_ALL}"
    );

    assert_eq!(
        reject(&text).kind,
        TableErrorKind::PodOfWithoutPod { rule: "r".into() }
    );
}

#[test]
fn pod_anchor_must_be_a_person_source() {
    let text = format!(
        "[[rule]]\nname = \"r\"\nreason = \"x\"\nwhen = {{ category = \"refill\" }}\nrole = \"ma\"\nstrategy = \"pod\"\npod_of = [\"pcp\", \"least-loaded\"]\n{CATCH_ALL}"
    );

    assert_eq!(
        reject(&text).kind,
        TableErrorKind::InvalidPodAnchor {
            rule: "r".into(),
            value: "least-loaded".into()
        }
    );
}

#[test]
fn require_person_needs_a_pick() {
    let text = format!(
        "[[rule]]\nname = \"r\"\nreason = \"x\"\nwhen = {{ category = \"refill\" }}\nrole = \"ma\"\nrequire_person = true\n{CATCH_ALL}"
    );

    assert_eq!(
        reject(&text).kind,
        TableErrorKind::RequirePersonWithoutPick { rule: "r".into() }
    );
}

#[test]
fn set_and_raise_priority_conflict() {
    let text = format!(
        "[[rule]]\nname = \"r\"\nreason = \"x\"\nwhen = {{ category = \"refill\" }}\nrole = \"ma\"\nset_priority = \"stat\"\nraise_priority = \"urgent\"\n{CATCH_ALL}"
    );

    assert_eq!(
        reject(&text).kind,
        TableErrorKind::ConflictingPriority { rule: "r".into() }
    );
}

#[test]
fn duplicate_rule_name_is_rejected() {
    let text = format!(
        "[[rule]]\nname = \"catch-all\"\nreason = \"x\"\nwhen = {{ category = \"refill\" }}\nrole = \"ma\"\n{CATCH_ALL}"
    );

    let error = reject(&text);

    assert_eq!(
        error.kind,
        TableErrorKind::DuplicateName {
            rule: "catch-all".into()
        }
    );
    assert_eq!(position(&error.to_config_error(&text)), (Some(7), Some(8)));
}

#[test]
fn invalid_rule_name_is_rejected() {
    let text = format!(
        "[[rule]]\nname = \"two words\"\nreason = \"x\"\nwhen = {{ category = \"refill\" }}\nrole = \"ma\"\n{CATCH_ALL}"
    );

    assert_eq!(
        reject(&text).kind,
        TableErrorKind::InvalidName {
            rule: "two words".into()
        }
    );
}

#[test]
fn empty_reason_is_rejected() {
    let text = format!(
        "[[rule]]\nname = \"r\"\nreason = \"  \"\nwhen = {{ category = \"refill\" }}\nrole = \"ma\"\n{CATCH_ALL}"
    );

    assert_eq!(
        reject(&text).kind,
        TableErrorKind::EmptyReason { rule: "r".into() }
    );
}

#[test]
fn empty_when_list_is_rejected() {
    let text =
        format!("[[rule]]\nname = \"r\"\nreason = \"x\"\nwhen = []\nrole = \"ma\"\n{CATCH_ALL}");

    assert_eq!(
        reject(&text).kind,
        TableErrorKind::EmptyConditions { rule: "r".into() }
    );
}

#[test]
fn empty_alternative_is_rejected() {
    let text = format!(
        "[[rule]]\nname = \"r\"\nreason = \"x\"\nwhen = [{{ category = \"form\" }}, {{}}]\nrole = \"ma\"\n{CATCH_ALL}"
    );

    assert_eq!(
        reject(&text).kind,
        TableErrorKind::EmptyConditions { rule: "r".into() }
    );
}

#[test]
fn empty_category_list_is_rejected() {
    let text = format!(
        "[[rule]]\nname = \"r\"\nreason = \"x\"\nwhen = {{ category = [] }}\nrole = \"ma\"\n{CATCH_ALL}"
    );

    assert_eq!(
        reject(&text).kind,
        TableErrorKind::EmptyList {
            rule: "r".into(),
            field: "category".into()
        }
    );
}

#[test]
fn attribute_with_two_tests_is_rejected() {
    let text = format!(
        "[[rule]]\nname = \"r\"\nreason = \"x\"\nwhen = {{ attributes = {{ loinc = {{ equals = \"1\", present = true }} }} }}\nrole = \"ma\"\n{CATCH_ALL}"
    );

    let error = reject(&text);

    assert_eq!(
        error.kind,
        TableErrorKind::AttributeForm {
            rule: "r".into(),
            key: "loinc".into()
        }
    );
    assert_eq!(position(&error.to_config_error(&text)), (Some(4), Some(33)));
}

#[test]
fn unknown_attribute_test_is_a_syntax_error() {
    let text = format!(
        "[[rule]]\nname = \"r\"\nreason = \"x\"\nwhen = {{ attributes = {{ loinc = {{ matches = \"1\" }} }} }}\nrole = \"ma\"\n{CATCH_ALL}"
    );

    let error = reject(&text);

    assert!(
        matches!(error.kind, TableErrorKind::Syntax { rule: Some(ref rule), ref message } if rule == "r" && message.contains("matches")),
        "{error}"
    );
}

#[test]
fn empty_age_range_is_rejected() {
    let text = format!(
        "[[rule]]\nname = \"r\"\nreason = \"x\"\nwhen = {{ min_age_minutes = 60, max_age_minutes = 60 }}\nrole = \"ma\"\n{CATCH_ALL}"
    );

    assert_eq!(
        reject(&text).kind,
        TableErrorKind::AgeRange {
            rule: "r".into(),
            min: 60,
            max: 60
        }
    );
}

#[test]
fn priority_conditions_that_exclude_everything_are_rejected() {
    let text = format!(
        "[[rule]]\nname = \"r\"\nreason = \"x\"\nwhen = {{ priority = \"routine\", min_priority = \"urgent\" }}\nrole = \"ma\"\n{CATCH_ALL}"
    );

    assert_eq!(
        reject(&text).kind,
        TableErrorKind::PriorityNeverMatches { rule: "r".into() }
    );
}

#[test]
fn unknown_field_names_rule_and_line() {
    let text = format!(
        "[[rule]]\nname = \"r\"\nreason = \"x\"\nwhen = {{ category = \"form\" }}\nrole = \"ma\"\nowner = \"ma-hill\"\n{CATCH_ALL}"
    );

    let error = config_error(&text);

    assert!(
        matches!(reject(&text).kind, TableErrorKind::Syntax { rule: Some(ref rule), .. } if rule == "r")
    );
    assert_eq!(error.line, Some(6));
    assert!(error.message.contains("owner"), "{error}");
}

#[test]
fn unknown_category_names_rule_and_column() {
    let text = format!(
        "[[rule]]\nname = \"labs\"\nreason = \"x\"\nwhen = {{ category = \"lab\" }}\nrole = \"ma\"\n{CATCH_ALL}"
    );

    let error = config_error(&text);

    assert!(error.message.starts_with("rule \"labs\": "), "{error}");
    assert!(error.message.contains("`lab`"), "{error}");
    assert_eq!(position(&error), (Some(4), Some(21)));
}

#[test]
fn invalid_toml_has_a_position() {
    let error = config_error("[[rule]]\nname = \"r\n");

    assert_eq!(error.line, Some(2));
}

#[test]
fn cel_syntax_error_names_rule_and_column() {
    // The expression starts at column 39 of line 4 and is 14 characters
    // long. The error is at the end of the input, expression column 15.
    let text = format!(
        "[[rule]]\nname = \"creatinine\"\nreason = \"x\"\nwhen = {{ category = \"result\", expr = 'age_minutes ==' }}\nrole = \"physician\"\n{CATCH_ALL}"
    );

    let error = config_error(&text);

    assert!(
        matches!(reject(&text).kind, TableErrorKind::CelSyntax { ref rule, line: 1, column: 15, .. } if rule == "creatinine"),
        "{:?}",
        reject(&text)
    );
    assert!(error.message.contains("rule \"creatinine\""), "{error}");
    assert_eq!(position(&error), (Some(4), Some(53)));
}

#[test]
fn cel_error_position_skips_escapes() {
    // The expression starts at text column 18. Each `\"` is two characters
    // of text but one of the expression, so the third `&` (the error, at
    // expression column 20) sits at text column 39.
    let text = format!(
        "[[rule]]\nname = \"r\"\nreason = \"x\"\nwhen = {{ expr = \"item.flag == \\\"x\\\" &&& true\" }}\nrole = \"ma\"\n{CATCH_ALL}"
    );

    let error = config_error(&text);

    assert!(
        matches!(
            reject(&text).kind,
            TableErrorKind::CelSyntax {
                line: 1,
                column: 20,
                ..
            }
        ),
        "{:?}",
        reject(&text)
    );
    assert_eq!(position(&error), (Some(4), Some(39)));
}

#[test]
fn cel_error_in_multi_line_expression() {
    let text = format!(
        "[[rule]]\nname = \"r\"\nreason = \"x\"\nrole = \"ma\"\n[rule.when]\nexpr = '''\nhas(item.pcp)\n  && && true\n'''\n{CATCH_ALL}"
    );

    let error = config_error(&text);

    assert!(
        matches!(
            reject(&text).kind,
            TableErrorKind::CelSyntax {
                line: 2,
                column: 6,
                ..
            }
        ),
        "{:?}",
        reject(&text)
    );
    assert_eq!(position(&error), (Some(8), Some(6)));
}

#[test]
fn cel_unknown_variable_is_rejected_at_its_position() {
    let text = format!(
        "[[rule]]\nname = \"r\"\nreason = \"x\"\nwhen = {{ expr = 'item.flag == \"critical\" && itme.key > 3' }}\nrole = \"ma\"\n{CATCH_ALL}"
    );

    let error = config_error(&text);

    assert_eq!(
        reject(&text).kind,
        TableErrorKind::CelUnknownVariable {
            rule: "r".into(),
            name: "itme".into()
        }
    );
    assert_eq!(position(&error), (Some(4), Some(45)));
}

#[test]
fn cel_regex_match_is_rejected_at_its_position() {
    // `matches` is a standard CEL function that this build leaves out. CEL
    // places a call at its opening parenthesis, the 79th character of line 4.
    let text = format!(
        "[[rule]]\nname = \"r\"\nreason = \"x\"\nwhen = {{ expr = 'item.category == \"result\" && item.attributes[\"loinc\"].matches(\"^2\")' }}\nrole = \"ma\"\n{CATCH_ALL}"
    );

    let error = config_error(&text);

    assert_eq!(
        reject(&text).kind,
        TableErrorKind::CelUnavailableFunction {
            rule: "r".into(),
            name: "matches".into()
        }
    );
    assert!(error.message.contains("startsWith"), "{}", error.message);
    assert_eq!(position(&error), (Some(4), Some(79)));
}

#[test]
fn cel_comprehension_variables_are_known() {
    let text = format!(
        "[[rule]]\nname = \"r\"\nreason = \"x\"\nwhen = {{ expr = 'absent.exists(p, p == item.pcp) && roster.roles[\"ma\"].all(m, m != \"\")' }}\nrole = \"ma\"\n{CATCH_ALL}"
    );

    let compiled = TablePolicy::compile(&site(), &text);

    assert!(compiled.is_ok(), "{:?}", compiled.err());
}

#[test]
fn empty_config_uses_the_defaults() {
    let policy =
        TablePolicy::compile(&site(), "  \n# nothing here\n").expect("the defaults compile");

    assert_eq!(policy.rule_names().next(), Some("critical-results"));
    assert_eq!(policy.rule_names().last(), Some("catch-all"));
}
