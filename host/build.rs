//! Builds every plugin, policy and test guest as a `wasm32-wasip2` component.
//!
//! This is the one place guests are built. It runs a nested `cargo build`
//! with its own target directory (sharing the outer one would deadlock on
//! cargo's build lock) and a clean environment (the host's RUSTFLAGS must not
//! reach the wasm build). Each SDK feature set gets its own invocation,
//! because cargo unifies features across the packages of one build and a
//! policy must not carry connector imports.
//!
//! The finished components and their `plugin.toml` manifests are copied to
//! `$OUT_DIR/guests/<crate>/`, and `SWITCHBOARD_GUESTS_DIR` points there.
//! Machines with `RUSTUP_AUTO_INSTALL=0` do not install a target listed in
//! `rust-toolchain.toml`, so a missing `wasm32-wasip2` target is added here
//! with `rustup target add`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

/// Guests grouped by the SDK feature they enable: (crate, directory).
const POLICY_GUESTS: &[(&str, &str)] = &[
    ("example-policy", "policies/example"),
    ("table-policy", "policies/table"),
    ("closure-nudges", "policies/nudges"),
    ("previsit-prep", "policies/prep"),
    ("hostile-policy", "tests/guests/hostile-policy"),
    ("old-interface", "tests/guests/old-interface"),
    ("plain-policy", "tests/guests/plain-policy"),
    ("garbled-policy", "tests/guests/garbled-policy"),
];

const CONNECTOR_GUESTS: &[(&str, &str)] = &[
    ("fhir-connector", "plugins/fhir"),
    ("hl7v2-connector", "plugins/hl7v2"),
    ("csv-connector", "plugins/csv"),
    ("hostile-connector", "tests/guests/hostile-connector"),
];

/// Variables that would leak the host build's settings into the wasm build.
const LEAKY_VARS: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_MAKEFLAGS",
    "CARGO_PRIMARY_PACKAGE",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_WRAPPER",
    "CARGO_PROFILE_RELEASE_DEBUG",
];

fn main() {
    let manifest_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir
        .parent()
        .expect("host/ sits in the workspace root")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let guest_target = guest_target_dir(&workspace);

    for dir in [
        "sdk/src",
        "sdk/wit",
        "sdk/Cargo.toml",
        "policies",
        "plugins",
        "tests/guests",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }
    println!("cargo:rerun-if-env-changed=SWITCHBOARD_SKIP_GUESTS");

    ensure_target();

    // A comma-separated crate list in SWITCHBOARD_SKIP_GUESTS leaves those
    // guests out, for working on the host while a guest does not build.
    let skip: Vec<String> = env::var("SWITCHBOARD_SKIP_GUESTS")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    let guests_out = out_dir.join("guests");
    for group in [POLICY_GUESTS, CONNECTOR_GUESTS] {
        let wanted: Vec<(&str, &str)> = group
            .iter()
            .copied()
            .filter(|(name, _)| !skip.iter().any(|s| s == name))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        build_group(&workspace, &guest_target, &wanted);
        for (name, dir) in &wanted {
            copy_guest(&guest_target, &workspace, name, dir, &guests_out);
        }
    }
    println!(
        "cargo:rustc-env=SWITCHBOARD_GUESTS_DIR={}",
        guests_out.display()
    );
    write_bundle_index(&guests_out, &out_dir.join("bundled.rs"));
}

/// Plugins shipped inside the binary (test guests stay out).
const SHIPPED: &[&str] = &[
    "example-policy",
    "table-policy",
    "closure-nudges",
    "previsit-prep",
    "fhir-connector",
    "hl7v2-connector",
    "csv-connector",
];

/// Writes `bundled.rs`: the shipped plugins' bytes and manifests, embedded
/// with `include_bytes!` so the binary can install them anywhere.
fn write_bundle_index(guests_out: &Path, index: &Path) {
    let mut text = String::from(
        "/// Shipped plugins: (name, component bytes, manifest text).\npub static BUNDLED: &[(&str, &[u8], &str)] = &[\n",
    );
    for name in SHIPPED {
        let dir = guests_out.join(name);
        let (wasm, manifest) = (dir.join("plugin.wasm"), dir.join("plugin.toml"));
        if wasm.exists() && manifest.exists() {
            text.push_str(&format!(
                "    ({name:?}, include_bytes!({:?}), include_str!({:?})),\n",
                wasm.display().to_string(),
                manifest.display().to_string()
            ));
        }
    }
    text.push_str("];\n");
    std::fs::write(index, text).expect("failed to write the bundled plugin index");
}

/// Keeps guest builds beside the outer target directory so `cargo clean`
/// removes them too.
fn guest_target_dir(workspace: &Path) -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir).join("guests"),
        None => workspace.join("target").join("guests"),
    }
}

fn ensure_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("failed to run rustc --print sysroot");
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(TARGET).exists() {
        return;
    }

    println!("cargo:warning=installing the {TARGET} target with rustup (needed to build plugins)");
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", TARGET]);
    if let Ok(toolchain) = env::var("RUSTUP_TOOLCHAIN") {
        rustup.args(["--toolchain", &toolchain]);
    }
    let status = rustup.status();
    if !matches!(status, Ok(s) if s.success()) {
        panic!(
            "the {TARGET} target is missing and `rustup target add {TARGET}` failed ({status:?}); install it by hand and rebuild"
        );
    }
}

fn build_group(workspace: &Path, target_dir: &Path, group: &[(&str, &str)]) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--profile",
            "guest",
            "--target",
            TARGET,
            "--target-dir",
        ])
        .arg(target_dir);
    for (name, _) in group {
        command.args(["-p", name]);
    }
    for var in LEAKY_VARS {
        command.env_remove(var);
    }

    let status = command
        .status()
        .expect("failed to start the nested cargo build of the guests");
    if !status.success() {
        panic!("building the wasm guests failed ({status}); the error is printed above");
    }
}

fn copy_guest(target_dir: &Path, workspace: &Path, name: &str, dir: &str, out: &Path) {
    let file = format!("{}.wasm", name.replace('-', "_"));
    let built = target_dir.join(TARGET).join("guest").join(&file);
    let dest = out.join(name);
    std::fs::create_dir_all(&dest).expect("failed to create the guest output folder");
    std::fs::copy(&built, dest.join("plugin.wasm"))
        .unwrap_or_else(|e| panic!("failed to copy {}: {e}", built.display()));

    let manifest = workspace.join(dir).join("plugin.toml");
    if manifest.exists() {
        std::fs::copy(&manifest, dest.join("plugin.toml"))
            .unwrap_or_else(|e| panic!("failed to copy {}: {e}", manifest.display()));
    }
}
