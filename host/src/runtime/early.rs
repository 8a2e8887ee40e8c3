//! Quick compiles shared by content hash.
//!
//! A reload waits for the folder to be quiet before it loads anything, and
//! the quick (Winch) compile of new bytes is most of what it waits for after
//! that. So the watcher starts compiling a `.wasm` file as soon as it
//! detects a change to the file, and the reload that follows finds the compile running or
//! finished under the file's SHA-256 and waits for it instead of starting
//! another. Both callers go through [`QuickCompiles::get_or_compile`], so
//! the same bytes are never compiled twice at once.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Compiles kept after they finish. A compiled component keeps its machine
/// code (about 6 MiB for the table policy), and a reload uses the entry
/// within milliseconds of the write, so a few entries cover files written
/// together.
const KEPT: usize = 4;

/// A quick compile's outcome: the component, or the compiler's message.
type Outcome = Result<Component, String>;

/// Recent and running quick compiles, newest last.
#[derive(Default)]
pub(super) struct QuickCompiles {
    entries: Mutex<VecDeque<Entry>>,
    /// Compiles started, for tests and diagnostics.
    started: AtomicU64,
}

struct Entry {
    sha256: String,
    outcome: Arc<OnceLock<Outcome>>,
}

impl QuickCompiles {
    /// Returns the compile of `bytes`, whose hex SHA-256 is `sha256`. The
    /// first caller for a hash compiles on the calling thread. A caller that
    /// comes while that compile runs waits for it, and one that comes
    /// later gets the kept result.
    pub(super) fn get_or_compile(&self, engine: &Engine, sha256: &str, bytes: &[u8]) -> Outcome {
        let (outcome, compile_here) = self.entry(sha256);
        if compile_here {
            self.started.fetch_add(1, Ordering::Relaxed);
            // A panic inside the compiler must still set the cell, or every
            // caller waiting on it would wait forever.
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                Component::new(engine, bytes).map_err(|e| format!("{e:#}"))
            }))
            .unwrap_or_else(|_| Err("the compiler panicked on this component".to_string()));
            let _ = outcome.set(result);
        }
        outcome.wait().clone()
    }

    /// Compiles started since the runtime was built.
    pub(super) fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// The cell for `sha256`, and whether the caller must fill it.
    fn entry(&self, sha256: &str) -> (Arc<OnceLock<Outcome>>, bool) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(entry) = entries.iter().find(|e| e.sha256 == sha256) {
            return (entry.outcome.clone(), false);
        }

        if entries.len() == KEPT {
            // A caller still waiting on the oldest entry keeps its own
            // reference to the cell, so dropping the entry here is safe.
            entries.pop_front();
        }
        let outcome = Arc::new(OnceLock::new());
        entries.push_back(Entry {
            sha256: sha256.to_string(),
            outcome: outcome.clone(),
        });
        (outcome, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The binary form of an empty component: the magic number, then
    /// version 0x0d and layer 1, which mark a component.
    const EMPTY: &[u8] = b"\0asm\x0d\x00\x01\x00";

    fn engine() -> Engine {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        Engine::new(&config).unwrap()
    }

    #[test]
    fn same_hash_compiles_once() {
        let (engine, compiles) = (engine(), QuickCompiles::default());

        let first = compiles.get_or_compile(&engine, "a", EMPTY);
        let second = compiles.get_or_compile(&engine, "a", EMPTY);

        assert!(first.is_ok());
        assert!(second.is_ok());
        assert_eq!(compiles.started(), 1);
    }

    #[test]
    fn concurrent_callers_share_one_compile() {
        let (engine, compiles) = (engine(), QuickCompiles::default());
        let barrier = std::sync::Barrier::new(4);

        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    barrier.wait();
                    assert!(compiles.get_or_compile(&engine, "a", EMPTY).is_ok());
                });
            }
        });

        assert_eq!(compiles.started(), 1);
    }

    #[test]
    fn failure_is_kept_for_later_callers() {
        let (engine, compiles) = (engine(), QuickCompiles::default());

        let first = compiles.get_or_compile(&engine, "bad", b"not a component");
        let second = compiles.get_or_compile(&engine, "bad", b"not a component");

        assert!(first.is_err());
        assert_eq!(first.err(), second.err());
        assert_eq!(compiles.started(), 1);
    }

    #[test]
    fn oldest_entry_is_dropped_past_the_limit() {
        let (engine, compiles) = (engine(), QuickCompiles::default());

        for hash in 0..=KEPT {
            let _ = compiles.get_or_compile(&engine, &hash.to_string(), EMPTY);
        }
        let _ = compiles.get_or_compile(&engine, "0", EMPTY);
        let _ = compiles.get_or_compile(&engine, &KEPT.to_string(), EMPTY);

        // Hash "0" was dropped and compiled again; the newest was kept.
        assert_eq!(compiles.started(), KEPT as u64 + 2);
    }
}
