//! `switchboard plugin check PATH`

use std::path::Path;
use std::process::ExitCode;

use super::bench;
use super::output::outln;

/// Loads the plugin as the host would and prints what it is.
pub fn run(path: &Path) -> anyhow::Result<ExitCode> {
    let runtime = bench::runtime()?;
    let plugin = bench::load(&runtime, path)?;

    let m = &plugin.manifest;
    let l = &plugin.limits;
    outln!("plugin     {} {}", m.name, m.version)?;
    outln!("world      {}", m.kind.as_str())?;
    outln!("interface  switchboard:plugin@{}", plugin.interface)?;
    if m.kind == crate::config::PluginKind::Policy {
        let path = if plugin.packed_route {
            "policy-packed (one copy of each batch each way)"
        } else {
            "policy-api (typed records)"
        };
        outln!("routing    {path}")?;
    }
    outln!("sha256     {}", plugin.sha256)?;
    outln!(
        "limits     route {} ms, calls {} ms, connector calls {} ms, memory {} MiB, output {} KiB",
        l.route_ms,
        l.call_ms,
        l.poll_ms,
        l.memory_bytes >> 20,
        l.output_bytes >> 10
    )?;
    if !m.capabilities.http_hosts.is_empty() {
        outln!("http hosts {}", m.capabilities.http_hosts.join(", "))?;
    }
    if !m.capabilities.credentials.is_empty() {
        outln!("credentials {}", m.capabilities.credentials.join(", "))?;
    }
    outln!("ok")?;
    Ok(ExitCode::SUCCESS)
}

/// Installs a checked plugin, or every bundled one, under `config/plugins/`.
/// A running host picks the new files up through its watcher.
pub fn install(path: Option<&Path>, bundled: bool, config: &Path) -> anyhow::Result<ExitCode> {
    let plugins = config.join("plugins");
    if bundled {
        for (name, version) in crate::bundled::install_all(&plugins)? {
            outln!("installed {name} {version}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }

    let path = path.ok_or_else(|| anyhow::anyhow!("give a plugin path or --bundled"))?;
    let runtime = bench::runtime()?;
    let plugin = bench::load(&runtime, path)?;
    let (wasm, manifest) = bench::plugin_files(path)?;
    let dir = plugins
        .join(&plugin.manifest.name)
        .join(&plugin.manifest.version);
    std::fs::create_dir_all(&dir)?;
    // The manifest first and the component last, each renamed into place,
    // so a watching host sees a complete plugin.
    for (source, name) in [(manifest, "plugin.toml"), (wasm, "plugin.wasm")] {
        let partial = dir.join(format!("{name}.partial"));
        std::fs::copy(&source, &partial)?;
        std::fs::rename(&partial, dir.join(name))?;
    }
    outln!(
        "installed {} {} (sha256 {}) in {}",
        plugin.manifest.name,
        plugin.manifest.version,
        plugin.sha256,
        dir.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
