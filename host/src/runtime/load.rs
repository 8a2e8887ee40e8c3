//! Turning bytes into a checked, pre-linked component.
//!
//! Steps: hash the bytes; compile them (or load the compiled form from the
//! cache); read the world and interface version from the component's exports
//! and compare them with the manifest; pre-link against the world's linker.
//! Only a component that passes every step becomes a [`LoadedPlugin`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::Runtime;
use super::bindings::{connector::ConnectorPre, policy::PolicyPre};
use super::error::PluginError;
use super::state::PluginState;
use crate::config::{Manifest, PluginKind};

/// The WIT package version this host implements.
pub const INTERFACE_VERSION: &str = switchboard_sdk::WIT_VERSION;

const PACKAGE_PREFIX: &str = "switchboard:plugin/";

/// The pre-linked form of a component, ready to instantiate.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub enum Pre {
    /// A policy.
    Policy(PolicyPre<PluginState>),
    /// A connector.
    Connector(ConnectorPre<PluginState>),
}

/// A compiled, checked, pre-linked plugin. Cheap to share.
#[derive(Clone)]
pub struct LoadedPlugin {
    /// Its manifest.
    pub manifest: Arc<Manifest>,
    /// SHA-256 of the `.wasm` bytes, lowercase hex: the version's identity.
    pub sha256: String,
    /// Interface version read from the component.
    pub interface: String,
    /// Limits in force.
    pub limits: crate::config::EffectiveLimits,
    /// Ready to instantiate.
    pub pre: Pre,
    /// Whether the compiled form came from the cache.
    pub from_cache: bool,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.manifest.name)
            .field("version", &self.manifest.version)
            .field("sha256", &self.sha256)
            .field("interface", &self.interface)
            .finish_non_exhaustive()
    }
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Runtime {
    /// Loads `plugin.wasm` and `plugin.toml` from a plugin folder.
    ///
    /// # Errors
    ///
    /// [`PluginError`] for a missing or invalid manifest, unreadable bytes,
    /// a component that does not compile, the wrong world, an unsupported or
    /// mismatched interface version, or an import the host does not provide.
    pub fn load_dir(&self, dir: &Path) -> Result<LoadedPlugin, PluginError> {
        let manifest = Manifest::load(&dir.join("plugin.toml"), &self.limits)?;
        let wasm_path = dir.join("plugin.wasm");
        let bytes = std::fs::read(&wasm_path).map_err(|source| PluginError::Read {
            path: wasm_path,
            source,
        })?;
        self.load(&bytes, manifest)
    }

    /// Loads a component from bytes with an already validated manifest.
    ///
    /// # Errors
    ///
    /// As [`Runtime::load_dir`].
    pub fn load(&self, bytes: &[u8], manifest: Manifest) -> Result<LoadedPlugin, PluginError> {
        let sha256 = sha256_hex(bytes);
        let name = manifest.name.clone();

        let (component, from_cache) = self.compile(bytes, &sha256, &name)?;
        let (kind, interface) = exported_world(&component, self.engine(), &name)?;
        check_world(&manifest, kind, &interface, &name)?;

        let pre = match kind {
            PluginKind::Policy => {
                let pre = self
                    .policy_linker()
                    .instantiate_pre(&component)
                    .map_err(|e| link_error(&name, e))?;
                Pre::Policy(PolicyPre::new(pre).map_err(|e| link_error(&name, e))?)
            }
            PluginKind::Connector => {
                let pre = self
                    .connector_linker()
                    .instantiate_pre(&component)
                    .map_err(|e| link_error(&name, e))?;
                Pre::Connector(ConnectorPre::new(pre).map_err(|e| link_error(&name, e))?)
            }
        };

        let limits = manifest.effective_limits(&self.limits);
        Ok(LoadedPlugin {
            manifest: Arc::new(manifest),
            sha256,
            interface,
            limits,
            pre,
            from_cache,
        })
    }

    /// Compiles `bytes`, going through the on-disk cache when there is one.
    fn compile(
        &self,
        bytes: &[u8],
        sha256: &str,
        name: &str,
    ) -> Result<(Component, bool), PluginError> {
        let Some(path) = self.cache_path(sha256) else {
            return Component::new(self.engine(), bytes)
                .map(|c| (c, false))
                .map_err(|e| compile_error(name, e));
        };

        if path.exists() {
            // SAFETY: the cache folder lives under the host's data folder
            // with the host's permissions and holds only files this function
            // wrote; its key includes the engine's compatibility hash, so a
            // file from another wasmtime build or configuration is never read.
            #[allow(unsafe_code)]
            let cached = unsafe { Component::deserialize_file(self.engine(), &path) };
            match cached {
                Ok(component) => return Ok((component, true)),
                Err(error) => {
                    tracing::warn!(plugin = name, path = %path.display(), %error, "compiled cache entry unusable; compiling again")
                }
            }
        }

        let component = Component::new(self.engine(), bytes).map_err(|e| compile_error(name, e))?;
        if let Err(error) = write_cache(&path, &component) {
            tracing::warn!(plugin = name, path = %path.display(), %error, "failed to write the compiled cache entry; later loads compile again");
        }
        Ok((component, false))
    }

    fn cache_path(&self, sha256: &str) -> Option<PathBuf> {
        let dir = self.cache_dir.as_ref()?;
        Some(dir.join(format!("{sha256}-{}.cwasm", self.compat_key)))
    }
}

