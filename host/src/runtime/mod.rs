//! The WebAssembly runtime: one wasmtime engine, one linker per world, and
//! the sandbox every plugin call runs in.
//!
//! Every call runs under a wall-clock deadline (epoch interruption, checked
//! every [`EPOCH_TICK`]), a linear-memory cap (a store limiter) and a cap on
//! the size of its result. A call that breaks a limit or traps is stopped,
//! its instance is discarded, and the next call gets a fresh instance from
//! the pre-linked component. Instances are also replaced after a set number
//! of calls or once their memory passes a mark, because linear memory never
//! shrinks.
//!
//! Routing goes through `policy-packed.route` when a policy exports it (all
//! policies built with the SDK do): one byte buffer per batch each way, in
//! the layout of `switchboard_sdk::packed`. The typed `policy-api.route`,
//! which lowers every string with its own call into the guest's allocator,
//! serves policies built without the SDK.

mod bindings;
mod clock;
mod connector;
mod early;
mod egress;
mod error;
mod instance;
mod load;
mod policy;
mod state;

pub use clock::{Clock, ManualClock, SystemClock};
pub use connector::ConnectorPlugin;
pub use egress::{Egress, EgressError, EgressRequest, EgressResponse};
pub use error::PluginError;
pub use load::{INTERFACE_VERSION, LoadedPlugin, compatible, sha256_hex};
pub use policy::PolicyPlugin;
pub use state::{HostContext, KvStore, MemoryKv};

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, OptLevel, RegallocAlgorithm, Strategy};

use crate::config::Limits;
use state::PluginState;

/// How often the epoch advances. A deadline is rounded up to whole ticks,
/// so a call overruns its deadline by at most one tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Settings for a [`Runtime`].
#[derive(Clone, Debug, Default)]
pub struct RuntimeOptions {
    /// Folder for compiled components; `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
    /// Limit defaults and bounds.
    pub limits: Limits,
    /// Compile new components with Winch first, so they can run within a
    /// fraction of a second, and with Cranelift in the background; see
    /// [`Runtime::load`].
    pub quick_compile: bool,
}

/// The engine and linkers shared by every plugin of the process.
///
/// Cheap to clone; dropping the last clone stops the epoch thread.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
    cache_dir: Option<PathBuf>,
    compat_key: String,
    /// Limit defaults and bounds.
    pub limits: Limits,
}

struct Inner {
    optimized: Tier,
    quick: Option<Tier>,
    /// Quick compiles by SHA-256, shared by loads and early compiles.
    quick_compiles: early::QuickCompiles,
    stop: Arc<AtomicBool>,
}

/// One engine, with Cranelift or with Winch, and its linkers. Code compiled
/// by one engine runs only in stores of the same engine.
struct Tier {
    engine: Engine,
    policy_linker: Linker<PluginState>,
    connector_linker: Linker<PluginState>,
}

impl Tier {
    fn new(strategy: Strategy) -> wasmtime::Result<Tier> {
        let mut config = Config::new();
        config
            .strategy(strategy)
            .wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(MAX_WASM_STACK_BYTES)
            .parallel_compilation(true);
        apply_measurement_switches(&mut config);
        if matches!(strategy, Strategy::Winch) {
            // The quick tier exists to compile fast. Winch still leaves the
            // trampolines to Cranelift, one for each function a table can
            // reach (2,137 of the table policy's 3,589 functions before it
            // was built with LTO, 1,694 of 2,860 after), and they took about
            // 40% of its compile. They skip optimization, use the
            // single-pass register allocator (12% off the whole compile,
            // measured serially), and keep no address map (it only improves
            // trap backtraces).
            config
                .cranelift_opt_level(OptLevel::None)
                .cranelift_regalloc_algorithm(RegallocAlgorithm::SinglePass)
                .generate_address_map(false);
        }
        let engine = Engine::new(&config)?;

        let mut policy_linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut policy_linker)?;
        bindings::policy::Policy::add_to_linker::<PluginState, HasSelf<PluginState>>(
            &mut policy_linker,
            |s| s,
        )?;

