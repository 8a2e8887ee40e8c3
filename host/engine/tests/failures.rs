//! Disk failures: a data folder the server may not write, and a disk that
//! fills up. Tests run as root, which ignores permissions and quotas, so
//! each case runs this test binary again as a child process under the
//! limit (`setpriv` to an unprivileged user, `prlimit --fsize` for a
//! file-size limit) or on a small tmpfs.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use common::*;
use switchboard_engine::{Engine, IngestOptions, ManualClock, SledStore, Store};
use switchboard_sdk::Batch;

/// Names the child's task; unset in a normal test run.
const CHILD_TASK: &str = "SWITCHBOARD_ENGINE_CHILD_TASK";
/// The data folder the child uses.
const CHILD_DIR: &str = "SWITCHBOARD_ENGINE_CHILD_DIR";

/// Items per batch in the disk-full runs.
const BATCH_ITEMS: usize = 50;

/// Runs the child side of a test below, and does nothing in a normal run.
#[test]
#[ignore = "started by other tests in a child process"]
fn child_task() {
    let (Ok(task), Ok(dir)) = (std::env::var(CHILD_TASK), std::env::var(CHILD_DIR)) else {
        return;
    };
    // The test harness has printed `test child_task ... ` without a line end.
    println!();
    match task.as_str() {
        "open" => match SledStore::open(&dir) {
            Ok(_) => println!("RESULT opened"),
            Err(error) => println!("RESULT error {error:?}\nMESSAGE {error}"),
        },
        "fill" => fill(Path::new(&dir)),
        "crash" => crash(Path::new(&dir)),
        other => panic!("unknown child task {other}"),
    }
}

/// Ingests numbered batches until a write fails, printing each
/// acknowledged batch number and then the error.
fn fill(dir: &Path) {
    let store = match SledStore::open(dir) {
        Ok(store) => Arc::new(store),
        Err(error) => {
            println!("OPEN-ERROR {error}");
            return;
        }
    };
    let engine = Engine::with_clock(
        store,
        Arc::new(TableRouter::default()),
        Arc::new(ManualClock::new(T0)),
    );
    engine.set_site(roster());

    for number in 0..100_000 {
        match engine.ingest(SITE, CONNECTOR, numbered_batch(number), cursor(number)) {
            Ok(_) => println!("ACK {number}"),
            Err(error) => {
                println!("ERR {error}");
                let again = engine.ingest(
                    SITE,
                    CONNECTOR,
                    numbered_batch(number + 1),
                    cursor(number + 1),
                );
                println!(
                    "AFTER {}",
                    again
                        .map(|_| "accepted".to_string())
                        .unwrap_or_else(|e| e.to_string())
                );
                return;
            }
        }
    }
    println!("NEVER-FULL");
}

/// Leaves items in every state, then exits without closing the store, as
/// a crash or `kill -9` would: deferred items are only in the log.
fn crash(dir: &Path) {
    let store = Arc::new(SledStore::open(dir).expect("store opens"));
    let engine = Engine::with_clock(
        store,
        Arc::new(TableRouter::default()),
        Arc::new(ManualClock::new(T0)),
    );
    engine.set_site(roster());
    let live = IngestOptions::default();

    let first = Batch {
        items: vec![refill("rx-1", 1), refill("rx-2", 1), refill("rx-3", 1)],
        ..Batch::default()
    };
    let routed = engine
        .ingest(SITE, CONNECTOR, first, live.clone())
        .unwrap()
        .pending;
    engine.route_pending(SITE).unwrap();
    engine.claim(SITE, routed[0], "ma-lund").unwrap();

    let second = Batch {
        items: vec![refill("rx-4", 1), refill("rx-5", 1)],
        ..Batch::default()
    };
    engine
        .ingest(SITE, CONNECTOR, second, live.clone())
        .unwrap();
    let newer = Batch {
        items: vec![refill("rx-5", 2)],
        ..Batch::default()
    };
    engine.ingest(SITE, CONNECTOR, newer, live).unwrap();

    println!("ACKED");
    std::process::exit(0);
}

fn numbered_batch(number: usize) -> Batch {
    let items = (0..BATCH_ITEMS)
        .map(|i| {
            let mut item = refill(&format!("b{number}-i{i}"), 1);
            item.title = format!("refill request {number}-{i} {}", "x".repeat(300));
            item
        })
        .collect();
    Batch {
        items,
        ..Batch::default()
    }
}

