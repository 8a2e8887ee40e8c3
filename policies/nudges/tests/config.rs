//! Nudge configurations that `configure` accepts and rejects.

use closure_nudges::{DEFAULT_CONFIG, NudgePolicy, Offsets, Settings, SettingsError};
use switchboard_sdk::site::parse_site;
use switchboard_sdk::testing::PolicyHarness;
use switchboard_sdk::{ConfigError, Site, Timestamp};

const SITE: &str = include_str!("site.toml");

fn site() -> Site {
    parse_site(SITE).expect("the test site parses")
}

fn reject(text: &str) -> SettingsError {
    NudgePolicy::compile(site(), text).expect_err("the config was accepted")
}

fn config_error(text: &str) -> ConfigError {
    PolicyHarness::<NudgePolicy>::new(SITE, text, Timestamp(0))
        .expect_err("the config was accepted")
}

#[test]
fn empty_config_uses_defaults() {
    let policy = NudgePolicy::compile(site(), "").unwrap();

    let expected = Settings {
        charts: Some(Offsets {
            reminder: -240,
            warning: 0,
            escalation: 1440,
        }),
        due: Some(Offsets {
            reminder: 0,
            warning: 240,
            escalation: 1440,
        }),
        escalation_role: "medical-director".into(),
    };
    assert_eq!(policy.settings(), &expected);
}

#[test]
fn defaults_file_matches_built_in_defaults() {
    let from_file = NudgePolicy::compile(site(), DEFAULT_CONFIG).unwrap();
    let from_nothing = NudgePolicy::compile(site(), "# nothing\n").unwrap();

    assert_eq!(from_file.settings(), from_nothing.settings());
}

#[test]
fn sample_site_nudges_file_is_the_defaults() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/config/sites/northside/nudges.toml"
    );

    let copy = std::fs::read_to_string(path)
        .expect("examples/config/sites/northside/nudges.toml is missing");

    assert_eq!(
        copy, DEFAULT_CONFIG,
        "copy policies/nudges/defaults.toml to {path}"
    );
}

#[test]
fn section_keys_left_out_keep_their_defaults() {
    let policy = NudgePolicy::compile(site(), "[due]\nwarning_minutes = 60\n").unwrap();

    assert_eq!(
        policy.settings().due,
        Some(Offsets {
            reminder: 0,
            warning: 60,
            escalation: 1440
        })
    );
}

#[test]
fn unknown_key_is_rejected_with_position() {
    let error = config_error("[charts]\nreminder = -240\n");

    assert_eq!((error.line, error.column), (Some(2), Some(1)));
    assert!(error.message.contains("reminder"), "{error}");
}

#[test]
fn offsets_out_of_order_are_rejected() {
    let text = "[charts]\nreminder_minutes = 60\nwarning_minutes = 0\n";

    let error = reject(text);

    assert!(
        matches!(
            error,
            SettingsError::OffsetOrder {
                section: "charts",
                reminder: 60,
                warning: 0,
                escalation: 1440,
                ..
            }
        ),
        "{error:?}"
    );
    let positioned = error.to_config_error(text);
    assert_eq!((positioned.line, positioned.column), (Some(2), Some(20)));
}

#[test]
fn offset_beyond_thirty_days_is_rejected() {
    let error = reject("[due]\nescalation_minutes = 86400000\n");

    assert!(
        matches!(
            error,
            SettingsError::OffsetTooLarge {
                key: "escalation_minutes",
                value: 86_400_000,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn unknown_escalation_role_is_rejected() {
    let text = "[escalation]\nrole = \"chief\"\n";

    let error = config_error(text);

    assert!(matches!(reject(text), SettingsError::UnknownRole { ref role, .. } if role == "chief"));
    assert_eq!((error.line, error.column), (Some(2), Some(8)));
}

#[test]
fn unsupported_schema_is_rejected() {
    assert!(matches!(
        reject("schema = 3\n"),
        SettingsError::UnsupportedSchema { found: 3, .. }
    ));
}

#[test]
fn defaults_fit_the_sample_site() {
    let site = include_str!("../../../examples/config/sites/northside.toml");

    let harness = PolicyHarness::<NudgePolicy>::new(site, DEFAULT_CONFIG, Timestamp(0));

    assert!(harness.is_ok(), "{:?}", harness.err());
}
