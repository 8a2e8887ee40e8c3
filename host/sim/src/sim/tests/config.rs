//! Practice file parsing, merging and validation.

use super::date;
use crate::sim::*;

#[test]
fn config_tables_merge_into_defaults() {
    let text = "[minutes.refill]\nma = 2.0\n\n[roles.rn]\ncapacity_minutes = 120\n";

    let config = PracticeConfig::from_toml(text).unwrap();

    assert_eq!(config.minutes_for(WorkKind::Refill, "ma"), 2.0);
    assert_eq!(config.minutes_for(WorkKind::Refill, "physician"), 0.6);
    assert_eq!(config.roles["rn"].capacity_minutes, 120.0);
    assert_eq!(config.roles["physician"].capacity_minutes, 100.0);
    assert_eq!(config.sites.len(), 3);
}

#[test]
fn config_reads_sites_and_people() {
    let text = r#"
start_date = "2026-04-06"

[volumes.inbox]
result = 10.0

[[sites]]
id = "lake"
time_zone = "America/Denver"

[[sites.people]]
id = "dr-x"
role = "physician"
pod = "a"
closure_multiplier = 1.5

[[sites.people]]
id = "ma-y"
role = "ma"
pod = "a"
"#;

    let config = PracticeConfig::from_toml(text).unwrap();

    assert_eq!(config.start_date, date(2026, 4, 6));
    assert_eq!(config.volumes.inbox.result, 10.0);
    assert_eq!(config.volumes.inbox.message, 15.1);
    assert_eq!(
        config.sites[0].clinic_hours,
        vec!["mon-fri 08:00-17:00".to_string()]
    );
    assert_eq!(config.sites[0].people[0].closure_multiplier, 1.5);
}

#[test]
fn default_config_round_trips_through_toml() {
    let config = PracticeConfig::default();

    let text = config.to_toml().unwrap();
    let read = PracticeConfig::from_toml(&text).unwrap();

    assert_eq!(read, config);
}

#[test]
fn steady_range_skips_warm_up() {
    // The default tail reaches 14 days, so the steady range starts 15 days
    // after 2026-03-02.
    let config = PracticeConfig::default();

    let long = run(&config, 20, 1, &mut PhysicianDefault).unwrap();
    let short = run(&config, 10, 1, &mut PhysicianDefault).unwrap();

    let steady = long.steady.unwrap();
    assert_eq!(steady.start, date(2026, 3, 17));
    assert_eq!(steady.end, date(2026, 3, 21));
    assert_eq!(short.steady, None);
}

#[test]
fn config_rejects_unknown_key() {
    let error = PracticeConfig::from_toml("[volumes]\nappointmentz = 3\n").unwrap_err();

    let ConfigError::Toml(message) = error else {
        panic!("expected a TOML error, got {error:?}")
    };
    assert!(message.contains("appointmentz"), "{message}");
}

#[test]
fn config_rejects_share_above_one() {
    let error = PracticeConfig::from_toml("[results]\nabnormal_rate = 1.5\n").unwrap_err();

    assert_eq!(
        error,
        ConfigError::OutOfRange {
            key: "results.abnormal_rate".into(),
            value: "1.5".into(),
            expected: "use a share from 0 to 1".into()
        }
    );
}

#[test]
fn config_rejects_undefined_role() {
    let text = "[[sites]]\nid = \"s\"\ntime_zone = \"UTC\"\n[[sites.people]]\nid = \"a\"\nrole = \"scribe\"\n";

    let error = PracticeConfig::from_toml(text).unwrap_err();

    let ConfigError::Invalid(message) = error else {
        panic!("expected Invalid")
    };
    assert!(message.contains("\"scribe\""), "{message}");
    assert!(message.contains("[roles.scribe]"), "{message}");
}

#[test]
fn config_rejects_site_without_clinician() {
    let text =
        "[[sites]]\nid = \"s\"\ntime_zone = \"UTC\"\n[[sites.people]]\nid = \"a\"\nrole = \"ma\"\n";

    let error = PracticeConfig::from_toml(text).unwrap_err();

    assert_eq!(
        error,
        ConfigError::Invalid(
            "site \"s\" has no clinician; add a person whose role has clinician = true".into()
        )
    );
}

#[test]
fn config_rejects_unknown_zone() {
    let text = "[[sites]]\nid = \"s\"\ntime_zone = \"Mars/Base\"\n[[sites.people]]\nid = \"a\"\nrole = \"physician\"\n";

    let error = PracticeConfig::from_toml(text).unwrap_err();

    let ConfigError::Invalid(message) = error else {
        panic!("expected Invalid")
    };
    assert!(message.contains("Mars/Base"), "{message}");
}
