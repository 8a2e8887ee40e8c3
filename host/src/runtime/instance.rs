//! The lifecycle shared by policy and connector instances: create a store
//! under limits, run one call under its deadline, sort failures into
//! [`PluginError`]s, and decide when an instance must be replaced.

use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::{Engine, Store, Trap};

use super::error::PluginError;
use super::state::{HostContext, PluginState};
use super::{Runtime, deadline_ticks};
use crate::config::EffectiveLimits;

/// A live instance and the store it lives in.
pub(super) struct Live<B> {
    pub store: Store<PluginState>,
    pub bindings: B,
    pub calls: u64,
    /// Made from the Winch form, to be replaced once the Cranelift form is
    /// ready.
    pub quick: bool,
}

/// Call counters per plugin, shown to administrators.
#[derive(Debug, Default)]
pub struct CallStats {
    /// Calls that returned.
    pub calls: AtomicU64,
    /// Calls stopped by a limit or trap.
    pub failures: AtomicU64,
    /// Instances created.
    pub instances: AtomicU64,
}

impl CallStats {
    /// A snapshot: (calls, failures, instances).
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.calls.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
            self.instances.load(Ordering::Relaxed),
        )
    }
}

/// A store with the plugin's memory cap and the epoch deadline set to trap.
pub(super) fn new_store(
    engine: &Engine,
    host: &HostContext,
    limits: &EffectiveLimits,
) -> Store<PluginState> {
    let mut store = Store::new(engine, PluginState::new(host.clone(), limits.memory_bytes));
    store.limiter(|state| &mut state.memory);
    store.epoch_deadline_trap();
    store.set_epoch_deadline(deadline_ticks(limits.call_ms.max(limits.poll_ms)));
    store
}

/// Runs `f` on `live` with a deadline of `limit_ms`, turning a failure into
/// a [`PluginError`]. The caller must drop `live` after any error.
pub(super) fn run_call<B, R>(
    live: &mut Live<B>,
    plugin: &str,
    call: &'static str,
    limit_ms: u64,
    memory_bytes: u64,
    f: impl FnOnce(&mut Store<PluginState>, &B) -> wasmtime::Result<R>,
) -> Result<R, PluginError> {
    live.store.set_epoch_deadline(deadline_ticks(limit_ms));
    live.store.data_mut().memory.denied = false;
    live.calls += 1;

    let result = f(&mut live.store, &live.bindings);
    result.map_err(|error| {
        classify(
            error,
            live.store.data(),
            plugin,
            call,
            limit_ms,
            memory_bytes,
        )
    })
}

fn classify(
    error: wasmtime::Error,
    state: &PluginState,
    plugin: &str,
    call: &'static str,
    limit_ms: u64,
    memory_bytes: u64,
) -> PluginError {
    let plugin = plugin.to_string();
    if state.memory.denied {
        return PluginError::Memory {
            plugin,
            call,
            limit_mib: memory_bytes >> 20,
        };
    }
    let message = format!("{error:#}");
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => PluginError::Deadline {
            plugin,
            call,
            limit_ms,
        },
        Some(Trap::StackOverflow) => PluginError::StackOverflow { plugin, call },
        _ if shadow_stack_underflow(&message) => PluginError::StackOverflow { plugin, call },
        _ => PluginError::Trap {
            plugin,
            call,
            message,
        },
    }
}

/// Rust guests keep their stack at the bottom of linear memory, growing
/// down, so unbounded recursion shows up as an access just below address
/// zero (which wraps past the top of the 32-bit space) rather than as
/// wasmtime's own stack overflow.
///
/// NOTE: wasmtime 48 exposes the faulting address only in the trap's text,
/// so this reads it from there; a guest with another memory layout gets
/// the generic trap error instead.
fn shadow_stack_underflow(message: &str) -> bool {
    if !message.contains("out of bounds memory access") {
        return false;
    }
    let Some(start) = message.find("wasm address 0x") else {
        return false;
    };
    let digits: String = message[start + "wasm address 0x".len()..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    u64::from_str_radix(&digits, 16).is_ok_and(|address| address >= 0xFFFF_0000)
}

/// True when an instance has served enough calls, or grown enough memory,
/// that a fresh one should take its place.
pub(super) fn due_for_recycle<B>(
    live: &Live<B>,
    recycle_after_calls: u64,
    memory_bytes: u64,
) -> bool {
    let peak = live.store.data().memory.peak_bytes as u64;
    live.calls >= recycle_after_calls || peak > memory_bytes / 4 * 3
}

/// Everything [`with_live`] needs about the slot it runs in.
pub(super) struct SlotRef<'a, B> {
    pub runtime: &'a Runtime,
    pub plugin: &'a str,
    pub site: &'a str,
    pub limits: EffectiveLimits,
    pub live: &'a std::sync::Mutex<Option<Live<B>>>,
    pub stats: &'a CallStats,
    /// The Cranelift form is ready, so an instance of the Winch form is
    /// replaced before this call.
    pub upgrade_ready: bool,
}

/// Runs `f` on the slot's live instance, creating one with `instantiate` if
/// needed. The instance is discarded after any failure (a trapped instance
/// must never run again) and when it is due for recycling.
pub(super) fn with_live<B, R>(
    slot: SlotRef<'_, B>,
    call: &'static str,
    limit_ms: u64,
    instantiate: impl FnOnce() -> Result<Live<B>, PluginError>,
    f: impl FnOnce(&mut Store<PluginState>, &B) -> wasmtime::Result<R>,
    size_of: impl FnOnce(&R) -> usize,
) -> Result<R, PluginError> {
    // A panic while holding the lock can only come from host code; the
    // slot's state is an Option that is overwritten, so recover it.
    let mut guard = slot
        .live
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut live = match guard.take() {
        Some(live) if !(live.quick && slot.upgrade_ready) => live,
        _ => instantiate()?,
    };

    let result = run_call(
        &mut live,
        slot.plugin,
        call,
        limit_ms,
        slot.limits.memory_bytes,
        f,
    )
    .and_then(|r| {
        let bytes = size_of(&r);
        if bytes as u64 > slot.limits.output_bytes {
            return Err(PluginError::OutputTooLarge {
                plugin: slot.plugin.to_string(),
                call,
                bytes,
                limit: slot.limits.output_bytes,
            });
        }
        Ok(r)
    });

    match &result {
        Ok(_) => {
            slot.stats.calls.fetch_add(1, Ordering::Relaxed);
            if !due_for_recycle(
                &live,
                slot.runtime.limits.recycle_after_calls,
                slot.limits.memory_bytes,
            ) {
                *guard = Some(live);
            }
        }
        Err(error) => {
            slot.stats.failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(site = slot.site, plugin = slot.plugin, call, %error, "plugin call failed; instance discarded");
        }
    }
    result
}
