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

/// Hashed token lines for a test host file: (token, name, site, person, scope).
pub type TokenSpec<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>, &'a str);

/// A configuration folder for a real host on loopback: the sample site (and
/// optionally a second one), the bundled plugins, tokens and a free port.
#[derive(Debug)]
pub struct HostFolder {
    /// The temporary folder; removed on drop.
    pub dir: tempfile::TempDir,
    /// The API address.
    pub address: std::net::SocketAddr,
}

/// A free loopback port: bind to port 0 and release it.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl HostFolder {
    /// Writes `switchboard.toml`, installs the bundled plugins and copies
    /// the sample site with `site_extra` appended (connectors, policies).
    pub fn new(tokens: &[TokenSpec<'_>], sites: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let address: std::net::SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .expect("an address");
        let root = dir.path();
        switchboard::bundled::install_all(&root.join("plugins")).expect("bundled plugins install");

        let mut host =
            format!("schema = 1\ndata_dir = \"data\"\n\n[api]\nlisten = \"{address}\"\n\n");
        for (token, name, site, person, scope) in tokens {
            host.push_str(&format!(
                "[[tokens]]\nname = \"{name}\"\nsha256 = \"{}\"\nscopes = [\"{scope}\"]\n",
                switchboard::app::tokens::hash_token(token)
            ));
            if let Some(site) = site {
                host.push_str(&format!("site = \"{site}\"\n"));
            }
            if let Some(person) = person {
                host.push_str(&format!("person = \"{person}\"\n"));
            }
        }
        std::fs::write(root.join("switchboard.toml"), host).expect("host file written");

        let sample = std::fs::read_to_string(sample_site_path()).expect("sample site");
        let roster = sample
            .split("# Plugins.")
            .next()
            .expect("roster part")
            .to_string();
        let sites_dir = root.join("sites");
        std::fs::create_dir_all(&sites_dir).expect("sites folder");
        copy_dir(
            &workspace().join("examples/config/sites/northside"),
            &sites_dir.join("northside"),
        );
        for (id, extra) in sites {
            let text = roster.replace("id = \"northside\"", &format!("id = \"{id}\"")) + extra;
            std::fs::write(sites_dir.join(format!("{id}.toml")), text).expect("site file written");
            if *id != "northside" {
                copy_dir(
                    &workspace().join("examples/config/sites/northside"),
                    &sites_dir.join(id),
                );
            }
        }
        HostFolder { dir, address }
    }

    /// The configuration folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The base URL of the API.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("folder created");
    for entry in std::fs::read_dir(from).expect("folder readable").flatten() {
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("file copied");
    }
}

/// A `switchboard serve` process; killed on drop.
#[derive(Debug)]
pub struct ServerProcess {
    /// The child process.
    pub child: std::process::Child,
    /// Where its standard error goes.
    pub log: PathBuf,
}

impl ServerProcess {
    /// Starts `serve --config DIR` with standard error in a file under DIR,
    /// and waits until `/healthz` reports `ok` (or panics after 120 s).
    pub fn start(binary: &Path, folder: &HostFolder) -> Self {
        Self::start_with(std::process::Command::new(binary), folder)
    }

    /// As [`ServerProcess::start`], with a prepared command (for a wrapper
    /// such as strace); `serve --config DIR` is appended.
    pub fn start_with(mut command: std::process::Command, folder: &HostFolder) -> Self {
        let log = folder.path().join(format!(
            "serve-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let stderr = std::fs::File::create(&log).expect("log file");
        let child = command
            .arg("serve")
            .arg("--config")
            .arg(folder.path())
            .env("SWITCHBOARD_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("serve starts");
        let server = ServerProcess { child, log };
        server.wait_healthy(folder);
        server
    }

    fn wait_healthy(&self, folder: &HostFolder) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            if let Ok(mut response) = ureq::get(&folder.url("/healthz")).call()
                && let Ok(body) = response.body_mut().read_to_string()
                && body.contains("\"status\":\"ok\"")
            {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "serve did not become healthy within 120 s; log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Kills the process with SIGKILL and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit by itself and returns its status.
    pub fn wait(mut self) -> std::process::ExitStatus {
        self.child.wait().expect("the process exits")
    }

    /// Sends SIGTERM and returns the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        self.child.wait().expect("serve exits")
    }

    /// The log written so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A FHIR `Task` resource whose id is `id`: one small work item per message.
pub fn fhir_task(id: u64) -> String {
    format!(
        r#"{{"resourceType":"Task","id":"t{id}","meta":{{"versionId":"1","lastUpdated":"2026-03-09T14:00:00Z"}},"status":"requested","intent":"order","code":{{"text":"call back"}},"description":"call back","for":{{"reference":"Patient/p{id}"}},"authoredOn":"2026-03-09T14:00:00Z"}}"#
    )
}
