//! `switchboard plugin check PATH`

use std::path::Path;
use std::process::ExitCode;

use super::bench;

/// Loads the plugin as the host would and prints what it is.
pub fn run(path: &Path) -> anyhow::Result<ExitCode> {
    let runtime = bench::runtime()?;
    let plugin = bench::load(&runtime, path)?;

    let m = &plugin.manifest;
    let l = &plugin.limits;
    println!("plugin     {} {}", m.name, m.version);
    println!("world      {}", m.kind.as_str());
    println!("interface  switchboard:plugin@{}", plugin.interface);
    println!("sha256     {}", plugin.sha256);
    println!(
        "limits     route {} ms, calls {} ms, connector calls {} ms, memory {} MiB, output {} KiB",
        l.route_ms,
        l.call_ms,
        l.poll_ms,
        l.memory_bytes >> 20,
        l.output_bytes >> 10
    );
    if !m.capabilities.http_hosts.is_empty() {
        println!("http hosts {}", m.capabilities.http_hosts.join(", "));
    }
    if !m.capabilities.credentials.is_empty() {
        println!("credentials {}", m.capabilities.credentials.join(", "));
    }
    println!("ok");
    Ok(ExitCode::SUCCESS)
}
