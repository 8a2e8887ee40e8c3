//! The sandbox: hostile components are stopped with a named error, the host
//! keeps serving, and another site's plugin keeps routing.

use switchboard::runtime::{PluginError, PolicyPlugin, Runtime, RuntimeOptions};
use switchboard_sdk::{Attribute, Category, RouteContext, RouteError, RouteItem, Site};
use switchboard_tests::{host_context, load_guest, monday_morning, runtime, sample_site};

fn item(key: u64, hostile: Option<&str>) -> RouteItem {
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
        attributes: hostile
            .map(|mode| {
                vec![Attribute {
                    key: "hostile".into(),
                    value: mode.into(),
                }]
            })
            .unwrap_or_default(),
    }
}

/// Which compiler builds the hostile component's code.
#[derive(Clone, Copy, Debug)]
enum Compiler {
    Cranelift,
    Winch,
}

fn hostile_plugin(
    runtime: &Runtime,
    compiler: Compiler,
    site: &Site,
    site_id: &str,
) -> PolicyPlugin {
    let loaded = match compiler {
        Compiler::Cranelift => load_guest(runtime, "hostile-policy"),
        Compiler::Winch => runtime
            .load_dir_winch_only(&switchboard::bundled::guest_dir("hostile-policy"))
            .expect("the hostile policy compiles with Winch"),
    };
    assert_eq!(loaded.is_quick(), matches!(compiler, Compiler::Winch));
    PolicyPlugin::new(
        runtime,
        loaded,
        host_context(site_id, "hostile-policy", monday_morning()),
        site,
        "",
    )
    .expect("hostile policy configures")
}

fn context() -> RouteContext {
    RouteContext {
        now: monday_morning(),
        load: Vec::new(),
    }
}

/// Routes one hostile item, expects the given error, then checks that the
/// same slot and another site's slot still route normal items. Runs once
/// with Cranelift code and once with Winch code, which `serve` runs while
/// a new version's Cranelift compile is under way.
fn assert_contained(mode: &str, check: impl Fn(&PluginError) -> bool) {
    for compiler in [Compiler::Cranelift, Compiler::Winch] {
        assert_contained_with(compiler, mode, &check);
    }
}

fn assert_contained_with(compiler: Compiler, mode: &str, check: &impl Fn(&PluginError) -> bool) {
    let runtime = Runtime::new(RuntimeOptions {
        quick_compile: matches!(compiler, Compiler::Winch),
        ..RuntimeOptions::default()
    })
    .expect("the runtime starts");
    let (_, site) = sample_site();
    let victim = hostile_plugin(&runtime, compiler, &site, "northside");
    let neighbour = hostile_plugin(&runtime, compiler, &site, "southside");

    let error = victim
        .route(&[item(1, Some(mode))], &context())
        .expect_err("the hostile call fails");

    assert!(
        check(&error),
        "{compiler:?}, mode {mode}: unexpected error {error}"
    );
    assert!(
        error.is_call_failure(),
        "mode {mode}: {error} should count as a call failure"
    );
    let after = victim
        .route(&[item(2, None)], &context())
        .expect("the slot routes again with a fresh instance");
    assert_eq!(after.len(), 1);
    assert!(after[0].is_ok());
    let other = neighbour
        .route(&[item(3, None)], &context())
        .expect("the other site keeps routing");
    assert!(other[0].is_ok());
    let (_, failures, instances) = victim.stats.snapshot();
    assert_eq!(failures, 1);
    assert_eq!(instances, 2, "the failed instance was replaced");
}

#[test]
fn infinite_loop_hits_deadline() {
    assert_contained("loop", |e| {
        matches!(
            e,
            PluginError::Deadline {
                call: "route",
                limit_ms: 100,
                ..
            }
        )
    });
}

#[test]
fn memory_bomb_hits_cap() {
    assert_contained("memory", |e| {
        matches!(
            e,
            PluginError::Memory {
                call: "route",
                limit_mib: 32,
                ..
            }
        )
    });
}

#[test]
fn panic_is_a_trap() {
    assert_contained("panic", |e| {
        matches!(e, PluginError::Trap { call: "route", .. })
    });
}

#[test]
fn deep_recursion_overflows_stack() {
    assert_contained("recursion", |e| {
        matches!(e, PluginError::StackOverflow { call: "route", .. })
    });
}

