//! Recovery: reopening, replay after a crash, group commit, verify and
//! rebuild, and the errors of folders that cannot be opened.

mod common;

use std::sync::Arc;

use common::*;
use switchboard_engine::store::{MismatchKind, SCHEMA_VERSION};
use switchboard_engine::{
    Engine, IngestOptions, ItemStatus, ManualClock, SledStore, Store, StoreError, WorklistQuery,
};
use switchboard_sdk::Batch;

fn db_path(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("db")
}

#[test]
fn pending_items_resume_after_reopen() {
    let fx = Fixture::new();
    let ids = fx
        .ingest(vec![refill("rx-1", 1), refill("rx-2", 1)])
        .pending;
    let dir = fx.close();

    let (engine, _store) = reopen(&dir, Arc::new(TableRouter::default()));
    let pending = engine.pending(SITE, 10).unwrap();
    let report = engine.route_pending(SITE).unwrap();

    let pending_ids: Vec<_> = pending.iter().map(|i| i.id).collect();
    assert_eq!(pending_ids, ids);
    assert_eq!(report.routed, 2);
    assert_eq!(engine.item(SITE, ids[0]).unwrap().status, ItemStatus::Ready);
}

#[test]
fn ids_continue_after_reopen() {
    let fx = Fixture::new();
    let first = fx.ingest(vec![refill("rx-1", 1)]).pending[0];
    let dir = fx.close();

    let (engine, _store) = reopen(&dir, Arc::new(TableRouter::default()));
    let batch = Batch {
        items: vec![refill("rx-2", 1)],
        ..Batch::default()
    };
    let second = engine
        .ingest(SITE, CONNECTOR, batch, IngestOptions::default())
        .unwrap()
        .pending[0];

    assert!(second > first, "{second} should follow {first}");
}

#[test]
fn clean_close_needs_no_replay() {
    let fx = Fixture::new();
    fx.ingest_routed(vec![refill("rx-1", 1), with_due(refill("rx-2", 1), 30)]);
    let dir = fx.close();

    let (_engine, store) = reopen(&dir, Arc::new(TableRouter::default()));

    assert_eq!(store.stats().replayed_at_open, 0);
}

#[test]
fn clean_close_with_pending_items_needs_no_replay() {
    let fx = Fixture::new();
    fx.ingest_routed(vec![refill("rx-1", 1)]);
    fx.ingest(vec![refill("rx-2", 1), refill("rx-3", 1)]);
    let dir = fx.close();

    let (engine, store) = reopen(&dir, Arc::new(TableRouter::default()));

    assert_eq!(store.stats().replayed_at_open, 0);
    assert_eq!(engine.pending(SITE, 10).unwrap().len(), 2);
}

#[test]
fn clean_close_after_other_writes_needs_no_replay() {
    let fx = Fixture::new();
    fx.ingest(vec![refill("rx-1", 1)]);
    fx.engine.kv_set(SITE, "table", "k", b"v".to_vec()).unwrap();
    fx.engine.set_cursor(SITE, CONNECTOR, Some("c-1")).unwrap();
    let dir = fx.close();

    let (_engine, store) = reopen(&dir, Arc::new(TableRouter::default()));

    assert_eq!(store.stats().replayed_at_open, 0);
}

