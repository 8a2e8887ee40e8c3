//! Loading plugins: every built guest is a component exporting its world,
//! and bad components or manifests are rejected with the reason.

use std::collections::BTreeSet;
use std::path::Path;

use switchboard::config::{ConfigError, Limits, Manifest, PluginKind};
use switchboard::runtime::{INTERFACE_VERSION, LoadedPlugin, PluginError, PolicyPlugin, Runtime};
use switchboard_sdk::cases::CaseFile;
use switchboard_sdk::{
    Attribute, Category, Priority, ResultFlag, RouteContext, RouteItem, Timestamp,
};
use switchboard_tests::{
    host_context, load_guest, monday_morning, runtime, sample_site, workspace,
};

/// The component-model layer in the preamble: core modules have version 1
/// and layer 0; components have layer 1.
fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

#[test]
fn built_guests_are_components_of_their_world() {
    let runtime = runtime();
    let expected = [
        ("example-policy", PluginKind::Policy),
        ("hostile-policy", PluginKind::Policy),
        ("plain-policy", PluginKind::Policy),
        ("garbled-policy", PluginKind::Policy),
        ("hostile-connector", PluginKind::Connector),
    ];

    for (name, kind) in expected {
        let bytes =
            std::fs::read(switchboard::bundled::guest_dir(name).join("plugin.wasm")).unwrap();
        assert!(
            is_component(&bytes),
            "{name} is a component, not a core module"
        );

        let loaded = load_guest(&runtime, name);
        assert_eq!(loaded.manifest.kind, kind, "{name}");
        assert_eq!(loaded.interface, INTERFACE_VERSION, "{name}");
        assert_eq!(
            loaded.sha256,
            switchboard::runtime::sha256_hex(&bytes),
            "{name}"
        );
    }
}

#[test]
fn every_bundled_guest_is_a_component() {
    let dir = switchboard::bundled::guests_dir();
    let mut seen = 0;

    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path().join("plugin.wasm");
        let bytes = std::fs::read(&path).unwrap();
        assert!(is_component(&bytes), "{} is a component", path.display());
        seen += 1;
    }

    assert!(seen >= 4, "found {seen} guests in {}", dir.display());
}

#[test]
fn older_interface_is_rejected_by_version() {
    let runtime = runtime();

    let error = runtime
        .load_dir(&switchboard::bundled::guest_dir("old-interface"))
        .expect_err("0.0.9 is rejected");

    match error {
        PluginError::InterfaceVersion {
            plugin,
            found,
            supported,
        } => {
            assert_eq!(plugin, "old-interface");
            assert_eq!(found, "0.0.9");
            assert_eq!(supported, INTERFACE_VERSION);
        }
        other => panic!("expected an interface version error, got {other}"),
    }
}

fn hostile_bytes() -> Vec<u8> {
    std::fs::read(switchboard::bundled::guest_dir("hostile-policy").join("plugin.wasm")).unwrap()
}

fn manifest(text: &str) -> Result<Manifest, ConfigError> {
    Manifest::parse(Path::new("plugin.toml"), text, &Limits::default())
}

#[test]
fn manifest_disagreeing_with_component_is_rejected() {
    let runtime = runtime();
    let claimed = manifest("name = \"hostile-policy\"\nversion = \"0.1.0\"\nkind = \"policy\"\ninterface = \"0.1.1\"\n").unwrap();

    let error = runtime
        .load(&hostile_bytes(), claimed)
        .expect_err("mismatch is rejected");

    assert!(
        matches!(error, PluginError::ManifestMismatch { ref manifest, ref component, .. } if manifest == "0.1.1" && component == "0.1.0"),
        "{error}"
    );
}

#[test]
fn manifest_of_wrong_kind_is_rejected() {
    let runtime = runtime();
    let claimed = manifest("name = \"hostile-policy\"\nversion = \"0.1.0\"\nkind = \"connector\"\ninterface = \"0.1.0\"\n").unwrap();

    let error = runtime
        .load(&hostile_bytes(), claimed)
        .expect_err("wrong world is rejected");

    assert!(
        matches!(error, PluginError::WrongWorld { expected: "connector", ref found, .. } if found == "policy"),
        "{error}"
    );
}

#[test]
fn bad_bytes_are_rejected() {
    let runtime = runtime();
    let claimed = manifest(
        "name = \"junk\"\nversion = \"0.1.0\"\nkind = \"policy\"\ninterface = \"0.1.0\"\n",
    )
    .unwrap();

    let error = runtime
        .load(b"\0asm\x0d\0\x01\0garbage", claimed)
        .expect_err("garbage is rejected");

    assert!(
        matches!(error, PluginError::Compile { ref plugin, .. } if plugin == "junk"),
        "{error}"
    );
}

#[test]
fn missing_manifest_is_rejected() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plugin.wasm"), hostile_bytes()).unwrap();

    let error = runtime.load_dir(dir.path()).expect_err("no manifest");

    assert!(
        matches!(error, PluginError::Manifest(ConfigError::Read { .. })),
        "{error}"
    );
}

