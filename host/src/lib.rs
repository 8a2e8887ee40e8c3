//! The Switchboard host: plugin runtime, configuration, engine wiring,
//! scheduler, HTTP API and command line.
//!
//! Modules follow the concepts of the design: [`runtime`] runs plugins,
//! [`config`] reads the files an administrator edits, and [`cli`] is the
//! `switchboard` command.

pub mod api;
pub mod app;
pub mod bundled;
pub mod cli;
pub mod config;
pub mod console;
pub mod runtime;
pub mod sites;

/// The allocator of every program that links the host: the `switchboard`
/// binary, its tests and its benchmarks. In a profile of the store's write
/// path, glibc's malloc and free took about a quarter of the time, spent on
/// short-lived buffers for log records and sled's leaf copies. With
/// mimalloc the same benchmark stored 70% more items per second (see
/// `BENCHMARKS.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
