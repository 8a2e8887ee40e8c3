//! The case files under `cases/`, run natively. The host's tests run the
//! same files through the built component.

use switchboard_sdk::testing::PolicyHarness;
use table_policy::{DEFAULT_TABLE, TablePolicy};

fn run(file: &str) {
    let path = format!("{}/cases/{file}", env!("CARGO_MANIFEST_DIR"));

    let failures = PolicyHarness::<TablePolicy>::run_case_file(&path);

    assert!(failures.is_empty(), "{path}:\n{failures:#?}");
}

#[test]
fn default_table_cases() {
    run("defaults.toml");
}

#[test]
fn cel_condition_cases() {
    run("cel.toml");
}

#[test]
fn no_owner_cases() {
    run("strict.toml");
}

#[test]
fn load_balancing_cases() {
    run("balance.toml");
}

#[test]
fn sample_site_routing_file_is_the_default_table() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/config/sites/northside/routing.toml"
    );

    let copy = std::fs::read_to_string(path)
        .expect("examples/config/sites/northside/routing.toml is missing");

    assert_eq!(
        copy, DEFAULT_TABLE,
        "copy policies/table/defaults.toml to {path}"
    );
}

#[test]
fn default_table_fits_the_sample_site() {
    let site = include_str!("../../../examples/config/sites/northside.toml");

    let harness =
        PolicyHarness::<TablePolicy>::new(site, DEFAULT_TABLE, switchboard_sdk::Timestamp(0));

    assert!(harness.is_ok(), "{:?}", harness.err());
}
