//! Shadow mode: a candidate policy runs beside the active one without
//! effect, its disagreements are counted by rule and category, and a
//! promotion makes it the active policy.

use switchboard::app::{App, AppOptions, promote_shadow};
use switchboard::sites::ReloadOutcome;
use switchboard_engine::{IngestOptions, WorklistQuery};
use switchboard_sdk::{Batch, Category, WorkItem};
use switchboard_tests::{monday_morning, workspace};

/// The sample roster routed by the example policy, with the hostile test
/// policy (everything to the MA pool, rule `ok`) as the shadow candidate.
fn app() -> (tempfile::TempDir, std::sync::Arc<App>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (guest, name) in [
        ("example-policy", "example-policy"),
        ("hostile-policy", "hostile-policy"),
    ] {
        let dest = root.join("plugins").join(name).join("0.1.0");
        std::fs::create_dir_all(&dest).unwrap();
        let source = switchboard::bundled::guest_dir(guest);
        std::fs::copy(source.join("plugin.wasm"), dest.join("plugin.wasm")).unwrap();
        std::fs::copy(source.join("plugin.toml"), dest.join("plugin.toml")).unwrap();
    }
    let sample =
        std::fs::read_to_string(workspace().join("examples/config/sites/northside.toml")).unwrap();
    let roster = sample.split("# Plugins.").next().unwrap();
    std::fs::create_dir_all(root.join("sites")).unwrap();
    std::fs::write(root.join("sites/northside.toml"), format!("{roster}\n[routing]\nplugin = \"example-policy\"\n\n[shadow]\nplugin = \"hostile-policy\"\n")).unwrap();
    std::fs::write(root.join("switchboard.toml"), "schema = 1\n").unwrap();

    let app = App::open(
        root,
        AppOptions {
            watch: false,
            background: false,
            ..AppOptions::default()
        },
    )
    .unwrap();
    app.load_sites();
    (dir, app)
}

fn item(id: &str, category: Category) -> WorkItem {
    let mut item = WorkItem::new(id, 1, category, "test item", monday_morning());
    item.patient = Some(format!("Patient/{id}"));
    item
}

#[test]
fn shadow_counts_disagreements_and_promotes() {
    let (_dir, app) = app();
    // Forms: active -> front desk, shadow -> MA pool: 3 disagreements.
    // Refills without a PCP: both -> MA pool, same priority: agreement.
    let items = vec![
        item("f1", Category::Form),
        item("f2", Category::Form),
        item("f3", Category::Form),
        item("r1", Category::Refill),
        item("r2", Category::Refill),
    ];

    app.ingest_batch(
        "northside",
        "ehr",
        Batch {
            items,
            ..Batch::default()
        },
        IngestOptions::default(),
    )
    .unwrap();
    app.engine.route_pending("northside").unwrap();
    let report = app.shadow.report("northside");

    assert_eq!(report.compared, 5);
    assert_eq!(report.disagreements, 3);
    assert_eq!(report.by_category.get("form"), Some(&3));
    assert_eq!(report.by_rule.get("catch-all"), Some(&3));
    assert_eq!(
        report.candidate.as_ref().map(|c| c.name.as_str()),
        Some("hostile-policy")
    );
    let front_desk = app
        .engine
        .worklist(&WorklistQuery::role("northside", "front-desk"))
        .unwrap();
    assert_eq!(
        front_desk.items.len(),
        3,
        "the shadow policy had no effect on routing"
    );

    let event = promote_shadow(&app, "northside", "admin").unwrap();
    app.ingest_batch(
        "northside",
        "ehr",
        Batch {
            items: vec![item("f4", Category::Form)],
            ..Batch::default()
        },
        IngestOptions::default(),
    )
    .unwrap();
    app.engine.route_pending("northside").unwrap();

    assert!(
        matches!(event.outcome, ReloadOutcome::Applied { .. }),
        "{event:?}"
    );
    let site_file = std::fs::read_to_string(app.layout.sites.join("northside.toml")).unwrap();
    assert!(
        site_file.contains("[routing]\nplugin = \"hostile-policy\""),
        "{site_file}"
    );
    assert!(!site_file.contains("[shadow]"));
    let ma = app
        .engine
        .worklist(&WorklistQuery::role("northside", "ma"))
        .unwrap();
    assert!(
        ma.items.iter().any(|i| i.source.external_id == "f4"),
        "new items follow the promoted policy"
    );
    let audit = app.engine.audit(Some("northside"), 100).unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "shadow.promoted" && e.actor == "admin")
    );
}
