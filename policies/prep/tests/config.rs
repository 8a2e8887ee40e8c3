//! Prep configurations that `configure` accepts and rejects.

use previsit_prep::{DEFAULT_CONFIG, PrepPolicy, SettingsError};
use switchboard_sdk::testing::PolicyHarness;
use switchboard_sdk::{ConfigError, Site, Timestamp};

const SITE: &str = "id = \"harbor\"\ntime_zone = \"America/Chicago\"\n";

fn site() -> Site {
    switchboard_sdk::site::parse_site(SITE).unwrap()
}

fn reject(text: &str) -> SettingsError {
    PrepPolicy::compile(&site(), text).expect_err("the config was accepted")
}

fn config_error(text: &str) -> ConfigError {
    PolicyHarness::<PrepPolicy>::new(SITE, text, Timestamp(0)).expect_err("the config was accepted")
}

#[test]
fn empty_config_uses_the_defaults() {
    let empty = PrepPolicy::compile(&site(), "").unwrap();
    let file = PrepPolicy::compile(&site(), DEFAULT_CONFIG).unwrap();

    assert_eq!(empty.settings(), file.settings());
    assert_eq!(empty.settings().lead_minutes, 60);
    assert_eq!(empty.settings().standard.len(), 2);
}

#[test]
fn unknown_key_is_rejected_with_position() {
    let error = config_error("lead_minutes = 60\n[results]\nmax_title = 3\n");

    assert_eq!((error.line, error.column), (Some(3), Some(1)));
    assert!(error.message.contains("max_title"), "{error}");
}

#[test]
fn reserved_slug_is_rejected() {
    let text = "[[standard]]\nkinds = [\"annual-physical\"]\nslug = \"results\"\ntitle = \"x\"\n";

    let error = config_error(text);

    assert!(
        matches!(reject(text), SettingsError::ReservedSlug { ref slug, .. } if slug == "results")
    );
    assert_eq!((error.line, error.column), (Some(3), Some(8)));
}

#[test]
fn duplicate_slug_for_a_kind_is_rejected() {
    let text = "[[standard]]\nkinds = [\"a\", \"b\"]\nslug = \"forms-packet\"\ntitle = \"x\"\n\n[[standard]]\nkinds = [\"B\"]\nslug = \"forms-packet\"\ntitle = \"y\"\n";

    let error = reject(text);

    assert!(
        matches!(error, SettingsError::DuplicateSlug { ref slug, ref kind, .. } if slug == "forms-packet" && kind == "b"),
        "{error:?}"
    );
}

#[test]
fn same_slug_for_different_kinds_is_accepted() {
    let text = "[[standard]]\nkinds = [\"a\"]\nslug = \"packet\"\ntitle = \"x\"\n\n[[standard]]\nkinds = [\"b\"]\nslug = \"packet\"\ntitle = \"y\"\n";

    assert!(PrepPolicy::compile(&site(), text).is_ok());
}

#[test]
fn invalid_slug_is_rejected() {
    let text = "[[standard]]\nkinds = [\"a\"]\nslug = \"Screening Form\"\ntitle = \"x\"\n";

    assert!(matches!(reject(text), SettingsError::InvalidSlug { .. }));
}

#[test]
fn empty_kinds_are_rejected() {
    let text = "[[standard]]\nkinds = []\nslug = \"packet\"\ntitle = \"x\"\n";

    assert!(matches!(reject(text), SettingsError::NoKinds { .. }));
}

#[test]
fn empty_title_is_rejected() {
    let text = "[[standard]]\nkinds = [\"a\"]\nslug = \"packet\"\ntitle = \" \"\n";

    assert!(matches!(reject(text), SettingsError::EmptyTitle { .. }));
}

#[test]
fn lead_time_beyond_thirty_days_is_rejected() {
    assert!(matches!(
        reject("lead_minutes = 50000\n"),
        SettingsError::LeadTooLong { value: 50_000, .. }
    ));
}

#[test]
fn zero_max_titles_is_rejected() {
    assert!(matches!(
        reject("[forms]\nmax_titles = 0\n"),
        SettingsError::MaxTitles { value: 0, .. }
    ));
}

#[test]
fn unsupported_schema_is_rejected() {
    assert!(matches!(
        reject("schema = 2\n"),
        SettingsError::UnsupportedSchema { found: 2, .. }
    ));
}

#[test]
fn defaults_fit_the_sample_site() {
    let site = include_str!("../../../examples/config/sites/northside.toml");

    let harness = PolicyHarness::<PrepPolicy>::new(site, DEFAULT_CONFIG, Timestamp(0));

    assert!(harness.is_ok(), "{:?}", harness.err());
}
