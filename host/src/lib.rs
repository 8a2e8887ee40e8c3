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