/// Copies a closed but still referenced store's files, as a process that
/// exits without dropping its store leaves them.
fn copy_files(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_files(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn close_while_shared_needs_no_replay() {
    let fx = Fixture::new();
    fx.ingest_routed(vec![refill("rx-1", 1), with_due(refill("rx-2", 1), 30)]);
    fx.ingest(vec![refill("rx-3", 1)]);
    fx.engine.kv_set(SITE, "table", "k", b"v".to_vec()).unwrap();
    let copy = tempfile::tempdir().unwrap();

    fx.store.close().unwrap();
    copy_files(&db_path(&fx.dir), copy.path());
    let reopened = SledStore::open(copy.path()).unwrap();

    assert_eq!(reopened.stats().replayed_at_open, 0);
    assert!(reopened.verify().unwrap().is_healthy());
}

#[test]
fn commit_after_close_is_rejected() {
    let fx = Fixture::new();
    fx.store.close().unwrap();

    let error = fx
        .engine
        .kv_set(SITE, "table", "k", b"v".to_vec())
        .unwrap_err();

    assert!(
        matches!(
            error,
            switchboard_engine::EngineError::Store(StoreError::Closed)
        ),
        "{error}"
    );
}

#[test]
fn unapplied_log_is_replayed_on_open() {
    let fx = Fixture::new();
    let ids = fx.ingest_routed(vec![refill("rx-1", 1), with_due(refill("rx-2", 1), 30)]);
    let dir = fx.close();
    {
        // A crash after the log flush and before the projection: the trees
        // lack the last changes and the applied position lags.
        let raw = sled::open(db_path(&dir)).unwrap();
        raw.open_tree("items").unwrap().clear().unwrap();
        raw.open_tree("worklist").unwrap().clear().unwrap();
        raw.open_tree("meta")
            .unwrap()
            .insert("applied", &0u64.to_be_bytes())
            .unwrap();
        raw.flush().unwrap();
    }

    let (engine, _store) = reopen(&dir, Arc::new(TableRouter::default()));

    let page = engine.worklist(&WorklistQuery::role(SITE, "ma")).unwrap();
    let listed: Vec<_> = page.items.iter().map(|i| i.id).collect();
    assert_eq!(listed, vec![ids[1], ids[0]]);
    assert!(engine.verify().unwrap().is_healthy());
}

#[test]
fn large_batch_stays_in_the_synced_file() {
    // sled writes a value over 128 KiB to a separate, never-synced file in
    // `blobs/`. A batch of 2,000 routed items logs about 800 KiB, so the
    // store must split it into chunks that stay in the main file.
    let fx = Fixture::new();
    let items: Vec<_> = (0..2_000).map(|n| refill(&format!("rx-{n}"), 1)).collect();
    let ids = fx.ingest_routed(items);
    let dir = fx.close();

    let blobs = std::fs::read_dir(db_path(&dir).join("blobs"))
        .map(|entries| entries.count())
        .unwrap_or(0);
    let raw = sled::open(db_path(&dir)).unwrap();
    raw.open_tree("items").unwrap().clear().unwrap();
    raw.open_tree("meta")
        .unwrap()
        .insert("applied", &0u64.to_be_bytes())
        .unwrap();
    raw.flush().unwrap();
    drop(raw);
    let (engine, _store) = reopen(&dir, Arc::new(TableRouter::default()));

    assert_eq!(blobs, 0);
    assert_eq!(ids.len(), 2_000);
    assert_eq!(
        engine.item(SITE, ids[1_999]).unwrap().status,
        ItemStatus::Ready
    );
    assert!(engine.verify().unwrap().is_healthy());
}

#[test]
fn group_commit_keeps_every_batch() {
    const THREADS: usize = 16;
    const BATCHES: usize = 20;
    const ITEMS: usize = 5;
    let fx = Fixture::new();

    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let engine = fx.engine.clone();
            scope.spawn(move || {
                for batch in 0..BATCHES {
                    let items = (0..ITEMS)
                        .map(|i| refill(&format!("t{thread}-b{batch}-i{i}"), 1))
                        .collect();
                    let batch = Batch {
                        items,
                        ..Batch::default()
                    };
                    let connector = format!("feed-{thread}");
                    let report = engine
                        .ingest(SITE, &connector, batch, IngestOptions::default())
                        .unwrap();
                    assert_eq!(report.new as usize, ITEMS);
                }
            });
        }
    });
    let stats = fx.store.stats();
    let dir = fx.close();

    let (_engine, store) = reopen(&dir, Arc::new(TableRouter::default()));
    let mut missing = Vec::new();
    for thread in 0..THREADS {
        for batch in 0..BATCHES {
            for i in 0..ITEMS {
                let id = format!("t{thread}-b{batch}-i{i}");
                if store
                    .find_source(SITE, &format!("feed-{thread}"), &id)
                    .unwrap()
                    .is_none()
                {
                    missing.push(id);
                }
            }
        }
    }
    println!("{} commits shared {} flushes", stats.commits, stats.flushes);
    assert!(missing.is_empty(), "missing after reopen: {missing:?}");
    assert_eq!(stored_items(store.as_ref()), THREADS * BATCHES * ITEMS);
    assert_eq!(stats.commits, (THREADS * BATCHES) as u64);
    assert!(store.verify().unwrap().is_healthy());
}

#[test]
fn verify_healthy_store() {
    let fx = Fixture::new();
    let ids = fx.ingest_routed(vec![refill("rx-1", 1), with_due(refill("rx-2", 1), 10)]);
    fx.engine.claim(SITE, ids[0], "ma-lund").unwrap();
    fx.engine.kv_set(SITE, "table", "k", b"v".to_vec()).unwrap();
    fx.engine.set_cursor(SITE, CONNECTOR, Some("c-1")).unwrap();

    let report = fx.engine.verify().unwrap();

    assert!(report.is_healthy(), "{:?}", report.mismatches);
    assert_eq!(report.items, 2);
    assert_eq!(report.log_records, 5);
}