#[test]
fn oversized_result_is_discarded() {
    assert_contained(
        "oversize",
        |e| matches!(e, PluginError::OutputTooLarge { call: "route", limit, .. } if *limit == 512 << 10),
    );
}

#[test]
fn failing_configure_rejects_candidate() {
    let runtime = runtime();
    let (_, site) = sample_site();
    let loaded = load_guest(&runtime, "hostile-policy");

    let error = PolicyPlugin::new(
        &runtime,
        loaded,
        host_context("northside", "hostile-policy", monday_morning()),
        &site,
        "fail",
    )
    .expect_err("configure fails");

    match error {
        PluginError::Config { plugin, error } => {
            assert_eq!(plugin, "hostile-policy");
            assert_eq!(error.message, "configured to fail");
        }
        other => panic!("expected a config error, got {other}"),
    }
}

#[test]
fn batch_keeps_order_and_count() {
    let runtime = runtime();
    let (_, site) = sample_site();
    let policy = hostile_plugin(&runtime, Compiler::Cranelift, &site, "northside");
    let items: Vec<RouteItem> = (1..=300).map(|k| item(k, None)).collect();

    let outcomes = policy
        .route(&items, &context())
        .expect("a normal batch routes");

    assert_eq!(outcomes.len(), 300);
    assert!(
        outcomes
            .iter()
            .all(|o| o.as_ref().is_ok_and(|a| a.rule == "ok"))
    );
}

/// Routes one item through `garbled-policy` configured with `mode`, twice,
/// and checks each call fails with `check`, the bad instance is replaced
/// each time, and another site's policy keeps routing.
fn assert_unreadable_rejected(mode: &str, check: impl Fn(&PluginError) -> bool) {
    let runtime = runtime();
    let (_, site) = sample_site();
    let victim = PolicyPlugin::new(
        &runtime,
        load_guest(&runtime, "garbled-policy"),
        host_context("northside", "garbled-policy", monday_morning()),
        &site,
        mode,
    )
    .expect("the garbled policy configures");
    assert!(victim.loaded().packed_route);
    let neighbour = hostile_plugin(&runtime, Compiler::Cranelift, &site, "southside");

    for key in [1, 2] {
        let error = victim
            .route(&[item(key, None)], &context())
            .expect_err("the unreadable result fails the call");
        assert!(check(&error), "mode {mode}: unexpected error {error}");
        assert!(error.is_call_failure(), "mode {mode}: {error}");
    }
    let other = neighbour
        .route(&[item(3, None)], &context())
        .expect("the other site keeps routing");
    assert!(other[0].is_ok());
    let (_, failures, instances) = victim.stats.snapshot();
    assert_eq!(failures, 2);
    assert_eq!(
        instances, 2,
        "the instance was replaced after the first failure"
    );
}

fn unreadable_at(error: &PluginError, offset: usize, problem: &str) -> bool {
    matches!(
        error,
        PluginError::Unreadable { call: "route", message, .. }
            if *message == format!("packed outcomes unreadable at byte {offset}: {problem}")
    )
}

#[test]
fn unknown_outcome_tag_is_rejected() {
    assert_unreadable_rejected("bad-tag", |e| {
        unreadable_at(e, 5, "outcome tag 9, expected 0 to 3")
    });
}

#[test]
fn bytes_after_the_last_outcome_are_rejected() {
    assert_unreadable_rejected("trailing", |e| {
        unreadable_at(e, 11, "1 bytes follow the last record")
    });
}

#[test]
fn impossible_outcome_count_is_rejected() {
    assert_unreadable_rejected("huge-count", |e| {
        unreadable_at(e, 1, "count 4000000000 cannot fit in the 0 bytes left")
    });
}

#[test]
fn too_few_packed_outcomes_are_rejected() {
    assert_unreadable_rejected("too-few", |e| {
        matches!(
            e,
            PluginError::BadResult {
                call: "route",
                expected: 1,
                got: 0,
                ..
            }
        )
    });
}

#[test]
fn well_formed_packed_outcome_is_used() {
    let runtime = runtime();
    let (_, site) = sample_site();
    let policy = PolicyPlugin::new(
        &runtime,
        load_guest(&runtime, "garbled-policy"),
        host_context("northside", "garbled-policy", monday_morning()),
        &site,
        "well-formed",
    )
    .unwrap();

    let outcomes = policy.route(&[item(1, None)], &context()).unwrap();

    assert_eq!(outcomes, [Err(RouteError::NoMatch("x".into()))]);
}
