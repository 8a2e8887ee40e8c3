//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use switchboard::config::SiteConfig;
use switchboard::runtime::{
    HostContext, LoadedPlugin, ManualClock, MemoryKv, Runtime, RuntimeOptions,
};
use switchboard_sdk::{Site, Timestamp};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

/// The sample site file.
pub fn sample_site_path() -> PathBuf {
    workspace().join("examples/config/sites/northside.toml")
}

/// The sample site, parsed as the host parses it.
pub fn sample_site() -> (SiteConfig, Site) {
    SiteConfig::load(&sample_site_path()).expect("the sample site parses")
}

/// A runtime with default limits and no cache.
pub fn runtime() -> Runtime {
    Runtime::new(RuntimeOptions::default()).expect("the runtime starts")
}

/// Loads a guest built by host/build.rs, such as `hostile-policy`.
pub fn load_guest(runtime: &Runtime, name: &str) -> LoadedPlugin {
    runtime
        .load_dir(&switchboard::bundled::guest_dir(name))
        .unwrap_or_else(|e| panic!("guest {name} loads: {e}"))
}

/// A host context at a fixed time with an in-memory key-value store.
pub fn host_context(site: &str, plugin: &str, now: Timestamp) -> HostContext {
    HostContext {
        site: site.to_string(),
        plugin: plugin.to_string(),
        zone: chrono_tz::Tz::UTC,
        clock: Arc::new(ManualClock::new(now)),
        kv: Arc::new(MemoryKv::default()),
        egress: None,
    }
}

/// 2026-03-09T15:00:00Z, a Monday morning in Chicago.
pub fn monday_morning() -> Timestamp {
    Timestamp::parse_rfc3339("2026-03-09T15:00:00Z").expect("valid timestamp")
}