#[test]
fn verify_finds_corruption_and_rebuild_fixes_it() {
    let fx = Fixture::new();
    let ids = fx.ingest_routed(vec![refill("rx-1", 1), refill("rx-2", 1)]);
    let dir = fx.close();
    {
        let raw = sled::open(db_path(&dir)).unwrap();
        let worklist = raw.open_tree("worklist").unwrap();
        let first = worklist.first().unwrap().unwrap().0;
        worklist.remove(first).unwrap();
        raw.open_tree("pending")
            .unwrap()
            .insert(b"bogus", &[])
            .unwrap();
        let items = raw.open_tree("items").unwrap();
        let key = ids[1].0.to_be_bytes();
        let mut value = items.get(key).unwrap().unwrap().to_vec();
        let last = value.len() - 1;
        value[last] ^= 0xff;
        items.insert(key, value).unwrap();
        raw.flush().unwrap();
    }
    let (engine, _store) = reopen(&dir, Arc::new(TableRouter::default()));

    let damaged = engine.verify().unwrap();
    let rebuilt = engine.rebuild().unwrap();
    let repaired = engine.verify().unwrap();

    let kinds: Vec<(String, MismatchKind)> = damaged
        .mismatches
        .iter()
        .map(|m| (m.tree.clone(), m.problem))
        .collect();
    assert!(
        kinds.contains(&("items".to_string(), MismatchKind::Different)),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("worklist".to_string(), MismatchKind::Missing)),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("pending".to_string(), MismatchKind::Unexpected)),
        "{kinds:?}"
    );
    assert_eq!(rebuilt.items, 2);
    assert!(repaired.is_healthy(), "{:?}", repaired.mismatches);
    let page = engine.worklist(&WorklistQuery::role(SITE, "ma")).unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(engine.item(SITE, ids[1]).unwrap().title, "lisinopril 10 mg");
}

#[test]
fn unknown_schema_version_is_rejected() {
    let fx = Fixture::new();
    let dir = fx.close();
    {
        let raw = sled::open(db_path(&dir)).unwrap();
        raw.open_tree("meta")
            .unwrap()
            .insert("schema", &99u32.to_be_bytes())
            .unwrap();
        raw.flush().unwrap();
    }

    let error = SledStore::open(db_path(&dir)).unwrap_err();

    assert!(
        matches!(error, StoreError::SchemaMismatch { found: 99, expected, .. } if expected == SCHEMA_VERSION),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("schema version 99"), "{message}");
    assert!(
        message.contains(&format!("reads version {SCHEMA_VERSION}")),
        "{message}"
    );
}

#[test]
fn foreign_folder_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "shopping list").unwrap();
    std::fs::write(dir.path().join("photo.jpg"), [0xff, 0xd8, 0xff, 0xe0]).unwrap();

    let error = SledStore::open(dir.path()).unwrap_err();

    assert!(matches!(error, StoreError::NotADatabase { .. }), "{error}");
    assert!(error.to_string().contains("notes.txt"), "{error}");
}

#[test]
fn file_path_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data");
    std::fs::write(&file, "x").unwrap();

    let error = SledStore::open(&file).unwrap_err();

    assert!(matches!(error, StoreError::NotADatabase { .. }), "{error}");
}

#[test]
fn other_sled_database_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    {
        let raw = sled::open(dir.path()).unwrap();
        raw.insert("someone", "else's data").unwrap();
        raw.flush().unwrap();
    }

    let error = SledStore::open(dir.path()).unwrap_err();

    assert!(
        matches!(error, StoreError::NotADatabase { ref reason, .. } if reason.contains("schema")),
        "{error}"
    );
}

#[test]
fn corrupted_database_is_a_clear_error() {
    let fx = Fixture::new();
    fx.ingest_routed((0..50).map(|i| refill(&format!("rx-{i}"), 1)).collect());
    let dir = fx.close();
    let data = db_path(&dir).join("db");
    let mut bytes = std::fs::read(&data).unwrap();
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = (i as u8).wrapping_mul(31) ^ 0x5a;
    }
    std::fs::write(&data, bytes).unwrap();

    let error = SledStore::open(db_path(&dir)).unwrap_err();

    assert!(matches!(error, StoreError::Corrupted { .. }), "{error}");
    assert!(error.to_string().contains("damaged"), "{error}");
}

