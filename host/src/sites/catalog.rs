//! Installed plugins: finding a version folder and keeping compiled
//! components by content hash, so a reload that does not change a plugin's
//! bytes never compiles it again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::config::{PluginRef, quote};
use crate::runtime::{LoadedPlugin, PluginError, Runtime, sha256_hex};

/// A plugin version resolved to its folder and content hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedPlugin {
    /// Plugin name.
    pub name: String,
    /// Version folder name.
    pub version: String,
    /// Folder holding `plugin.wasm` and `plugin.toml`.
    pub dir: PathBuf,
    /// SHA-256 of `plugin.wasm` and `plugin.toml` together.
    pub sha256: String,
}

/// Why a plugin reference could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No folder for the plugin.
    #[error("plugin {plugin} is not installed: no folder {}", quote(dir))]
    NotInstalled {
        /// The reference.
        plugin: String,
        /// Where it was looked for.
        dir: PathBuf,
    },
    /// A file of the plugin could not be read.
    #[error("failed to read plugin file {}: {source}", quote(path))]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Compiled components keyed by content hash.
#[derive(Debug, Default)]
pub struct Catalog {
    loaded: Mutex<HashMap<String, LoadedPlugin>>,
}

impl Catalog {
    /// Resolves `reference` under `plugins_dir`: the pinned version, or the
    /// newest version folder (by semantic version) that holds a `plugin.wasm`.
    ///
    /// # Errors
    ///
    /// [`ResolveError`] naming the plugin and the folder looked at.
    pub fn resolve(
        plugins_dir: &Path,
        reference: &PluginRef,
    ) -> Result<ResolvedPlugin, ResolveError> {
        let base = plugins_dir.join(&reference.name);
        let version = match &reference.version {
            Some(version) => version.clone(),
            None => newest_version(&base).ok_or_else(|| ResolveError::NotInstalled {
                plugin: reference.to_string(),
                dir: base.clone(),
            })?,
        };
        let dir = base.join(&version);
        let wasm = dir.join("plugin.wasm");
        if !wasm.exists() {
            return Err(ResolveError::NotInstalled {
                plugin: reference.to_string(),
                dir,
            });
        }

        let mut bytes = std::fs::read(&wasm).map_err(|source| ResolveError::Read {
            path: wasm.clone(),
            source,
        })?;
        let manifest = dir.join("plugin.toml");
        if let Ok(text) = std::fs::read(&manifest) {
            bytes.extend_from_slice(&text);
        }
        Ok(ResolvedPlugin {
            name: reference.name.clone(),
            version,
            sha256: sha256_hex(&bytes),
            dir,
        })
    }

    /// Loads a resolved plugin, reusing the compiled component when the same
    /// bytes were loaded before.
    ///
    /// # Errors
    ///
    /// As [`Runtime::load_dir`].
    pub fn load(
        &self,
        runtime: &Runtime,
        resolved: &ResolvedPlugin,
    ) -> Result<LoadedPlugin, PluginError> {
        if let Some(loaded) = self.lock().get(&resolved.sha256) {
            return Ok(loaded.clone());
        }
        let loaded = runtime.load_dir(&resolved.dir)?;
        self.lock().insert(resolved.sha256.clone(), loaded.clone());
        Ok(loaded)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, LoadedPlugin>> {
        self.loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn newest_version(base: &Path) -> Option<String> {
    let entries = std::fs::read_dir(base).ok()?;
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("plugin.wasm").exists())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter_map(|name| semver_key(&name).map(|key| (key, name)))
        .max()
        .map(|(_, name)| name)
}

fn semver_key(text: &str) -> Option<(u64, u64, u64)> {
    let mut parts = text.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_version_sorts_numerically() {
        let dir = tempfile::tempdir().unwrap();
        for version in ["0.9.0", "0.10.0", "0.2.5", "notes"] {
            std::fs::create_dir_all(dir.path().join("p").join(version)).unwrap();
            std::fs::write(dir.path().join("p").join(version).join("plugin.wasm"), b"x").unwrap();
        }

        let resolved = Catalog::resolve(
            dir.path(),
            &PluginRef {
                name: "p".into(),
                version: None,
            },
        )
        .unwrap();

        assert_eq!(resolved.version, "0.10.0");
    }

    #[test]
    fn missing_plugin_names_folder() {
        let dir = tempfile::tempdir().unwrap();

        let error = Catalog::resolve(
            dir.path(),
            &PluginRef {
                name: "absent".into(),
                version: Some("1.0.0".into()),
            },
        )
        .unwrap_err();

        assert!(error.to_string().contains("absent"), "{error}");
    }
}
