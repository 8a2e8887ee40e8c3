//! Pieces shared by the test-bench commands: finding a plugin's manifest,
//! building a runtime without a data folder, reading inputs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use crate::config::{Manifest, quote};
use crate::runtime::{HostContext, LoadedPlugin, MemoryKv, Runtime, RuntimeOptions, SystemClock};

/// Resolves a plugin path: a folder holding `plugin.wasm`, or a `.wasm`
/// file, with `plugin.toml` beside it. Returns (wasm, manifest).
pub fn plugin_files(path: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let (wasm, dir) = if path.is_dir() {
        (path.join("plugin.wasm"), path.to_path_buf())
    } else {
        (
            path.to_path_buf(),
            path.parent().map(Path::to_path_buf).unwrap_or_default(),
        )
    };
    if !wasm.exists() {
        anyhow::bail!(
            "plugin file {} not found; pass a .wasm file or a folder holding plugin.wasm",
            quote(&wasm)
        );
    }
    let manifest = dir.join("plugin.toml");
    if !manifest.exists() {
        anyhow::bail!(
            "manifest {} not found; every plugin needs a plugin.toml beside its .wasm",
            quote(&manifest)
        );
    }
    Ok((wasm, manifest))
}

/// A runtime without a cache, for one-shot commands.
pub fn runtime() -> anyhow::Result<Runtime> {
    Runtime::new(RuntimeOptions::default())
        .map_err(|e| anyhow::anyhow!("failed to start the WebAssembly runtime: {e:#}"))
}

/// Loads and checks the plugin at `path`.
pub fn load(runtime: &Runtime, path: &Path) -> anyhow::Result<LoadedPlugin> {
    let (wasm, manifest_path) = plugin_files(path)?;
    let manifest = Manifest::load(&manifest_path, &runtime.limits)?;
    let bytes = std::fs::read(&wasm).with_context(|| format!("failed to read {}", quote(&wasm)))?;
    Ok(runtime.load(&bytes, manifest)?)
}

/// A host context for a bench run: system clock, memory key-value store,
/// no HTTP.
pub fn host_context(site: &str, zone: chrono_tz::Tz, plugin: &str) -> HostContext {
    HostContext {
        site: site.to_string(),
        plugin: plugin.to_string(),
        zone,
        clock: Arc::new(SystemClock),
        kv: Arc::new(MemoryKv::default()),
        egress: None,
    }
}
