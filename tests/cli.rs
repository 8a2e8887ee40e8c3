//! The command line, run as a separate process the way users run it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use switchboard_sdk::jsonl::AssignmentLine;
use switchboard_tests::{HostFolder, sample_site_path, workspace};

fn switchboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard-under-test"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Runs the command with `input` on standard input.
fn switchboard_with_input(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard-under-test"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .expect("a stdin pipe")
        .write_all(input.as_bytes())
        .expect("stdin written");
    child.wait_with_output().expect("the binary exits")
}

/// Runs the command with standard output on a pipe whose reader was closed
/// before the command started, so its first write fails with `EPIPE`, as
/// when `head` exits early in `switchboard … | head`.
fn switchboard_closed_stdout(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_switchboard-under-test"))
        .args(args)
        .stdout(writer)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
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
    assert!(stdout.contains("routing    policy-packed"), "{stdout}");
}

#[test]
fn plugin_check_names_typed_routing() {
    let output = switchboard(&["plugin", "check", &guest("plain-policy")]);

    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        stdout.contains("routing    policy-api (typed records)"),
        "{stdout}"
    );
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
    // The sample site runs the table policy, not this one.
    assert!(stderr.contains("names plugin example-policy"), "{stderr}");
    assert!(stderr.contains("--config FILE"), "{stderr}");
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
fn policy_route_names_rejected_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("routing.toml");
    std::fs::write(&config, "ma = \"scribe\"\n").unwrap();

    let output = switchboard(&[
        "policy",
        "route",
        &guest("example-policy"),
        "--site",
        &sample_site_path().display().to_string(),
        "--config",
        &config.display().to_string(),
    ]);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("routing.toml"), "{stderr}");
    assert!(stderr.contains("scribe"), "{stderr}");
    assert!(!stderr.contains("names plugin"), "{stderr}");
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

#[test]
fn store_commands_reject_folder_without_store() {
    let dir = tempfile::tempdir().unwrap();
    let mistyped = dir.path().join("dta");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();

    for data in [&mistyped, &empty] {
        for command in ["verify", "rebuild"] {
            let output = switchboard(&["store", command, "--data", &data.display().to_string()]);

            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "store {command}: {stderr}");
            assert!(
                stderr.contains(&format!("no Switchboard store at \"{}\"", data.display())),
                "store {command}: {stderr}"
            );
            assert!(stderr.contains("data_dir in switchboard.toml"), "{stderr}");
            assert!(output.stdout.is_empty(), "store {command} printed a result");
        }
    }
    assert!(!mistyped.exists(), "a store folder was created");
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
}

#[test]
fn demo_stops_cleanly_and_store_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("demo");
    let demo = switchboard(&[
        "demo",
        "--once",
        "--days",
        "2",
        "--dir",
        &root.display().to_string(),
    ]);
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );

    let output = switchboard(&[
        "store",
        "verify",
        "--data",
        &root.join("data").display().to_string(),
    ]);

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("healthy: the trees match the log"),
        "{stdout}"
    );
    assert!(stdout.contains("replayed at open       0\n"), "{stdout}");
    assert!(stdout.contains("mismatches             0\n"), "{stdout}");
    assert!(!stderr.contains("replayed log records"), "{stderr}");
    assert!(!stdout.contains("VerifyReport"), "{stdout}");
}

/// SHA-256 of "abc", from the FIPS 180-2 test vectors.
const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

#[test]
fn token_hash_of_argument() {
    let output = switchboard(&["token", "hash", "abc"]);

    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), format!("{SHA256_ABC}\n"));
}

#[test]
fn token_hash_of_stdin_trims_newline() {
    let output = switchboard_with_input(&["token", "hash"], "abc\n");

    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), format!("{SHA256_ABC}\n"));
}

#[test]
fn token_hash_warns_on_short_token() {
    let output = switchboard(&["token", "hash", "abc"]);

    assert!(
        text(&output.stderr).contains("token new"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn token_hash_rejects_empty_input() {
    let output = switchboard_with_input(&["token", "hash"], " \n");

    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("the token is empty"),
        "{}",
        text(&output.stderr)
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn token_hash_rejects_several_lines() {
    let output = switchboard_with_input(&["token", "hash"], "one\ntwo\n");

    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("several lines"),
        "{}",
        text(&output.stderr)
    );
}

/// Splits `token new` output into (token, hash).
fn new_token() -> (String, String) {
    let output = switchboard(&["token", "new"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let token = lines[0].strip_prefix("token   ").expect("a token line");
    let hash = lines[1].strip_prefix("sha256  ").expect("a sha256 line");
    (token.to_string(), hash.to_string())
}

#[test]
fn token_new_prints_token_and_hash() {
    let (token, hash) = new_token();

    assert_eq!(token.len(), 64, "{token}");
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()), "{token}");
    let rehashed = switchboard(&["token", "hash", &token]);
    assert_eq!(text(&rehashed.stdout).trim(), hash);
    assert!(
        text(&rehashed.stderr).is_empty(),
        "a new token is long enough: {}",
        text(&rehashed.stderr)
    );
}

#[test]
fn token_new_differs_each_run() {
    let (first, _) = new_token();
    let (second, _) = new_token();

    assert_ne!(first, second);
}

#[test]
fn token_hash_accepted_by_host_config() {
    let (token, _) = new_token();
    let hash = text(&switchboard(&["token", "hash", &token]).stdout);
    let config = format!(
        "schema = 1\n\n[[tokens]]\nname = \"admin\"\nsha256 = \"{}\"\nscopes = [\"admin\"]\n",
        hash.trim()
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.toml");
    std::fs::write(&path, config).unwrap();

    let loaded = switchboard::config::HostConfig::load(&path);

    assert!(loaded.is_ok(), "{loaded:?}");
}

/// Asserts a command run with a closed standard output exited with status
/// 0 and wrote nothing about it on standard error.
fn assert_quiet_exit(args: &[&str]) {
    let output = switchboard_closed_stdout(args);

    let stderr = text(&output.stderr);
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    assert!(!stderr.contains("error:"), "{args:?}: {stderr}");
    assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
}

#[test]
fn closed_stdout_token_commands() {
    assert_quiet_exit(&["token", "new"]);
    assert_quiet_exit(&["token", "hash", "a-token-long-enough-to-pass"]);
}

#[test]
fn closed_stdout_plugin_check() {
    assert_quiet_exit(&["plugin", "check", &guest("example-policy")]);
}

#[test]
fn closed_stdout_policy_route() {
    let dir = tempfile::tempdir().unwrap();
    let items = dir.path().join("items.ndjson");
    std::fs::write(
        &items,
        r#"{"external_id":"MedicationRequest/1","version":1,"category":"refill","title":"renewal","pcp":"Practitioner/lee","created":"2026-03-09T14:00:00Z"}"#,
    )
    .unwrap();

    assert_quiet_exit(&[
        "policy",
        "route",
        &guest("example-policy"),
        "--site",
        &sample_site_path().display().to_string(),
        "--now",
        "2026-03-09T15:00:00Z",
        &items.display().to_string(),
    ]);
}

#[test]
fn closed_stdout_report() {
    let folder = HostFolder::new(&[], &[("northside", "")]);
    let out = folder.path().join("report");

    assert_quiet_exit(&[
        "report",
        "--config",
        &folder.path().display().to_string(),
        "--site",
        "northside",
        "--baseline",
        "2026-03-02..2026-03-06",
        "--pilot",
        "2026-03-09..2026-03-13",
        "--out",
        &out.display().to_string(),
    ]);
}