        let mut connector_linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut connector_linker)?;
        bindings::connector::Connector::add_to_linker::<PluginState, HasSelf<PluginState>>(
            &mut connector_linker,
            |s| s,
        )?;

        Ok(Tier {
            engine,
            policy_linker,
            connector_linker,
        })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cache_dir", &self.cache_dir)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The WebAssembly stack a call may use. Deep recursion in a guest traps
/// here instead of exhausting the host thread's stack.
const MAX_WASM_STACK_BYTES: usize = 512 * 1024;

/// Applies the environment's measurement switches to `config`.
///
/// NOTE: these are read from the environment so that a benchmark binary
/// can be profiled or compared without a rebuild. `SWITCHBOARD_PERFMAP`
/// writes /tmp/perf-<pid>.map, which lets `perf report` name guest
/// functions. `SWITCHBOARD_POOLING` selects the pooling instance
/// allocator, sized for the benchmarks only.
fn apply_measurement_switches(config: &mut Config) {
    if std::env::var_os("SWITCHBOARD_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    if std::env::var_os("SWITCHBOARD_POOLING").is_some() {
        tracing::warn!(
            "SWITCHBOARD_POOLING is set: instances come from a pool sized for benchmarks (64 component instances); unset it for production"
        );
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(64)
            .total_core_instances(64 * 8)
            .total_memories(64 * 8)
            .total_tables(64 * 8)
            .max_memory_size(1 << 30);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
}

impl Runtime {
    /// Builds the engine and linkers and starts the epoch thread.
    ///
    /// # Errors
    ///
    /// When wasmtime rejects the configuration or a linker definition;
    /// either means a bug in this build, not bad input.
    pub fn new(options: RuntimeOptions) -> wasmtime::Result<Self> {
        let optimized = Tier::new(Strategy::Cranelift)?;
        let quick = match options.quick_compile {
            true => Some(Tier::new(Strategy::Winch)?),
            false => None,
        };

        let stop = Arc::new(AtomicBool::new(false));
        start_epoch_thread(&optimized.engine, stop.clone());
        if let Some(quick) = &quick {
            start_epoch_thread(&quick.engine, stop.clone());
        }

        let compat_key = compat_key(&optimized.engine);
        if let Some(dir) = &options.cache_dir
            && let Err(error) = std::fs::create_dir_all(dir)
        {
            tracing::warn!(path = %dir.display(), %error, "failed to create the compiled-component cache; plugins compile on every load");
        }
        Ok(Runtime {
            inner: Arc::new(Inner {
                optimized,
                quick,
                quick_compiles: early::QuickCompiles::default(),
                stop,
            }),
            cache_dir: options.cache_dir,
            compat_key,
            limits: options.limits,
        })
    }

    /// The wasmtime engine that compiles with Cranelift, whose compiled
    /// components the on-disk cache holds.
    pub fn engine(&self) -> &Engine {
        &self.inner.optimized.engine
    }

    fn tier(&self, quick: bool) -> &Tier {
        match (&self.inner.quick, quick) {
            (Some(tier), true) => tier,
            _ => &self.inner.optimized,
        }
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the runtime drops.
fn start_epoch_thread(engine: &Engine, stop: Arc<AtomicBool>) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("switchboard-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        });
    if let Err(error) = spawned {
        // Without the thread no deadline fires; refuse to run plugins at all.
        panic!("failed to start the epoch thread that enforces plugin deadlines: {error}");
    }
}

/// A key that changes whenever compiled code from one engine would be
/// invalid in another (wasmtime version, target, settings).
fn compat_key(engine: &Engine) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// Epoch ticks for a deadline of `ms` milliseconds, rounded up, plus one so
/// a call that starts just before a tick still gets its full time.
fn deadline_ticks(ms: u64) -> u64 {
    let tick = EPOCH_TICK.as_millis() as u64;
    ms.div_ceil(tick) + 1
}
