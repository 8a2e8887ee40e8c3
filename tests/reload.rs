//! Hot reload: a new plugin version swaps in while items are routed, a
//! broken candidate is rejected and the old version keeps routing, and a
//! rollback sticks. Tests wait on reload events, never on a sleep.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use switchboard::config::Layout;
use switchboard::runtime::{ManualClock, MemoryKv, Runtime, RuntimeOptions};
use switchboard::sites::{
    MemoryAudit, ReloadEvent, ReloadOutcome, Services, Sites, SlotKey, SlotKind, Watcher,
};
use switchboard_sdk::{Category, RouteContext, RouteItem};
use switchboard_tests::{monday_morning, runtime, workspace};

/// A configuration folder with the sample site routed by example-policy 0.1.0.
struct Fixture {
    dir: tempfile::TempDir,
    sites: Arc<Sites>,
    audit: Arc<MemoryAudit>,
}

fn install(plugins: &Path, guest: &str, as_name: &str, version: &str) {
    let dest = plugins.join(as_name).join(version);
    std::fs::create_dir_all(&dest).unwrap();
    let source = switchboard::bundled::guest_dir(guest);
    std::fs::copy(source.join("plugin.wasm"), dest.join("plugin.wasm.partial")).unwrap();
    let manifest = std::fs::read_to_string(source.join("plugin.toml")).unwrap();
    let manifest = rename_manifest(&manifest, as_name, version);
    std::fs::write(dest.join("plugin.toml"), manifest).unwrap();
    // Rename last so the watcher sees a complete file.
    std::fs::rename(dest.join("plugin.wasm.partial"), dest.join("plugin.wasm")).unwrap();
}

