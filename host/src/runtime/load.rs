//! Turning bytes into a checked, pre-linked component.
//!
//! Steps: hash the bytes; compile them (or load the compiled form from the
//! cache); read the world and interface version from the component's exports
//! and compare them with the manifest; pre-link against the world's linker.
//! Only a component that passes every step becomes a [`LoadedPlugin`].
//!
//! Cranelift takes one to two seconds for a policy of a few MiB on two
//! cores, too long for an administrator waiting on a reload. With quick
//! compilation on, bytes that are not in the cache are first compiled with
//! Winch, checked and returned. Winch compiled the table policy in 0.2 s
//! against Cranelift's 1.1 s, for slower code. Once an instance has
//! configured, a background thread compiles the bytes with Cranelift into
//! the cache. Each instance then moves to that code at its next call (see
//! [`LoadedPlugin::upgraded_pre`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::Runtime;
use super::bindings::{connector::ConnectorPre, policy::PolicyPre};
use super::error::PluginError;
use super::state::PluginState;
use crate::config::{Manifest, PluginKind};

/// The WIT package version this host implements.
pub const INTERFACE_VERSION: &str = switchboard_sdk::WIT_VERSION;

pub(super) const PACKAGE_PREFIX: &str = "switchboard:plugin/";

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
    /// Whether the component exports `policy-packed`, which routing then
    /// uses instead of `policy-api.route`.
    pub packed_route: bool,
    /// For a component compiled with Winch, the Cranelift form once the
    /// background compile has finished; `None` when `pre` is already the
    /// Cranelift form.
    optimized: Option<Arc<OnceLock<Pre>>>,
    /// Starts the Cranelift compile; taken by the first
    /// [`LoadedPlugin::start_optimizing`].
    pending: Arc<Mutex<Option<PendingCompile>>>,
}

/// A Cranelift compile waiting to start.
type PendingCompile = Box<dyn FnOnce() + Send>;

impl LoadedPlugin {
    /// Returns the form to instantiate now and whether it is the Winch
    /// form, which the next call replaces once the Cranelift form is ready.
    pub(super) fn upgraded_pre(&self) -> (&Pre, bool) {
        match self.optimized.as_deref().map(OnceLock::get) {
            Some(Some(optimized)) => (optimized, false),
            Some(None) => (&self.pre, true),
            None => (&self.pre, false),
        }
    }

    /// True while instances run Winch code and the Cranelift form is not
    /// ready yet.
    pub fn is_quick(&self) -> bool {
        self.upgraded_pre().1
    }

    /// Starts the background Cranelift compile of a Winch-compiled plugin,
    /// once; does nothing for a plugin compiled with Cranelift. Instances
    /// call it after `configure` has passed, so a candidate that fails its
    /// checks costs no Cranelift compile, and the compile does not compete
    /// with the checks for the cores.
    pub(super) fn start_optimizing(&self) {
        let start = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(start) = start {
            start();
        }
    }