#[test]
fn deleted_data_files_are_reported() {
    let fx = Fixture::new();
    fx.ingest(vec![refill("rx-1", 1)]);
    let dir = fx.close();
    std::fs::remove_file(db_path(&dir).join("db")).unwrap();
    std::fs::remove_file(db_path(&dir).join("conf")).unwrap();

    let error = SledStore::open(db_path(&dir)).unwrap_err();

    assert!(matches!(error, StoreError::Corrupted { .. }), "{error}");
}

#[test]
fn second_open_reports_in_use() {
    let fx = Fixture::new();

    let error = SledStore::open(db_path(&fx.dir)).unwrap_err();

    assert!(matches!(error, StoreError::InUse { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("in use"), "{message}");
    assert!(message.contains("running server's API"), "{message}");
}

#[test]
fn kv_limits_and_round_trip() {
    let fx = Fixture::new();
    let long_key = "k".repeat(257);

    fx.engine
        .kv_set(SITE, "table", "last-run", b"42".to_vec())
        .unwrap();
    let too_long = fx
        .engine
        .kv_set(SITE, "table", &long_key, Vec::new())
        .unwrap_err();
    let too_big = fx
        .engine
        .kv_set(SITE, "table", "big", vec![0; 64 * 1024 + 1])
        .unwrap_err();
    let other_plugin = fx.engine.kv_get(SITE, "nudges", "last-run").unwrap();
    let stored = fx.engine.kv_get(SITE, "table", "last-run").unwrap();
    fx.engine.kv_delete(SITE, "table", "last-run").unwrap();

    assert_eq!(stored, Some(b"42".to_vec()));
    assert_eq!(other_plugin, None);
    assert_eq!(fx.engine.kv_get(SITE, "table", "last-run").unwrap(), None);
    assert!(matches!(
        too_long,
        switchboard_engine::EngineError::Store(StoreError::TooLarge { what: "key", .. })
    ));
    assert!(matches!(
        too_big,
        switchboard_engine::EngineError::Store(StoreError::TooLarge { what: "value", .. })
    ));
}

#[test]
fn nudge_level_sent_once() {
    use switchboard_engine::model::NudgeRecord;
    use switchboard_sdk::NudgeLevel;
    let fx = Fixture::new();
    let id = fx.ingest_routed(vec![refill("rx-1", 1)])[0];
    let record = NudgeRecord {
        item: id,
        level: NudgeLevel::Reminder,
        role: "ma".into(),
        person: None,
        at: T0,
    };

    let first = fx.engine.record_nudge(record.clone()).unwrap();
    let second = fx.engine.record_nudge(record.clone()).unwrap();

    assert!(first);
    assert!(!second);
    assert_eq!(fx.engine.nudges(id).unwrap(), vec![record]);
}

#[test]
fn nudge_level_once_per_recipient() {
    use switchboard_engine::model::NudgeRecord;
    use switchboard_sdk::NudgeLevel;
    let fx = Fixture::new();
    let id = fx.ingest_routed(vec![refill("rx-1", 1)])[0];
    let escalation = |person: Option<&str>| NudgeRecord {
        item: id,
        level: NudgeLevel::Escalation,
        role: "physician".into(),
        person: person.map(str::to_string),
        at: T0,
    };

    let to_ng = fx.engine.record_nudge(escalation(Some("dr-ng"))).unwrap();
    let to_okafor = fx
        .engine
        .record_nudge(escalation(Some("dr-okafor")))
        .unwrap();
    let to_pool = fx.engine.record_nudge(escalation(None)).unwrap();
    let to_ng_again = fx.engine.record_nudge(escalation(Some("dr-ng"))).unwrap();
    let to_pool_again = fx.engine.record_nudge(escalation(None)).unwrap();

    assert!(to_ng);
    assert!(to_okafor);
    assert!(to_pool);
    assert!(!to_ng_again);
    assert!(!to_pool_again);
    let recipients: Vec<Option<String>> = fx
        .engine
        .nudges(id)
        .unwrap()
        .into_iter()
        .map(|n| n.person)
        .collect();
    assert_eq!(recipients.len(), 3);
    assert!(recipients.contains(&Some("dr-ng".to_string())));
    assert!(recipients.contains(&Some("dr-okafor".to_string())));
    assert!(recipients.contains(&None));
    assert!(fx.engine.verify().unwrap().is_healthy());
}

#[test]
fn version_1_nudges_are_migrated() {
    use switchboard_engine::model::NudgeRecord;
    use switchboard_sdk::NudgeLevel;
    let fx = Fixture::new();
    let id = fx.ingest_routed(vec![refill("rx-1", 1)])[0];
    let warning = NudgeRecord {
        item: id,
        level: NudgeLevel::Warning,
        role: "ma".into(),
        person: Some("ma-lund".into()),
        at: T0,
    };
    fx.engine.record_nudge(warning.clone()).unwrap();
    let dir = fx.close();
    {
        // Rewrite the store as schema version 1 wrote it: the nudge keyed
        // by the item id and the level code alone (warning = 1).
        let raw = sled::open(db_path(&dir)).unwrap();
        let nudges = raw.open_tree("nudges").unwrap();
        let (_, value) = nudges.pop_min().unwrap().unwrap();
        let mut old_key = id.0.to_be_bytes().to_vec();
        old_key.push(1);
        nudges.insert(old_key, value).unwrap();
        raw.open_tree("meta")
            .unwrap()
            .insert("schema", &1u32.to_be_bytes())
            .unwrap();
        raw.flush().unwrap();
    }

    let (engine, store) = reopen(&dir, Arc::new(TableRouter::default()));
    let resent = engine.record_nudge(warning.clone()).unwrap();
    let listed = engine.nudges(id).unwrap();
    let report = engine.verify().unwrap();
    drop(engine);
    drop(store);

    assert!(!resent, "the migrated nudge still counts as sent");
    assert_eq!(listed, vec![warning]);
    assert!(report.is_healthy(), "{:?}", report.mismatches);
    let raw = sled::open(db_path(&dir)).unwrap();
    let schema = raw.open_tree("meta").unwrap().get("schema").unwrap();
    assert_eq!(schema.as_deref(), Some(&2u32.to_be_bytes()[..]));
}

#[test]
fn activation_is_audited() {
    use switchboard_engine::model::{Activation, ActivationOutcome};
    let fx = Fixture::new();
    let activation = Activation {
        at: T0,
        site: Some(SITE.into()),
        plugin: policy(),
        outcome: ActivationOutcome::Activated,
        message: String::new(),
    };

    fx.engine
        .record_activation(activation.clone(), "reload")
        .unwrap();

    let audit = fx.engine.audit(Some(SITE), 10).unwrap();
    assert_eq!(
        fx.engine.activations(Some(SITE), 10).unwrap(),
        vec![activation]
    );
    assert_eq!(audit[0].action, "plugin.activate");
    assert_eq!(audit[0].target, "table@1.2.0");
    assert_eq!(audit[0].actor, "reload");
}

#[test]
fn metric_snapshots_by_date_range() {
    use switchboard_engine::model::MetricSnapshot;
    let fx = Fixture::new();
    for date in ["2026-03-01", "2026-03-02", "2026-03-03"] {
        let snapshot = MetricSnapshot {
            site: SITE.into(),
            date: date.into(),
            json: format!("{{\"date\":\"{date}\"}}"),
        };
        fx.engine.put_metric_snapshot(snapshot).unwrap();
    }

    let range = fx
        .engine
        .metric_snapshots(SITE, "2026-03-02", "2026-03-03")
        .unwrap();

    let dates: Vec<&str> = range.iter().map(|s| s.date.as_str()).collect();
    assert_eq!(dates, vec!["2026-03-02", "2026-03-03"]);
}

#[test]
fn engine_is_send_sync_clone() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}

    shareable::<Engine>();
    let _ = ManualClock::default();
}

#[test]
fn damaged_middle_never_panics() {
    let fx = Fixture::new();
    fx.ingest_routed((0..200).map(|i| refill(&format!("rx-{i}"), 1)).collect());
    let dir = fx.close();
    let data = db_path(&dir).join("db");
    let original = std::fs::read(&data).unwrap();

    for fraction in [2, 3, 5, 8] {
        let mut bytes = original.clone();
        let start = bytes.len() / fraction;
        let end = (start + 4096).min(bytes.len());
        for byte in &mut bytes[start..end] {
            *byte ^= 0xa5;
        }
        std::fs::write(&data, &bytes).unwrap();

        match SledStore::open(db_path(&dir)) {
            Err(error) => println!("damage at 1/{fraction}: {error}"),
            Ok(store) => {
                let report = store.verify().expect("a store that opened can be verified");
                println!(
                    "damage at 1/{fraction}: opened, {} mismatches",
                    report.mismatch_count
                );
            }
        }
    }
}
