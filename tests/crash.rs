//! Crash safety of the real `switchboard serve` process: SIGKILL at random
//! moments never loses an item the host acknowledged, never stores one
//! twice, and every acknowledgement is preceded by a sync of the store.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_tests::{HostFolder, ServerProcess, fhir_task};

const SITE_PLUGINS: &str = "
[routing]
plugin = \"table-policy\"
config = \"northside/routing.toml\"

[[connectors]]
name = \"ehr\"
plugin = \"fhir-connector\"
inbox = false
";

const INTAKE: &str = "intake-secret";
const ADMIN: &str = "admin-secret";

fn folder() -> HostFolder {
    HostFolder::new(
        &[
            (INTAKE, "intake", Some("northside"), None, "intake"),
            (ADMIN, "admin", None, None, "admin"),
        ],
        &[("northside", SITE_PLUGINS)],
    )
}

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_switchboard-under-test"))
}

/// Posts one Task; true when the host acknowledged it (200).
fn send(folder: &HostFolder, id: u64) -> bool {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(&folder.url("/v1/sites/northside/connectors/ehr/messages"))
        .header("authorization", &format!("Bearer {INTAKE}"))
        .header("content-type", "application/fhir+json")
        .send(fhir_task(id).as_bytes());
    matches!(response, Ok(r) if r.status() == 200)
}

/// External id -> (count, statuses) over every role worklist of the site.
fn routed_items(folder: &HostFolder) -> BTreeMap<String, Vec<String>> {
    let roles = [
        "physician",
        "np",
        "rn",
        "ma",
        "front-desk",
        "billing",
        "referral-coordinator",
        "medical-director",
    ];
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for role in roles {
        let mut after: Option<String> = None;
        loop {
            let mut url = folder.url(&format!(
                "/v1/sites/northside/worklists/roles/{role}?limit=200"
            ));
            if let Some(cursor) = &after {
                url.push_str(&format!("&after={cursor}"));
            }
            let mut response = ureq::get(&url)
                .header("authorization", &format!("Bearer {ADMIN}"))
                .call()
                .expect("worklist read");
            let page: serde_json::Value =
                serde_json::from_str(&response.body_mut().read_to_string().expect("body"))
                    .expect("json");
            for item in page["items"].as_array().expect("items") {
                let id = item["external_id"].as_str().unwrap_or_default().to_string();
                found
                    .entry(id)
                    .or_default()
                    .push(item["status"].as_str().unwrap_or_default().to_string());
            }
            match page["next"].as_str() {
                Some(next) => after = Some(next.to_string()),
                None => break,
            }
        }
    }
    found
}

/// A small deterministic generator for kill moments.
struct Lcg(u64);

impl Lcg {
    fn next_ms(&mut self, low: u64, high: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        low + (self.0 >> 33) % (high - low)
    }
}