fn rename_manifest(text: &str, name: &str, version: &str) -> String {
    text.lines()
        .map(|line| {
            if line.starts_with("name = ") {
                format!("name = \"{name}\"")
            } else if line.starts_with("version = ") {
                format!("version = \"{version}\"")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn fixture() -> Fixture {
    fixture_with(runtime())
}

fn fixture_with(runtime: Runtime) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(dir.path(), Path::new("data"));
    std::fs::create_dir_all(&layout.sites).unwrap();
    install(&layout.plugins, "example-policy", "example-policy", "0.1.0");
    let site =
        std::fs::read_to_string(workspace().join("examples/config/sites/northside.toml")).unwrap();
    // Keep the roster; this fixture installs its own plugins.
    let site = site.split("# Plugins.").next().unwrap();
    std::fs::write(
        layout.sites.join("northside.toml"),
        format!(
            "{site}\n[routing]\nplugin = \"example-policy\"\nconfig = \"northside/routing.toml\"\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(layout.sites.join("northside")).unwrap();
    std::fs::write(layout.sites.join("northside/routing.toml"), "").unwrap();

    let audit = Arc::new(MemoryAudit::default());
    let services = Services {
        runtime,
        layout,
        clock: Arc::new(ManualClock::new(monday_morning())),
        kv: Arc::new(MemoryKv::default()),
        audit: audit.clone(),
        egress: None,
    };
    let sites = Arc::new(Sites::new(services));
    let first = sites.reload_all();
    assert!(
        matches!(first[0].outcome, ReloadOutcome::Applied { .. }),
        "{first:?}"
    );
    Fixture { dir, sites, audit }
}

fn plugins_dir(f: &Fixture) -> std::path::PathBuf {
    f.dir.path().join("plugins")
}

fn form(key: u64) -> RouteItem {
    RouteItem {
        key,
        category: Category::Form,
        flag: Default::default(),
        priority: Default::default(),
        created: monday_morning(),
        due: None,
        patient: None,
        ordering: None,
        rendering: None,
        pcp: None,
        attributes: Vec::new(),
    }
}

/// Routes one form through the site's current routing policy; returns the rule.
fn route_one(sites: &Sites, key: u64) -> String {
    let state = sites.get("northside").unwrap().state();
    let policy = state.routing().expect("a routing policy is active");
    let outcome = policy
        .route(
            &[form(key)],
            &RouteContext {
                now: monday_morning(),
                load: Vec::new(),
            },
        )
        .unwrap()
        .remove(0);
    outcome.unwrap().rule
}

/// Waits for the next event of `site` that is not `Unchanged`.
fn next_change(events: &mut tokio::sync::broadcast::Receiver<ReloadEvent>) -> ReloadEvent {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no reload outcome within 60 s"
        );
        match events.try_recv() {
            Ok(event) if event.outcome != ReloadOutcome::Unchanged => return event,
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => std::thread::yield_now(),
            Err(error) => panic!("event channel failed: {error}"),
        }
    }
}

#[test]
fn swap_under_load_routes_each_item_once() {
    let f = fixture();
    let _watcher = Watcher::start(f.sites.clone()).unwrap();
    let mut events = f.sites.subscribe();
    let stop = Arc::new(AtomicBool::new(false));
    let swapped = Arc::new(AtomicBool::new(false));
    let next_key = Arc::new(AtomicU64::new(1));

    let router = {
        let (sites, stop, swapped, next_key) = (
            f.sites.clone(),
            stop.clone(),
            swapped.clone(),
            next_key.clone(),
        );
        std::thread::spawn(move || {
            let mut routed: Vec<(u64, String, bool)> = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let after_swap = swapped.load(Ordering::SeqCst);
                let key = next_key.fetch_add(1, Ordering::SeqCst);
                routed.push((key, route_one(&sites, key), after_swap));
            }
            routed
        })
    };
    install(
        &plugins_dir(&f),
        "hostile-policy",
        "example-policy",
        "0.2.0",
    );
    let event = next_change(&mut events);
    swapped.store(true, Ordering::SeqCst);
    while next_key.load(Ordering::SeqCst) < 200 {
        std::thread::yield_now();
    }
    let before_stop = next_key.load(Ordering::SeqCst);
    while next_key.load(Ordering::SeqCst) < before_stop + 50 {
        std::thread::yield_now();
    }
    stop.store(true, Ordering::SeqCst);
    let routed = router.join().unwrap();

    match &event.outcome {
        ReloadOutcome::Applied { activations } => {
            assert_eq!(activations.len(), 1);
            assert_eq!(activations[0].version, "0.2.0");
        }
        other => panic!("expected the new version applied, got {other:?}"),
    }
    let mut seen = BTreeMap::new();
    for (key, rule, _) in &routed {
        assert!(
            seen.insert(*key, rule.clone()).is_none(),
            "item {key} routed twice"
        );
        assert!(
            rule == "catch-all" || rule == "ok",
            "item {key} routed by unknown rule {rule}"
        );
    }
    let keys: Vec<u64> = seen.keys().copied().collect();
    assert_eq!(
        keys,
        (1..=keys.len() as u64).collect::<Vec<_>>(),
        "every item routed exactly once, none skipped"
    );
    assert!(
        routed
            .iter()
            .filter(|(_, _, after)| *after)
            .all(|(_, rule, _)| rule == "ok"),
        "items after the swap use the new version"
    );
    assert!(
        routed.iter().any(|(_, rule, _)| rule == "catch-all"),
        "the old version routed before the swap"
    );
}

/// Builds a runtime that compiles new bytes with Winch first, as `serve`
/// does.
fn quick_runtime(cache: &Path) -> Runtime {
    Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.to_path_buf()),
        quick_compile: true,
        ..Default::default()
    })
    .unwrap()
}

/// A fixture on a quick-compile runtime, watched as `serve` watches it.
struct Watched {
    _cache: tempfile::TempDir,
    runtime: Runtime,
    fixture: Fixture,
    _watcher: Watcher,
}

fn watched() -> Watched {
    let cache = tempfile::tempdir().unwrap();
    let runtime = quick_runtime(cache.path());
    let fixture = fixture_with(runtime.clone());
    let watcher = Watcher::start(fixture.sites.clone()).unwrap();
    Watched {
        _cache: cache,
        runtime,
        fixture,
        _watcher: watcher,
    }
}

/// Reads the built example policy's component bytes.
fn example_policy_bytes() -> Vec<u8> {
    std::fs::read(switchboard::bundled::guest_dir("example-policy").join("plugin.wasm")).unwrap()
}

