//! The components built from this workspace by `build.rs`.

use std::path::PathBuf;

/// Folder holding `<crate>/plugin.wasm` and `<crate>/plugin.toml` for every
/// guest this build compiled.
pub fn guests_dir() -> PathBuf {
    PathBuf::from(env!("SWITCHBOARD_GUESTS_DIR"))
}

/// Folder of one built guest, such as `table-policy`.
pub fn guest_dir(name: &str) -> PathBuf {
    guests_dir().join(name)
}