#[test]
fn sigkill_loses_no_acknowledged_item() {
    let folder = Arc::new(folder());
    let acked: Arc<Mutex<BTreeSet<u64>>> = Arc::new(Mutex::new(BTreeSet::new()));
    let next_id = Arc::new(AtomicU64::new(1));
    let mut moments = Lcg(0x5eed_cafe);
    let kills = 12;

    for _ in 0..kills {
        let server = ServerProcess::start(binary(), &folder);
        let stop = Arc::new(AtomicBool::new(false));
        let senders: Vec<_> = (0..2)
            .map(|_| {
                let (folder, acked, next_id, stop) =
                    (folder.clone(), acked.clone(), next_id.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        let id = next_id.fetch_add(1, Ordering::SeqCst);
                        if send(&folder, id) {
                            acked.lock().unwrap().insert(id);
                        }
                    }
                })
            })
            .collect();
        // The kill moment is random on purpose: it lands in the middle of
        // ingests, flushes and routing passes.
        std::thread::sleep(Duration::from_millis(moments.next_ms(150, 900)));
        server.kill();
        stop.store(true, Ordering::SeqCst);
        for sender in senders {
            sender.join().unwrap();
        }
    }

    let server = ServerProcess::start(binary(), &folder);
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 50,
        "only {} items were acknowledged across {kills} runs; the test did not exercise the host",
        acked.len()
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let found = loop {
        let found = routed_items(&folder);
        let missing = acked
            .iter()
            .filter(|id| !found.contains_key(&format!("Task/t{id}")))
            .count();
        if missing == 0 || Instant::now() > deadline {
            break found;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(server);

    for id in &acked {
        let key = format!("Task/t{id}");
        let statuses = found
            .get(&key)
            .unwrap_or_else(|| panic!("acknowledged item {key} is missing after {kills} kills"));
        assert_eq!(
            statuses.len(),
            1,
            "item {key} appears {} times",
            statuses.len()
        );
        assert_eq!(
            statuses[0], "ready",
            "item {key} is {} instead of routed to a pool",
            statuses[0]
        );
    }
    for (key, statuses) in &found {
        assert_eq!(
            statuses.len(),
            1,
            "item {key} appears {} times",
            statuses.len()
        );
    }
}

/// Finds strace, installing Debian's package when running as root.
fn strace() -> std::path::PathBuf {
    let path = std::path::PathBuf::from("/usr/bin/strace");
    if path.exists() {
        return path;
    }
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    assert!(
        root,
        "strace is missing; install Debian's strace package (apt-get install strace)"
    );
    let update = std::process::Command::new("apt-get").arg("update").status();
    let install = std::process::Command::new("apt-get")
        .args(["install", "-y", "strace"])
        .status();
    assert!(
        matches!(update, Ok(s) if s.success())
            && matches!(install, Ok(s) if s.success())
            && path.exists(),
        "failed to install Debian's strace package; install it with apt-get install strace"
    );
    path
}

#[test]
fn acknowledgements_follow_a_sync() {
    let folder = folder();
    let trace = folder.path().join("strace.txt");
    let mut command = std::process::Command::new(strace());
    command
        .args([
            "-f",
            "-ttt",
            "-s",
            "48",
            "-e",
            "trace=fsync,fdatasync,sync_file_range,msync,syncfs,write,writev,sendto,sendmsg",
            "-o",
        ])
        .arg(&trace)
        .arg(binary());
    let tracer = ServerProcess::start_with(command, &folder);
    let messages = 20;

    for id in 0..messages {
        assert!(
            send(&folder, 10_000 + id),
            "message {id} was not acknowledged"
        );
    }
    // SIGTERM goes to the server itself (strace's child), which exits and
    // so ends strace.
    let children =
        std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", tracer.child.id()))
            .unwrap_or_default();
    let server_pid = children
        .split_whitespace()
        .next()
        .expect("strace runs the server as its child")
        .to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &server_pid])
        .status();
    let status = tracer.wait();

    assert!(
        status.success(),
        "serve did not exit cleanly on SIGTERM: {status}"
    );
    let text = std::fs::read_to_string(&trace).expect("strace output");
    let mut events: Vec<(f64, bool)> = Vec::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(_pid), Some(time)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Ok(time) = time.parse::<f64>() else {
            continue;
        };
        let rest = &line[line.find(char::is_alphabetic).unwrap_or(0)..];
        let call = rest.split('(').next().unwrap_or("");
        if matches!(
            call,
            "fsync" | "fdatasync" | "sync_file_range" | "msync" | "syncfs"
        ) && !rest.contains("unfinished")
        {
            events.push((time, true));
        } else if rest.contains("HTTP/1.1 200") {
            events.push((time, false));
        }
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    let acks: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.1)
        .map(|(i, _)| i)
        .collect();
    assert!(
        acks.len() >= messages as usize,
        "found {} acknowledgements in the trace, expected at least {messages}",
        acks.len()
    );
    let first = acks.len() - messages as usize;
    let ours = &acks[first..];
    // Start after the health check's answer, so start-up syncs do not count.
    let mut previous = if first > 0 { acks[first - 1] + 1 } else { 0 };
    for (n, &index) in ours.iter().enumerate() {
        let synced = events[previous..index].iter().any(|e| e.1);
        assert!(
            synced,
            "acknowledgement {n} was sent without a sync of the store since the previous one"
        );
        previous = index + 1;
    }
}