/// Appends a custom section to `bytes`: the same code under a new hash.
fn with_custom_section(mut bytes: Vec<u8>, payload: &[u8]) -> Vec<u8> {
    let name = b"switchboard-test";
    let size = 1 + name.len() + payload.len();
    assert!(size < 128, "one LEB128 byte holds the section size");
    bytes.extend([0, size as u8, name.len() as u8]);
    bytes.extend(name);
    bytes.extend(payload);
    bytes
}

#[test]
fn watched_component_compiles_once() {
    let Watched {
        runtime,
        fixture: f,
        ..
    } = &watched();
    let mut events = f.sites.subscribe();
    let dest = plugins_dir(f).join("example-policy/0.2.0");
    std::fs::create_dir_all(&dest).unwrap();
    let manifest = std::fs::read_to_string(
        switchboard::bundled::guest_dir("example-policy").join("plugin.toml"),
    )
    .unwrap();
    let before = runtime.quick_compiles_started();

    // Both the watcher's early compile and the reload's load want these
    // bytes; the runtime must compile them once.
    std::fs::write(
        dest.join("plugin.toml"),
        rename_manifest(&manifest, "example-policy", "0.2.0"),
    )
    .unwrap();
    std::fs::write(
        dest.join("plugin.wasm.partial"),
        with_custom_section(example_policy_bytes(), b"0.2.0"),
    )
    .unwrap();
    std::fs::rename(dest.join("plugin.wasm.partial"), dest.join("plugin.wasm")).unwrap();
    let event = next_change(&mut events);

    match &event.outcome {
        ReloadOutcome::Applied { activations } => {
            assert_eq!(activations[0].version, "0.2.0");
        }
        other => panic!("expected the new version applied, got {other:?}"),
    }
    assert_eq!(runtime.quick_compiles_started() - before, 1);
    assert_eq!(route_one(&f.sites, 1), "catch-all");
}

#[test]
fn watcher_compiles_new_component_early() {
    let Watched {
        runtime,
        fixture: f,
        ..
    } = &watched();
    let before = runtime.quick_compiles_started();

    // No site uses this plugin and no reload loads it, so only the
    // watcher's early compile can compile it.
    let dest = plugins_dir(f).join("unused-policy/0.1.0");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(
        dest.join("plugin.wasm"),
        with_custom_section(example_policy_bytes(), b"unused"),
    )
    .unwrap();

    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while runtime.quick_compiles_started() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "no early compile within 60 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn bad_bytes_are_rejected_and_old_version_routes() {
    let f = fixture();
    let mut events = f.sites.subscribe();
    let dest = plugins_dir(&f).join("example-policy/0.3.0");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join("plugin.toml"), "name = \"example-policy\"\nversion = \"0.3.0\"\nkind = \"policy\"\ninterface = \"0.1.0\"\n").unwrap();
    std::fs::write(dest.join("plugin.wasm"), b"not a component").unwrap();

    f.sites.reload_all();
    let event = next_change(&mut events);

    assert!(
        matches!(&event.outcome, ReloadOutcome::Rejected { reasons } if reasons[0].contains("not a valid WebAssembly component")),
        "{event:?}"
    );
    assert_eq!(route_one(&f.sites, 1), "catch-all");
    assert!(f.sites.failures().contains_key("northside"));
    assert!(
        f.audit
            .entries()
            .iter()
            .any(|e| e.action == "plugin.rejected")
    );
}

#[test]
fn wrong_interface_is_rejected_and_old_version_routes() {
    let f = fixture();
    let mut events = f.sites.subscribe();
    install(&plugins_dir(&f), "old-interface", "example-policy", "0.3.0");

    f.sites.reload_all();
    let event = next_change(&mut events);

    assert!(
        matches!(&event.outcome, ReloadOutcome::Rejected { reasons } if reasons[0].contains("switchboard:plugin@0.0.9")),
        "{event:?}"
    );
    assert_eq!(route_one(&f.sites, 1), "catch-all");
}