#[test]
fn manifest_asking_too_much_memory_is_rejected() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plugin.wasm"), hostile_bytes()).unwrap();
    std::fs::write(dir.path().join("plugin.toml"), "name = \"h\"\nversion = \"0.1.0\"\nkind = \"policy\"\ninterface = \"0.1.0\"\n[limits]\nmemory_mib = 100000\n").unwrap();

    let error = runtime.load_dir(dir.path()).expect_err("too much memory");

    assert!(
        matches!(error, PluginError::Manifest(ConfigError::Invalid { ref field, .. }) if field == "limits.memory_mib"),
        "{error}"
    );
}

/// The same case file the example policy's native tests run, through the
/// built component, so the harness cannot hide a difference.
#[test]
fn example_policy_cases_pass_in_wasm() {
    let runtime = runtime();
    let file = CaseFile::load(&workspace().join("policies/example/cases/defaults.toml")).unwrap();
    let (_, site) =
        switchboard::config::SiteConfig::parse(Path::new("northside.toml"), &file.site_text)
            .unwrap();
    let loaded = load_guest(&runtime, "example-policy");
    let policy = PolicyPlugin::new(
        &runtime,
        loaded,
        host_context("northside", "example-policy", file.now),
        &site,
        &file.config_text,
    )
    .unwrap();

    let mut failures = Vec::new();
    for case in &file.cases {
        let outcome = policy
            .route(std::slice::from_ref(&case.item), &case.context)
            .unwrap()
            .remove(0);
        if let Err(mismatch) = case.check(&outcome) {
            failures.push(mismatch);
        }
    }

    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(file.cases.len(), 6);
}