fn cursor(number: usize) -> IngestOptions {
    IngestOptions {
        cursor: Some(number.to_string()),
        ..IngestOptions::default()
    }
}

/// Runs `child_task` in a child process, wrapped by `wrapper` (a program
/// and its arguments placed before the test binary).
fn run_child(wrapper: &[&str], task: &str, dir: &Path) -> Option<Output> {
    let exe = std::env::current_exe().expect("test binary path");
    let (program, wrapper_args) = wrapper.split_first().expect("a wrapper program");
    let output = Command::new(program)
        .args(wrapper_args)
        .arg(&exe)
        .args([
            "--exact",
            "child_task",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_TASK, task)
        .env(CHILD_DIR, dir)
        .output();
    match output {
        Ok(output) => Some(output),
        Err(error) => {
            println!("skipped: cannot start {program}: {error}");
            None
        }
    }
}

/// True when the unprivileged child could not even start the test binary,
/// as happens when the build folder is not readable by other users.
fn child_could_not_start(output: &Output) -> bool {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let cannot =
        matches!(output.status.code(), Some(126 | 127)) || stderr.contains("failed to execute");
    if cannot {
        println!("skipped: the unprivileged child could not start: {stderr}");
    }
    cannot
}

fn stdout_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn readable_by_all(path: &Path) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

const UNPRIVILEGED: [&str; 4] = [
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
];

#[test]
fn read_only_store_is_clear_error() {
    let fx = Fixture::new();
    fx.ingest_routed(vec![refill("rx-1", 1), refill("rx-2", 1)]);
    let dir = fx.close();
    readable_by_all(dir.path());
    let db = dir.path().join("db");
    for entry in std::fs::read_dir(&db).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            readable_by_all(&path);
        }
    }

    let Some(output) = run_child(&UNPRIVILEGED, "open", &db) else {
        return;
    };
    if child_could_not_start(&output) {
        return;
    }

    let lines = stdout_lines(&output);
    let result = lines.iter().find(|l| l.starts_with("RESULT"));
    let result = result.unwrap_or_else(|| {
        panic!(
            "the child did not report: {lines:?} {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let message = lines
        .iter()
        .find(|l| l.starts_with("MESSAGE"))
        .cloned()
        .unwrap_or_default();
    assert!(result.starts_with("RESULT error Io"), "{lines:?}");
    assert!(message.contains("opening the database"), "{message}");
    assert!(message.contains("ermission denied"), "{message}");
    let store = SledStore::open(&db).unwrap();
    assert_eq!(stored_items(&store), 2);
    assert!(store.verify().unwrap().is_healthy());
}

#[test]
fn read_only_folder_cannot_create_store() {
    let dir = tempfile::tempdir().unwrap();
    readable_by_all(dir.path());
    let db = dir.path().join("new-store");

    let Some(output) = run_child(&UNPRIVILEGED, "open", &db) else {
        return;
    };
    if child_could_not_start(&output) {
        return;
    }

    let lines = stdout_lines(&output);
    let result = lines.iter().find(|l| l.starts_with("RESULT"));
    let result = result.unwrap_or_else(|| {
        panic!(
            "the child did not report: {lines:?} {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(result.starts_with("RESULT error Io"), "{lines:?}");
    assert!(!db.exists(), "nothing was created");
}

/// Checks a store after a write failed: every acknowledged batch is
/// complete, the failed one is complete or absent, and the trees match
/// the log.
fn check_after_failure(db: &Path, acknowledged: &[usize]) {
    let store = SledStore::open(db).expect("the store reopens after the failure");
    let last = acknowledged.last().copied();
    for &number in acknowledged {
        for i in 0..BATCH_ITEMS {
            let id = format!("b{number}-i{i}");
            assert!(
                store.find_source(SITE, CONNECTOR, &id).unwrap().is_some(),
                "acknowledged {id} lost"
            );
        }
    }

    let failed = last.map_or(0, |n| n + 1);
    let present = (0..BATCH_ITEMS)
        .filter(|i| {
            store
                .find_source(SITE, CONNECTOR, &format!("b{failed}-i{i}"))
                .unwrap()
                .is_some()
        })
        .count();
    assert!(
        present == 0 || present == BATCH_ITEMS,
        "failed batch half-written: {present} items"
    );

    let cursor = store.cursor(SITE, CONNECTOR).unwrap();
    let expected = if present == BATCH_ITEMS {
        Some(failed)
    } else {
        last
    };
    assert_eq!(cursor, expected.map(|n| n.to_string()));
    let report = store.verify().unwrap();
    assert!(report.is_healthy(), "{:?}", report.mismatches);
}

#[test]
fn file_size_limit_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    // `trap '' XFSZ` makes the kernel return EFBIG instead of killing the
    // child with SIGXFSZ; an ignored signal stays ignored across exec.
    let script = "trap '' XFSZ; exec prlimit --fsize=4000000 -- \"$@\"";
    let wrapper = ["sh", "-c", script, "sh"];

    let Some(output) = run_child(&wrapper, "fill", &db) else {
        return;
    };

    let lines = stdout_lines(&output);
    let acknowledged: Vec<usize> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("ACK ")?.parse().ok())
        .collect();
    let error = lines
        .iter()
        .find(|l| l.starts_with("ERR "))
        .unwrap_or_else(|| {
            panic!(
                "no write failed: {lines:?} {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let after = lines
        .iter()
        .find(|l| l.starts_with("AFTER "))
        .expect("a write after the failure");
    println!(
        "{} batches acknowledged, then {error}; {after}",
        acknowledged.len()
    );
    assert!(
        !acknowledged.is_empty(),
        "the limit left room for some batches"
    );
    assert!(
        error.contains("storage failed") || error.contains("rejects writes"),
        "{error}"
    );
    assert!(
        after.contains("rejects writes after an earlier failure"),
        "{after}"
    );
    check_after_failure(&db, &acknowledged);
}

/// Unmounts a tmpfs when dropped.
struct Mount<'a>(&'a Path);

impl Drop for Mount<'_> {
    fn drop(&mut self) {
        let status = Command::new("umount").arg(self.0).status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("could not unmount the test tmpfs at {}", self.0.display());
        }
    }
}

#[test]
fn full_disk_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"])
        .arg(dir.path())
        .output();
    if !mounted.as_ref().is_ok_and(|o| o.status.success()) {
        println!("skipped: cannot mount a tmpfs here ({mounted:?})");
        return;
    }
    let mount = Mount(dir.path());
    let db = dir.path().join("db");

    let Some(output) = run_child(&["env"], "fill", &db) else {
        return;
    };

    let lines = stdout_lines(&output);
    let acknowledged: Vec<usize> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("ACK ")?.parse().ok())
        .collect();
    let error = lines
        .iter()
        .find(|l| l.starts_with("ERR ") || l.starts_with("OPEN-ERROR"));
    let error = error.unwrap_or_else(|| {
        panic!(
            "no write failed: {lines:?} {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    println!("{} batches acknowledged, then {error}", acknowledged.len());
    assert!(
        error.contains("storage failed") || error.contains("rejects writes"),
        "{error}"
    );

    let grown = Command::new("mount")
        .args(["-o", "remount,size=64m"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(grown.success());
    check_after_failure(&db, &acknowledged);
    drop(mount);
}

#[test]
fn crash_keeps_acknowledged_items() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");

    let Some(output) = run_child(&["env"], "crash", &db) else {
        return;
    };

    assert!(
        stdout_lines(&output).iter().any(|l| l == "ACKED"),
        "{output:?}"
    );
    let store = Arc::new(SledStore::open(&db).unwrap());
    let engine = Engine::with_clock(
        store.clone(),
        Arc::new(TableRouter::default()),
        Arc::new(ManualClock::new(T0)),
    );
    engine.set_site(roster());
    let pending: Vec<String> = engine
        .pending(SITE, 10)
        .unwrap()
        .iter()
        .map(|i| format!("{}@{}", i.source.external_id, i.source.version))
        .collect();
    let (claimed, _) = store.find_source(SITE, CONNECTOR, "rx-1").unwrap().unwrap();
    assert_eq!(pending, vec!["rx-4@1", "rx-5@2"]);
    assert_eq!(stored_items(store.as_ref()), 5);
    assert_eq!(
        engine.item(SITE, claimed).unwrap().person(),
        Some("ma-lund")
    );
    assert!(engine.verify().unwrap().is_healthy());
    assert_eq!(engine.route_pending(SITE).unwrap().routed, 2);
    assert_eq!(engine.counts(SITE).unwrap().roles[0].1.open(), 5);
}
