//! Promoting a shadow policy: the site file's `[shadow]` table becomes its
//! `[routing]` table, comments and layout kept, then the site reloads.

use super::App;
use crate::sites::{AuditEntry, ReloadEvent, ReloadOutcome};

/// Rewrites the site file so the shadow policy routes, reloads the site,
/// and records the promotion in the audit trail.
///
/// # Errors
///
/// A message when the site has no shadow policy, its file cannot be
/// rewritten, or the reload rejected the result (the file is restored).
pub fn promote_shadow(app: &App, site: &str, actor: &str) -> Result<ReloadEvent, String> {
    let path = app.layout.sites.join(format!("{site}.toml"));
    let original = std::fs::read_to_string(&path)
        .map_err(|e| format!("failed to read {}: {e}", path.display()))?;
    let mut doc: toml_edit::DocumentMut = original
        .parse()
        .map_err(|e| format!("site file is not valid TOML: {e}"))?;
    let shadow = doc
        .remove("shadow")
        .ok_or_else(|| format!("site {site:?} has no [shadow] policy to promote"))?;
    doc.insert("routing", shadow);

    write_atomically(&path, &doc.to_string())?;
    let event = app.sites.reload_site(site);
    if let ReloadOutcome::Rejected { reasons } = &event.outcome {
        write_atomically(&path, &original)?;
        app.sites.reload_site(site);
        return Err(format!(
            "the promoted policy was rejected, so the site file was restored: {}",
            reasons.join("; ")
        ));
    }
    app.sites.services().audit.record(AuditEntry {
        at: event.at,
        site: site.to_string(),
        actor: actor.to_string(),
        action: "shadow.promoted".to_string(),
        detail: String::new(),
    });
    app.shadow.reset(site);
    Ok(event)
}

fn write_atomically(path: &std::path::Path, text: &str) -> Result<(), String> {
    let partial = path.with_extension("toml.partial");
    std::fs::write(&partial, text)
        .map_err(|e| format!("failed to write {}: {e}", partial.display()))?;
    std::fs::rename(&partial, path)
        .map_err(|e| format!("failed to replace {}: {e}", path.display()))
}