#[test]
fn failing_configure_is_rejected_and_old_version_routes() {
    let f = fixture();
    let mut events = f.sites.subscribe();
    std::fs::write(
        f.dir.path().join("sites/northside/routing.toml"),
        "ma = \"scribe\"\n",
    )
    .unwrap();

    f.sites.reload_all();
    let event = next_change(&mut events);

    assert!(
        matches!(&event.outcome, ReloadOutcome::Rejected { reasons } if reasons[0].contains("scribe")),
        "{event:?}"
    );
    assert_eq!(route_one(&f.sites, 1), "catch-all");
}

#[test]
fn broken_site_file_keeps_last_good_configuration() {
    let f = fixture();
    let mut events = f.sites.subscribe();
    let path = f.dir.path().join("sites/northside.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("closing_time = \"18:00\"", "closing_time = 18:00"),
    )
    .unwrap();

    f.sites.reload_all();
    let event = next_change(&mut events);

    match &event.outcome {
        ReloadOutcome::Rejected { reasons } => {
            assert!(reasons[0].contains("(line 9, column"), "{reasons:?}")
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(route_one(&f.sites, 1), "catch-all");
}

#[test]
fn rewriting_same_bytes_changes_nothing() {
    let f = fixture();
    let wasm = plugins_dir(&f).join("example-policy/0.1.0/plugin.wasm");
    let bytes = std::fs::read(&wasm).unwrap();
    std::fs::write(&wasm, &bytes).unwrap();

    let events = f.sites.reload_all();

    assert_eq!(events[0].outcome, ReloadOutcome::Unchanged);
}

#[test]
fn rollback_restores_previous_and_sticks() {
    let f = fixture();
    install(
        &plugins_dir(&f),
        "hostile-policy",
        "example-policy",
        "0.2.0",
    );
    f.sites.reload_all();
    assert_eq!(route_one(&f.sites, 1), "ok");
    let key = SlotKey {
        kind: SlotKind::Routing,
        instance: String::new(),
    };

    let event = f.sites.rollback("northside", &key, "admin-token").unwrap();
    let later = f.sites.reload_all();

    assert!(
        matches!(&event.outcome, ReloadOutcome::RolledBack { activation } if activation.version == "0.1.0"),
        "{event:?}"
    );
    assert_eq!(route_one(&f.sites, 2), "catch-all");
    assert_eq!(
        later[0].outcome,
        ReloadOutcome::Unchanged,
        "the rolled-back version is not applied again"
    );
    assert!(
        f.audit
            .entries()
            .iter()
            .any(|e| e.action == "plugin.rolled-back" && e.detail.contains("version=0.1.0"))
    );
}

/// Waits for the next event whose outcome `matches` accepts, skipping others.
fn wait_for(
    events: &mut tokio::sync::broadcast::Receiver<ReloadEvent>,
    description: &str,
    matches: impl Fn(&ReloadOutcome) -> bool,
) -> ReloadEvent {
    loop {
        let event = next_change(events);
        if matches(&event.outcome) {
            return event;
        }
        assert!(
            matches!(event.outcome, ReloadOutcome::Rejected { .. }),
            "expected {description}, got {event:?}"
        );
    }
}

fn is_rejected(outcome: &ReloadOutcome) -> bool {
    matches!(outcome, ReloadOutcome::Rejected { .. })
}

fn is_recovered(outcome: &ReloadOutcome) -> bool {
    *outcome == ReloadOutcome::Recovered
}

#[test]
fn restored_config_clears_rejection() {
    let f = fixture();
    let _watcher = Watcher::start(f.sites.clone()).unwrap();
    let mut events = f.sites.subscribe();
    let config = f.dir.path().join("sites/northside/routing.toml");
    let running = std::fs::read_to_string(&config).unwrap();

    std::fs::write(&config, "ma = \"scribe\"\n").unwrap();
    wait_for(&mut events, "a rejection", is_rejected);
    let while_broken = f.sites.failures();
    std::fs::write(&config, running).unwrap();
    let event = wait_for(&mut events, "the site back in step", is_recovered);

    assert_eq!(event.site, "northside");
    assert!(while_broken.contains_key("northside"));
    assert_eq!(f.sites.failures(), BTreeMap::new());
    assert_eq!(route_one(&f.sites, 1), "catch-all");
    assert!(
        f.audit
            .entries()
            .iter()
            .any(|e| e.action == "site.recovered")
    );
}

#[test]
fn removed_bad_plugin_clears_rejection() {
    let f = fixture();
    let _watcher = Watcher::start(f.sites.clone()).unwrap();
    let mut events = f.sites.subscribe();
    let dest = plugins_dir(&f).join("example-policy/0.3.0");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join("plugin.toml"), "name = \"example-policy\"\nversion = \"0.3.0\"\nkind = \"policy\"\ninterface = \"0.1.0\"\n").unwrap();
    std::fs::write(dest.join("plugin.wasm"), b"not a component").unwrap();

    wait_for(&mut events, "a rejection", is_rejected);
    let while_broken = f.sites.failures();
    std::fs::remove_dir_all(&dest).unwrap();
    wait_for(&mut events, "the site back in step", is_recovered);

    assert!(while_broken.contains_key("northside"));
    assert_eq!(f.sites.failures(), BTreeMap::new());
    assert_eq!(route_one(&f.sites, 1), "catch-all");
}