/// With quick compilation, a new component first runs as Winch code. Once
/// the background Cranelift compile is in the cache, the next call replaces
/// the instance. The case file passes before and after.
#[test]
fn quick_compile_upgrades_to_cranelift() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = switchboard::runtime::Runtime::new(switchboard::runtime::RuntimeOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        quick_compile: true,
        ..Default::default()
    })
    .unwrap();
    let file = CaseFile::load(&workspace().join("policies/example/cases/defaults.toml")).unwrap();
    let (_, site) =
        switchboard::config::SiteConfig::parse(Path::new("northside.toml"), &file.site_text)
            .unwrap();
    let loaded = load_guest(&runtime, "example-policy");
    let quick_at_load = loaded.is_quick();
    let policy = PolicyPlugin::new(
        &runtime,
        loaded.clone(),
        host_context("northside", "example-policy", file.now),
        &site,
        &file.config_text,
    )
    .unwrap();
    let run_cases = || {
        file.cases
            .iter()
            .filter(|case| {
                let outcome = policy
                    .route(std::slice::from_ref(&case.item), &case.context)
                    .unwrap()
                    .remove(0);
                case.check(&outcome).is_err()
            })
            .count()
    };

    let failed_quick = run_cases();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while loaded.is_quick() {
        assert!(
            std::time::Instant::now() < deadline,
            "the Cranelift compile did not finish"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let failed_optimized = run_cases();
    let cached = std::fs::read_dir(cache.path()).unwrap().count();
    let reloaded = load_guest(&runtime, "example-policy");

    assert!(quick_at_load, "a fresh component starts as Winch code");
    assert_eq!(failed_quick, 0);
    assert_eq!(failed_optimized, 0);
    assert_eq!(
        policy.stats.snapshot().2,
        2,
        "the Winch instance was replaced once"
    );
    assert_eq!(cached, 1, "the Cranelift form went to the cache");
    assert!(
        !reloaded.is_quick(),
        "a cached component loads as Cranelift code"
    );
}

#[test]
fn connector_without_egress_is_denied() {
    let runtime = runtime();
    let loaded = load_guest(&runtime, "hostile-connector");
    let connector = switchboard::runtime::ConnectorPlugin::new(
        &runtime,
        loaded,
        host_context(
            "northside",
            "hostile-connector",
            switchboard_tests::monday_morning(),
        ),
        "",
    )
    .unwrap();

    let batch = connector
        .accept(b"https://ehr.example.test/Patient/1", "text/plain")
        .unwrap()
        .unwrap();

    assert_eq!(batch.rejects.len(), 1);
    assert!(
        batch.rejects[0].message.contains("denied"),
        "{}",
        batch.rejects[0].message
    );
}

/// Configures `loaded` for the case file's site and table.
fn case_policy(runtime: &Runtime, loaded: LoadedPlugin, file: &CaseFile) -> PolicyPlugin {
    let site = switchboard_sdk::site::parse_site(&file.site_text).unwrap();
    let plugin = loaded.manifest.name.clone();
    PolicyPlugin::new(
        runtime,
        loaded,
        host_context("lakeview", &plugin, file.now),
        &site,
        &file.config_text,
    )
    .unwrap_or_else(|e| panic!("{}: {e}", file.path.display()))
}

/// Items of every category, flag and priority, with and without each
/// optional field, and attributes with non-ASCII text, so that every part
/// of the packed layout is crossed.
fn varied_items(people: &[&str]) -> Vec<RouteItem> {
    (0..180u64)
        .map(|k| {
            let n = k as usize;
            let person = |offset: usize| {
                (n % (people.len() + 1) != offset)
                    .then(|| people[(n + offset) % people.len()].to_string())
            };
            RouteItem {
                key: k + 1,
                category: Category::ALL[n % Category::ALL.len()],
                flag: ResultFlag::ALL[n / 9 % ResultFlag::ALL.len()],
                priority: Priority::ALL[n / 4 % Priority::ALL.len()],
                created: Timestamp(1_775_570_400_000 - k as i64 * 3_600_000),
                due: n.is_multiple_of(3).then_some(Timestamp(1_775_600_000_000)),
                patient: (!n.is_multiple_of(5)).then(|| format!("Patient/p-{k}")),
                ordering: person(0),
                rendering: person(1),
                pcp: person(2),
                attributes: (0..n % 4)
                    .map(|a| Attribute {
                        key: ["urgent", "loinc", "médication", "form"][a].to_string(),
                        value: format!("v{}-ü", n * a),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The table policy exports `policy-packed`. Routing the same items
/// through it and through the typed `policy-api.route` of the same
/// component gives the same outcomes, and both pass every case file.
#[test]
fn packed_and_typed_routing_agree() {
    let runtime = runtime();
    let loaded = load_guest(&runtime, "table-policy");
    assert!(loaded.packed_route, "the SDK exports policy-packed");
    let mut typed_only = loaded.clone();
    typed_only.packed_route = false;

    let cases_dir = workspace().join("policies/table/cases");
    let mut checked = 0;
    let mut rules = BTreeSet::new();
    for name in ["defaults.toml", "balance.toml", "cel.toml", "strict.toml"] {
        let file = CaseFile::load(&cases_dir.join(name)).unwrap();
        let packed = case_policy(&runtime, loaded.clone(), &file);
        let typed = case_policy(&runtime, typed_only.clone(), &file);

        for case in &file.cases {
            let one = std::slice::from_ref(&case.item);
            let from_packed = packed.route(one, &case.context).unwrap();
            let from_typed = typed.route(one, &case.context).unwrap();
            assert_eq!(from_packed, from_typed, "{name}: {}", case.name);
            if let Err(mismatch) = case.check(&from_packed[0]) {
                panic!("{name}: {mismatch:?}");
            }
            checked += 1;
        }

        let site = switchboard_sdk::site::parse_site(&file.site_text).unwrap();
        let people: Vec<&str> = site.people.iter().map(|p| p.id.as_str()).collect();
        let items = varied_items(&people);
        let context = &file.cases[0].context;
        let from_packed = packed.route(&items, context).unwrap();
        assert_eq!(
            from_packed,
            typed.route(&items, context).unwrap(),
            "{name}: varied batch"
        );
        for outcome in &from_packed {
            match outcome {
                Ok(a) => rules.insert(a.rule.clone()),
                Err(e) => rules.insert(format!(
                    "error {}",
                    e.to_string().split(':').next().unwrap()
                )),
            };
        }
    }
    assert!(checked >= 20, "only {checked} cases ran");
    assert!(
        rules.len() >= 8 && rules.iter().any(|r| r.starts_with("error")),
        "the varied batches reached only {rules:?}"
    );
}

/// A policy built from the WIT alone has no `policy-packed` export and is
/// routed through `policy-api.route`.
#[test]
fn policy_without_packed_export_routes_typed() {
    let runtime = runtime();
    let loaded = load_guest(&runtime, "plain-policy");
    assert!(!loaded.packed_route);
    let (_, site) = sample_site();
    let policy = PolicyPlugin::new(
        &runtime,
        loaded,
        host_context("northside", "plain-policy", monday_morning()),
        &site,
        "",
    )
    .unwrap();
    let item = |key, category, flag, ordering: Option<&str>| RouteItem {
        key,
        category,
        flag,
        priority: Priority::Urgent,
        created: monday_morning(),
        due: None,
        patient: Some("Patient/1".into()),
        ordering: ordering.map(str::to_string),
        rendering: None,
        pcp: None,
        attributes: Vec::new(),
    };
    let items = [
        item(1, Category::Refill, ResultFlag::None, None),
        item(2, Category::Result, ResultFlag::Normal, None),
        item(3, Category::Result, ResultFlag::Critical, Some("dr-lee")),
        item(4, Category::VisitNote, ResultFlag::None, Some("dr-lee")),
        item(5, Category::Form, ResultFlag::None, None),
    ];
    let context = RouteContext {
        now: monday_morning(),
        load: Vec::new(),
    };

    let outcomes = policy.route(&items, &context).unwrap();

    let owners: Vec<_> = outcomes
        .iter()
        .map(|o| match o {
            Ok(a) => format!("{} {:?} {}", a.role, a.person, a.rule),
            Err(e) => e.to_string(),
        })
        .collect();
    assert_eq!(
        owners,
        [
            "ma None refills",
            "rn None normal-results",
            "physician Some(\"dr-lee\") other-results",
            "invalid item: item 4 has no provider on the roster",
            "front-desk None everything-else",
        ]
    );
}