fn write_cache(path: &Path, component: &Component) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = component.serialize()?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // Write beside and rename, so a crash never leaves half a file under
    // the final name.
    let partial = path.with_extension("partial");
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)?;
    Ok(())
}

fn compile_error(name: &str, error: wasmtime::Error) -> PluginError {
    PluginError::Compile {
        plugin: name.to_string(),
        message: format!("{error:#}"),
    }
}

fn link_error(name: &str, error: wasmtime::Error) -> PluginError {
    PluginError::Link {
        plugin: name.to_string(),
        message: format!("{error:#}"),
    }
}

/// Finds `switchboard:plugin/{policy,connector}-api@VERSION` among the
/// component's exports.
fn exported_world(
    component: &Component,
    engine: &wasmtime::Engine,
    name: &str,
) -> Result<(PluginKind, String), PluginError> {
    let ty = component.component_type();
    let mut found = Vec::new();
    for (export, _) in ty.exports(engine) {
        let Some(rest) = export.strip_prefix(PACKAGE_PREFIX) else {
            found.push(export.to_string());
            continue;
        };
        let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
        let kind = match interface {
            "policy-api" => PluginKind::Policy,
            "connector-api" => PluginKind::Connector,
            _ => {
                found.push(export.to_string());
                continue;
            }
        };
        return Ok((kind, version.to_string()));
    }
    Err(PluginError::WrongWorld {
        plugin: name.to_string(),
        expected: "policy or connector",
        found: if found.is_empty() {
            "component with no exports".to_string()
        } else {
            format!("component exporting {}", found.join(", "))
        },
    })
}

fn check_world(
    manifest: &Manifest,
    kind: PluginKind,
    interface: &str,
    name: &str,
) -> Result<(), PluginError> {
    if !compatible(interface, INTERFACE_VERSION) {
        return Err(PluginError::InterfaceVersion {
            plugin: name.to_string(),
            found: interface.to_string(),
            supported: INTERFACE_VERSION,
        });
    }
    if manifest.kind != kind {
        return Err(PluginError::WrongWorld {
            plugin: name.to_string(),
            expected: manifest.kind.as_str(),
            found: kind.as_str().to_string(),
        });
    }
    if manifest.interface != interface {
        return Err(PluginError::ManifestMismatch {
            plugin: name.to_string(),
            manifest: manifest.interface.clone(),
            component: interface.to_string(),
        });
    }
    Ok(())
}

/// Semantic-version compatibility: the same major version, and below 1.0
/// the same minor version, with the component no newer than the host.
pub fn compatible(component: &str, host: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64, u64)> {
        let mut parts = v.split('.').map(|p| p.parse::<u64>().ok());
        Some((parts.next()??, parts.next()??, parts.next()??))
    };
    let (Some(c), Some(h)) = (parse(component), parse(host)) else {
        return false;
    };
    if c.0 != h.0 {
        return false;
    }
    if h.0 == 0 {
        return c.1 == h.1 && c.2 <= h.2;
    }
    (c.1, c.2) <= (h.1, h.2)
}

#[cfg(test)]
mod tests {
    use super::compatible;

    #[test]
    fn versions_below_one_need_the_same_minor() {
        assert!(compatible("0.1.0", "0.1.0"));
        assert!(compatible("0.1.0", "0.1.3"));
        assert!(!compatible("0.1.4", "0.1.3"));
        assert!(!compatible("0.0.9", "0.1.0"));
        assert!(!compatible("0.2.0", "0.1.0"));
    }

    #[test]
    fn versions_from_one_need_the_same_major() {
        assert!(compatible("1.0.0", "1.2.0"));
        assert!(!compatible("1.3.0", "1.2.0"));
        assert!(!compatible("2.0.0", "1.2.0"));
        assert!(!compatible("garbage", "1.2.0"));
    }
}