#[test]
fn unchanged_reload_without_failure_stays_unchanged() {
    let f = fixture();

    let events = f.sites.reload_all();

    assert_eq!(events[0].outcome, ReloadOutcome::Unchanged);
    assert!(
        !f.audit
            .entries()
            .iter()
            .any(|e| e.action == "site.recovered")
    );
}

#[test]
fn removed_site_that_never_loaded_clears_failure() {
    let f = fixture();
    let path = f.dir.path().join("sites/southside.toml");
    std::fs::write(&path, "schema = 1\nid = \"southside\"\n").unwrap();
    let first = f.sites.reload_site("southside");
    std::fs::remove_file(&path).unwrap();

    let events = f.sites.reload_all();

    assert!(is_rejected(&first.outcome), "{first:?}");
    let southside: Vec<_> = events.iter().filter(|e| e.site == "southside").collect();
    assert_eq!(southside.len(), 1, "{events:?}");
    assert_eq!(southside[0].outcome, ReloadOutcome::Removed);
    assert_eq!(f.sites.failures(), BTreeMap::new());
}

/// A variable no test environment sets.
const UNSET_WEBHOOK_VARIABLE: &str = "SWITCHBOARD_RELOAD_TEST_UNSET_WEBHOOK_SECRET";

#[test]
fn unset_webhook_secret_keeps_old_version() {
    let f = fixture();
    let path = f.dir.path().join("sites/northside.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!("{text}\n[[connectors]]\nname = \"ehr\"\nplugin = \"fhir-connector\"\nwebhook_secret_env = \"{UNSET_WEBHOOK_VARIABLE}\"\n"),
    )
    .unwrap();

    let event = f.sites.reload_site("northside");

    let ReloadOutcome::Rejected { reasons } = &event.outcome else {
        panic!("expected a rejection, got {event:?}");
    };
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("connector \"ehr\""), "{reasons:?}");
    assert!(
        reasons[0].contains(&format!("{UNSET_WEBHOOK_VARIABLE}, which is unset")),
        "{reasons:?}"
    );
    assert_eq!(route_one(&f.sites, 1), "catch-all");
    assert!(f.sites.failures().contains_key("northside"));
}

#[test]
fn unset_webhook_secret_fails_first_load() {
    let f = fixture();
    let roster = std::fs::read_to_string(f.dir.path().join("sites/northside.toml")).unwrap();
    let southside = roster.replace("id = \"northside\"", "id = \"southside\"");
    std::fs::write(
        f.dir.path().join("sites/southside.toml"),
        format!("{southside}\n[[connectors]]\nname = \"ehr\"\nplugin = \"fhir-connector\"\nwebhook_secret_env = \"{UNSET_WEBHOOK_VARIABLE}\"\n"),
    )
    .unwrap();

    let event = f.sites.reload_site("southside");

    assert!(is_rejected(&event.outcome), "{event:?}");
    assert!(f.sites.get("southside").is_none());
    assert!(f.sites.failures().contains_key("southside"));
}
