//! The Switchboard plugin SDK.
//!
//! A policy author implements [`Policy`] and exports it with
//! [`export_policy!`]; a connector author implements [`Connector`] and uses
//! [`export_connector!`]. Build the crate for `wasm32-wasip2` to get a
//! component; build it natively and its `#[test]`s run the same logic against
//! the mock host in [`testing`].
//!
//! Enable the crate feature that matches the plugin's kind (`policy` or
//! `connector`). The WIT contract lives in `wit/switchboard.wit`.
#![deny(missing_docs)]

#[cfg(feature = "small-alloc")]
pub mod alloc;
pub mod cases;
pub mod connector;
mod export;
pub mod host;
pub mod jsonl;
pub mod packed;
pub mod policy;
pub mod site;
pub mod text;
pub mod types;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod guest;

#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
#[cfg(not(target_arch = "wasm32"))]
pub mod zone;

pub use connector::Connector;
pub use policy::Policy;
pub use types::*;

/// The WIT package version this SDK builds components against.
pub const WIT_VERSION: &str = "0.1.0";

/// The WIT package text, for hosts and tools that need the contract.
pub const WIT_SOURCE: &str = include_str!("../wit/switchboard.wit");
