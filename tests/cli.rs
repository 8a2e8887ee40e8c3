//! The command line, run as a separate process the way users run it.

use std::process::{Command, Output};

use switchboard_sdk::jsonl::AssignmentLine;
use switchboard_tests::{sample_site_path, workspace};

fn switchboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard-under-test"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn guest(name: &str) -> String {
    switchboard::bundled::guest_dir(name).display().to_string()
}

#[test]
fn plugin_check_prints_identity() {
    let output = switchboard(&["plugin", "check", &guest("example-policy")]);

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("world      policy"), "{stdout}");
    assert!(
        stdout.contains("interface  switchboard:plugin@0.1.0"),
        "{stdout}"
    );
    assert!(stdout.contains("sha256     "), "{stdout}");
}

#[test]
fn plugin_check_rejects_old_interface() {
    let output = switchboard(&["plugin", "check", &guest("old-interface")]);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("switchboard:plugin@0.0.9"), "{stderr}");
    assert!(stderr.contains("rebuild"), "{stderr}");
}

#[test]
fn plugin_check_names_missing_manifest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        switchboard::bundled::guest_dir("example-policy").join("plugin.wasm"),
        dir.path().join("plugin.wasm"),
    )
    .unwrap();

    let output = switchboard(&["plugin", "check", &dir.path().display().to_string()]);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("plugin.toml"), "{stderr}");
}

#[test]
fn policy_route_prints_assignments_and_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let items = dir.path().join("items.ndjson");
    let lines = [
        r#"{"external_id":"MedicationRequest/1","version":1,"category":"refill","title":"renewal","pcp":"Practitioner/lee","created":"2026-03-09T14:00:00Z"}"#,
        r#"{"item":{"external_id":"DiagnosticReport/2","version":1,"category":"result","flag":"abnormal","title":"A1c","ordering":"Practitioner/ortiz","created":"2026-03-09T14:00:00Z"}}"#,
        r#"{"external_id":"broken","category":"refill"}"#,
    ];
    std::fs::write(&items, lines.join("\n")).unwrap();

    let output = switchboard(&[
        "policy",
        "route",
        &guest("example-policy"),
        "--site",
        &sample_site_path().display().to_string(),
        "--now",
        "2026-03-09T15:00:00Z",
        &items.display().to_string(),
    ]);

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a bad line makes the run fail"
    );
    assert!(stderr.contains("line 3"), "{stderr}");
    let routed: Vec<AssignmentLine> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(routed.len(), 2);
    assert_eq!(routed[0].line, 1);
    assert_eq!(routed[0].role.as_deref(), Some("ma"));
    assert_eq!(
        routed[0].person.as_deref(),
        Some("ma-ana"),
        "the PCP's pod is blue; ma-ana sorts first at equal load"
    );
    assert_eq!(routed[1].line, 2);
    assert_eq!(routed[1].person.as_deref(), Some("dr-ortiz"));
    assert_eq!(routed[1].rule.as_deref(), Some("abnormal-results"));
}

#[test]
fn policy_route_names_bad_site_field() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("northside.toml");
    let text =
        std::fs::read_to_string(workspace().join("examples/config/sites/northside.toml")).unwrap();
    std::fs::write(
        &site,
        text.replace("America/Chicago", "America/Springfield"),
    )
    .unwrap();

    let output = switchboard(&[
        "policy",
        "route",
        &guest("example-policy"),
        "--site",
        &site.display().to_string(),
    ]);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("time_zone"), "{stderr}");
    assert!(stderr.contains("America/Springfield"), "{stderr}");
}

#[test]
fn demo_routes_sample_items() {
    let output = switchboard(&["demo", "--once", "--days", "5"]);

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("open worklist items by role"), "{stdout}");
    assert!(stdout.contains("Physician-inbox share"), "{stdout}");
    assert_eq!(
        stdout.matches("vs the table policy").count(),
        3,
        "one comparison per site: {stdout}"
    );
}
