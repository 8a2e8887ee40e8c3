//! A configuration folder holding the benchmark site, routed by the table
//! policy installed from the components this build compiled.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use switchboard::config::Layout;
use switchboard::runtime::{ManualClock, MemoryKv};
use switchboard::sites::{MemoryAudit, Services, Sites};

use super::items::SITE_TOML;

/// Id of the benchmark site.
pub const SITE_ID: &str = "bench";

/// Returns the path of the site's rule table in the configuration folder
/// at `root`.
pub fn routing_table_path(root: &Path) -> PathBuf {
    root.join("sites").join(SITE_ID).join("routing.toml")
}

/// Writes `sites/bench.toml` (the roster and a `[routing]` slot running
/// `table-policy`) and the rule table `table`.
pub fn write_site(root: &Path, table: &str) {
    let sites = root.join("sites");
    std::fs::create_dir_all(sites.join(SITE_ID)).expect("the sites folder can be created");
    let site = format!(
        "{SITE_TOML}\n[routing]\nplugin = \"table-policy\"\nconfig = \"{SITE_ID}/routing.toml\"\n"
    );
    std::fs::write(sites.join(format!("{SITE_ID}.toml")), site).expect("the site file is written");
    std::fs::write(routing_table_path(root), table).expect("the rule table is written");
}

/// Installs the built component `guest` as `plugins/<guest>/<version>/`,
/// with `version` written into its manifest. `custom_section`, when given,
/// is appended to the component as a custom section named
/// `switchboard-bench`, which changes its bytes (and so its hash) without
/// changing what it does. The `.wasm` file is renamed into place last, so a
/// watching host never reads half of it.
pub fn install_plugin(plugins: &Path, guest: &str, version: &str, custom_section: Option<&[u8]>) {
    let source = switchboard::bundled::guest_dir(guest);
    let dest = plugins.join(guest).join(version);
    std::fs::create_dir_all(&dest).expect("the plugin folder can be created");

    let mut wasm =
        std::fs::read(source.join("plugin.wasm")).expect("the built component is readable");
    if let Some(payload) = custom_section {
        wasm.extend(encode_custom_section("switchboard-bench", payload));
    }
    let manifest =
        std::fs::read_to_string(source.join("plugin.toml")).expect("the manifest is readable");
    let manifest = with_version(&manifest, version);

    let partial = dest.join("plugin.wasm.partial");
    std::fs::write(&partial, wasm).expect("the component is written");
    std::fs::write(dest.join("plugin.toml"), manifest).expect("the manifest is written");
    std::fs::rename(&partial, dest.join("plugin.wasm"))
        .expect("the component is renamed into place");
}

fn with_version(manifest: &str, version: &str) -> String {
    manifest
        .lines()
        .map(|line| {
            if line.starts_with("version = ") {
                format!("version = \"{version}\"")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Encodes a custom section (id 0): its size, then the name and the
/// payload. The binary format allows one anywhere among a component's
/// sections.
fn encode_custom_section(name: &str, payload: &[u8]) -> Vec<u8> {
    let mut content = leb128(name.len());
    content.extend_from_slice(name.as_bytes());
    content.extend_from_slice(payload);

    let mut section = vec![0u8];
    section.extend(leb128(content.len()));
    section.extend(content);
    section
}

fn leb128(mut value: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Builds a sites registry over the folder at `root`, with the compiled-component
/// cache under `data/cache` as the host keeps it, the clock stopped at
/// [`super::NOW`] and in-memory key-value and audit stores. Site files are
/// not read until the caller reloads.
pub fn sites(root: &Path) -> Arc<Sites> {
    sites_with(root, false)
}

/// Builds a sites registry as [`sites`] does, compiling new bytes with
/// Winch first when `quick_compile` is set, as `switchboard serve` does.
pub fn sites_with(root: &Path, quick_compile: bool) -> Arc<Sites> {
    let layout = Layout::new(root, Path::new("data"));
    let services = Services {
        runtime: super::runtime_with(Some(&layout.cache()), quick_compile),
        layout,
        clock: Arc::new(ManualClock::new(super::now())),
        kv: Arc::new(MemoryKv::default()),
        audit: Arc::new(MemoryAudit::default()),
        egress: None,
    };
    Arc::new(Sites::new(services))
}
