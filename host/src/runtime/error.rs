use std::path::PathBuf;

/// A plugin that could not be loaded or a call that failed.
///
/// Load errors reject a candidate and leave the running version in place.
/// Call errors other than [`PluginError::Config`] mean the instance was
/// discarded; the next call starts a fresh one.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The `.wasm` file could not be read.
    #[error("failed to read plugin {}: {source}", crate::config::quote(path))]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The manifest is missing or invalid.
    #[error(transparent)]
    Manifest(#[from] crate::config::ConfigError),
    /// The bytes are not a valid WebAssembly component.
    #[error("plugin {plugin} is not a valid WebAssembly component: {message}")]
    Compile {
        /// Plugin name.
        plugin: String,
        /// Compiler message.
        message: String,
    },
    /// The component exports the wrong world.
    #[error(
        "plugin {plugin} is a {found} but its manifest says kind = \"{expected}\"; fix `kind` in plugin.toml or build against the other world"
    )]
    WrongWorld {
        /// Plugin name.
        plugin: String,
        /// Kind from the manifest.
        expected: &'static str,
        /// What the component exports.
        found: String,
    },
    /// The component was built against an interface version this host does
    /// not support.
    #[error(
        "plugin {plugin} was built against switchboard:plugin@{found}, but this host supports {supported}; rebuild it with switchboard-sdk {supported}"
    )]
    InterfaceVersion {
        /// Plugin name.
        plugin: String,
        /// Version compiled into the component.
        found: String,
        /// Version the host implements.
        supported: &'static str,
    },
    /// The manifest's `interface` disagrees with the component.
    #[error(
        "plugin {plugin}: plugin.toml says interface = \"{manifest}\" but the component was built against {component}; the component is the authority, so correct plugin.toml"
    )]
    ManifestMismatch {
        /// Plugin name.
        plugin: String,
        /// Version in the manifest.
        manifest: String,
        /// Version in the component.
        component: String,
    },
    /// The component imports something the host does not provide.
    #[error("plugin {plugin} cannot be linked: {message}")]
    Link {
        /// Plugin name.
        plugin: String,
        /// Linker message naming the import.
        message: String,
    },
    /// `configure` returned an error.
    #[error("plugin {plugin} rejected its configuration: {error}")]
    Config {
        /// Plugin name.
        plugin: String,
        /// The plugin's error, with line and column when it has them.
        error: switchboard_sdk::ConfigError,
    },
    /// A call ran past its deadline and was interrupted.
    #[error("plugin {plugin} call {call} ran past its {limit_ms} ms deadline and was stopped")]
    Deadline {
        /// Plugin name.
        plugin: String,
        /// Export called.
        call: &'static str,
        /// The deadline.
        limit_ms: u64,
    },
    /// A call tried to grow memory past the cap.
    #[error(
        "plugin {plugin} call {call} exceeded its memory cap of {limit_mib} MiB and was stopped; if the plugin needs more, raise `memory_mib` under `[limits]` in its plugin.toml (up to the host's `max_memory_mib`)"
    )]
    Memory {
        /// Plugin name.
        plugin: String,
        /// Export called.
        call: &'static str,
        /// The cap.
        limit_mib: u64,
    },
    /// A call overflowed the WebAssembly stack (unbounded recursion).
    #[error("plugin {plugin} call {call} overflowed its stack and was stopped")]
    StackOverflow {
        /// Plugin name.
        plugin: String,
        /// Export called.
        call: &'static str,
    },
    /// A call trapped: a panic, an unreachable, an out-of-bounds access.
    #[error("plugin {plugin} call {call} trapped: {message}")]
    Trap {
        /// Plugin name.
        plugin: String,
        /// Export called.
        call: &'static str,
        /// The trap and guest backtrace.
        message: String,
    },
    /// A call returned more than its output cap.
    #[error(
        "plugin {plugin} call {call} returned about {bytes} bytes, over its {limit} byte limit; the result was discarded"
    )]
    OutputTooLarge {
        /// Plugin name.
        plugin: String,
        /// Export called.
        call: &'static str,
        /// Size returned.
        bytes: usize,
        /// The cap.
        limit: u64,
    },
    /// A call returned bytes that do not fit the layout of its interface.
    #[error(
        "plugin {plugin} call {call} returned output the host cannot read ({message}); the result was discarded"
    )]
    Unreadable {
        /// Plugin name.
        plugin: String,
        /// Export called.
        call: &'static str,
        /// The problem and the byte where it was found.
        message: String,
    },
    /// A call returned the wrong number of results.
    #[error(
        "plugin {plugin} call {call} returned {got} outcomes for a batch of {expected} items; a policy must return one outcome per item, in order (in the SDK, from `Policy::route_into` or `route_batch`)"
    )]
    BadResult {
        /// Plugin name.
        plugin: String,
        /// Export called.
        call: &'static str,
        /// Inputs sent.
        expected: usize,
        /// Results returned.
        got: usize,
    },
}

impl PluginError {
    /// True for errors that mean the plugin misbehaved during a call (as
    /// opposed to a load or configuration problem).
    pub fn is_call_failure(&self) -> bool {
        matches!(
            self,
            PluginError::Deadline { .. }
                | PluginError::Memory { .. }
                | PluginError::StackOverflow { .. }
                | PluginError::Trap { .. }
                | PluginError::OutputTooLarge { .. }
                | PluginError::BadResult { .. }
                | PluginError::Unreadable { .. }
        )
    }
}
