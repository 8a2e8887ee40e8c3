//! Configuration: the host file, site files and plugin manifests, and the
//! folder layout that ties them together.
//!
//! A configuration folder looks like this:
//!
//! ```text
//! CONFIG/switchboard.toml                     host settings (HostConfig)
//! CONFIG/sites/<site>.toml                    one file per site (SiteConfig)
//! CONFIG/sites/<site>/<name>.toml             policy and connector configs a site file names
//! CONFIG/plugins/<name>/<version>/plugin.wasm a component
//! CONFIG/plugins/<name>/<version>/plugin.toml its manifest (Manifest)
//! DATA/db/                                    the sled store
//! DATA/cache/                                 compiled components
//! DATA/inbox/<site>/<connector>/              watched inbox folders, with done/ and rejected/
//! ```
//!
//! `DATA` is `data_dir` from the host file, `CONFIG/data` by default. Every
//! file is parsed strictly: an unknown key is an error naming the key, and a
//! TOML error carries its line and column.
//!
//! Listeners bind to loopback by default. On any other address the HTTP
//! API needs `api.tls_cert` and `api.tls_key`, and each MLLP listener needs
//! `mllp_tls_cert` and `mllp_tls_key` on its connector (and may add
//! `mllp_tls_client_ca`). The `tls` module describes the files.

mod error;
mod host;
mod manifest;
mod site;
mod tls;

pub use error::ConfigError;
pub use host::{ApiConfig, HostConfig, Limits, TokenConfig, TokenScope};
pub use manifest::{Capabilities, EffectiveLimits, Manifest, PluginKind, RequestedLimits};
pub use site::{ConnectorConfig, CredentialConfig, PluginRef, PolicySlot, SiteConfig};
pub use tls::{HTTP_ALPN, TlsError, TlsFiles, server_config};

use std::path::{Path, PathBuf};

/// Name of the host file inside a configuration folder.
pub const HOST_FILE: &str = "switchboard.toml";

/// Resolved locations of a configuration folder.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The configuration folder.
    pub root: PathBuf,
    /// Site files.
    pub sites: PathBuf,
    /// Installed plugins.
    pub plugins: PathBuf,
    /// Host data: store, cache, inbox.
    pub data: PathBuf,
}

impl Layout {
    /// The layout of `root` with `data_dir` (relative to `root` unless absolute).
    pub fn new(root: &Path, data_dir: &Path) -> Self {
        Layout {
            root: root.to_path_buf(),
            sites: root.join("sites"),
            plugins: root.join("plugins"),
            data: root.join(data_dir),
        }
    }

    /// The sled database folder.
    pub fn db(&self) -> PathBuf {
        self.data.join("db")
    }

    /// The compiled-component cache folder.
    pub fn cache(&self) -> PathBuf {
        self.data.join("cache")
    }

    /// The inbox folder of one connector at one site.
    pub fn inbox(&self, site: &str, connector: &str) -> PathBuf {
        self.data.join("inbox").join(site).join(connector)
    }

    /// The folder of one installed plugin version.
    pub fn plugin_dir(&self, name: &str, version: &str) -> PathBuf {
        self.plugins.join(name).join(version)
    }
}

/// Quotes a path for messages, the same way everywhere.
pub fn quote(path: &Path) -> String {
    format!("\"{}\"", path.display())
}