    /// True when an instance made from the Winch form should be replaced.
    pub(super) fn upgrade_ready(&self) -> bool {
        self.optimized
            .as_deref()
            .is_some_and(|cell| cell.get().is_some())
    }
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.manifest.name)
            .field("version", &self.manifest.version)
            .field("sha256", &self.sha256)
            .field("interface", &self.interface)
            .field("quick", &self.is_quick())
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
    /// With quick compilation on and the bytes not in the cache, the
    /// component is compiled with Winch and a background thread compiles it
    /// with Cranelift (see the module documentation). Either way every check
    /// has passed when this returns.
    ///
    /// # Errors
    ///
    /// As [`Runtime::load_dir`].
    pub fn load(&self, bytes: &[u8], manifest: Manifest) -> Result<LoadedPlugin, PluginError> {
        let sha256 = sha256_hex(bytes);
        let cached = self.cache_path(&sha256).is_some_and(|path| path.exists());
        if self.inner.quick.is_none() || cached {
            return self.load_optimized(bytes, manifest, sha256);
        }

        let name = manifest.name.clone();
        let tier = self.tier(true);
        let component = self
            .inner
            .quick_compiles
            .get_or_compile(&tier.engine, &sha256, bytes)
            .map_err(|message| PluginError::Compile {
                plugin: name,
                message,
            })?;
        let mut loaded = self.check_and_link(&component, tier, manifest.clone(), sha256.clone())?;

        let cell = Arc::new(OnceLock::new());
        loaded.optimized = Some(cell.clone());
        let runtime = self.clone();
        let bytes = bytes.to_vec();
        *loaded
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Box::new(move || {
            runtime.compile_in_background(bytes, manifest, sha256, cell)
        }));
        Ok(loaded)
    }

    /// Starts the quick compile of component bytes that a reload is about
    /// to load, and returns when it has finished. The reload's
    /// [`Runtime::load`] of the same bytes then waits for this compile or
    /// takes its result instead of compiling again. Does nothing when quick
    /// compilation is off or the Cranelift form is in the cache, since
    /// `load` then compiles nothing with Winch. The bytes are not checked
    /// here: bytes that do not compile leave their error for `load` to
    /// report.
    pub fn compile_early(&self, bytes: &[u8]) {
        let Some(tier) = &self.inner.quick else {
            return;
        };
        let sha256 = sha256_hex(bytes);
        if self.cache_path(&sha256).is_some_and(|path| path.exists()) {
            return;
        }
        let outcome = self
            .inner
            .quick_compiles
            .get_or_compile(&tier.engine, &sha256, bytes);
        tracing::debug!(sha256 = %sha256, compiled = outcome.is_ok(), "early quick compile finished");
    }

    /// Quick compiles started since this runtime was built, by loads and
    /// early compiles together.
    #[doc(hidden)]
    pub fn quick_compiles_started(&self) -> u64 {
        self.inner.quick_compiles.started()
    }

    /// Loads a plugin folder compiled with Winch only, never upgraded, so
    /// tests can check the sandbox's limits against Winch code.
    ///
    /// # Errors
    ///
    /// As [`Runtime::load_dir`], and [`PluginError::Compile`] when quick
    /// compilation is off.
    #[doc(hidden)]
    pub fn load_dir_winch_only(&self, dir: &Path) -> Result<LoadedPlugin, PluginError> {
        let manifest = Manifest::load(&dir.join("plugin.toml"), &self.limits)?;
        let wasm_path = dir.join("plugin.wasm");
        let bytes = std::fs::read(&wasm_path).map_err(|source| PluginError::Read {
            path: wasm_path,
            source,
        })?;
        let name = manifest.name.clone();
        let Some(tier) = &self.inner.quick else {
            return Err(PluginError::Compile {
                plugin: name,
                message:
                    "quick compilation is off in this runtime; set RuntimeOptions::quick_compile"
                        .into(),
            });
        };
        let component =
            Component::new(&tier.engine, &bytes).map_err(|e| compile_error(&name, e))?;
        let mut loaded = self.check_and_link(&component, tier, manifest, sha256_hex(&bytes))?;
        loaded.optimized = Some(Arc::new(OnceLock::new()));
        Ok(loaded)
    }

    /// Compiles with Cranelift, through the cache.
    fn load_optimized(
        &self,
        bytes: &[u8],
        manifest: Manifest,
        sha256: String,
    ) -> Result<LoadedPlugin, PluginError> {
        let (component, from_cache) = self.compile(bytes, &sha256, &manifest.name)?;
        let mut loaded = self.check_and_link(&component, self.tier(false), manifest, sha256)?;
        loaded.from_cache = from_cache;
        Ok(loaded)
    }

    /// Compiles a component already running as Winch code with Cranelift
    /// on a new thread, and publishes the result in `cell`.
    fn compile_in_background(
        &self,
        bytes: Vec<u8>,
        manifest: Manifest,
        sha256: String,
        cell: Arc<OnceLock<Pre>>,
    ) {
        let runtime = self.clone();
        let name = manifest.name.clone();
        let thread_name = format!("compile-{name}");
        let spawned = std::thread::Builder::new()
            .name(thread_name)
            .spawn({
                let name = name.clone();
                move || {
                let started = std::time::Instant::now();
                match runtime.load_optimized(&bytes, manifest, sha256.clone()) {
                    Ok(loaded) => {
                        let _ = cell.set(loaded.pre);
                        tracing::info!(plugin = %name, sha256 = %sha256, ms = started.elapsed().as_millis() as u64, "optimized compile finished; instances switch at their next call");
                    }
                    Err(error) => {
                        tracing::warn!(plugin = %name, sha256 = %sha256, %error, "optimized compile failed; the plugin keeps running its quick compile");
                    }
                }
            }});
        if let Err(error) = spawned {
            tracing::warn!(plugin = %name, %error, "failed to start the optimized compile; the plugin keeps running its quick compile");
        }
    }

    /// Checks the component's world against the manifest and pre-links it
    /// with the tier's linker.
    fn check_and_link(
        &self,
        component: &Component,
        tier: &super::Tier,
        manifest: Manifest,
        sha256: String,
    ) -> Result<LoadedPlugin, PluginError> {
        let name = manifest.name.clone();
        let (kind, interface) = exported_world(component, &tier.engine, &name)?;
        check_world(&manifest, kind, &interface, &name)?;

        let pre = match kind {
            PluginKind::Policy => {
                let pre = tier
                    .policy_linker
                    .instantiate_pre(component)
                    .map_err(|e| link_error(&name, e))?;
                Pre::Policy(PolicyPre::new(pre).map_err(|e| link_error(&name, e))?)
            }
            PluginKind::Connector => {
                let pre = tier
                    .connector_linker
                    .instantiate_pre(component)
                    .map_err(|e| link_error(&name, e))?;
                Pre::Connector(ConnectorPre::new(pre).map_err(|e| link_error(&name, e))?)
            }
        };

        let limits = manifest.effective_limits(&self.limits);
        Ok(LoadedPlugin {
            manifest: Arc::new(manifest),
            sha256,
            packed_route: exports_interface(component, &tier.engine, "policy-packed", &interface),
            interface,
            limits,
            pre,
            from_cache: false,
            optimized: None,
            pending: Arc::default(),
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

/// True when the component exports `interface` of the package at
/// `version`.
fn exports_interface(
    component: &Component,
    engine: &wasmtime::Engine,
    interface: &str,
    version: &str,
) -> bool {
    let expected = format!("{PACKAGE_PREFIX}{interface}@{version}");
    component
        .component_type()
        .exports(engine)
        .any(|(export, _)| export == expected)
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
