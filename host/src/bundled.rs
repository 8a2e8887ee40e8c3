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

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// Installs every shipped plugin into `plugins_dir` as
/// `<name>/<version>/plugin.wasm` and `plugin.toml`, reading the version
/// from each manifest. Existing identical files are left alone.
///
/// # Errors
///
/// When a folder or file cannot be written, or a manifest has no version.
pub fn install_all(plugins_dir: &std::path::Path) -> std::io::Result<Vec<(String, String)>> {
    let mut installed = Vec::new();
    for (name, wasm, manifest) in BUNDLED {
        let version = manifest_version(manifest).ok_or_else(|| {
            std::io::Error::other(format!("bundled manifest of {name} has no version"))
        })?;
        let dir = plugins_dir.join(name).join(&version);
        std::fs::create_dir_all(&dir)?;
        write_if_changed(&dir.join("plugin.toml"), manifest.as_bytes())?;
        write_if_changed(&dir.join("plugin.wasm"), wasm)?;
        installed.push((name.to_string(), version));
    }
    Ok(installed)
}

fn manifest_version(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        line.trim().strip_prefix("version").map(|rest| {
            rest.trim()
                .trim_start_matches('=')
                .trim()
                .trim_matches('"')
                .to_string()
        })
    })
}

fn write_if_changed(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if std::fs::read(path).is_ok_and(|existing| existing == bytes) {
        return Ok(());
    }
    // Write beside and rename so a watching host never reads half a file.
    let partial = path.with_extension("partial");
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)
}
