//! What a reload did, for logs, the audit trail and waiting tests.

use serde::Serialize;
use switchboard_sdk::Timestamp;

/// The slot of a site a plugin fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SlotKind {
    /// The active routing policy.
    Routing,
    /// The candidate routing policy in shadow mode.
    Shadow,
    /// The nudge policy.
    Nudges,
    /// The pre-visit prep policy.
    Prep,
    /// A connector instance.
    Connector,
}

impl SlotKind {
    /// Name used in the API and the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            SlotKind::Routing => "routing",
            SlotKind::Shadow => "shadow",
            SlotKind::Nudges => "nudges",
            SlotKind::Prep => "prep",
            SlotKind::Connector => "connector",
        }
    }
}

/// One plugin version that became active, with what it replaced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Activation {
    /// Slot filled.
    pub slot: SlotKind,
    /// Connector instance name, for connector slots.
    pub instance: Option<String>,
    /// Plugin name.
    pub plugin: String,
    /// Plugin version.
    pub version: String,
    /// SHA-256 of the plugin's files.
    pub sha256: String,
    /// SHA-256 the slot had before, if any.
    pub previous_sha256: Option<String>,
    /// SHA-256 of the slot's config text.
    pub config_sha256: String,
    /// SHA-256 of the config text the slot had before, if any.
    pub previous_config_sha256: Option<String>,
}

/// The result of one reload of one site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum ReloadOutcome {
    /// Every candidate passed and is now active.
    Applied {
        /// What changed.
        activations: Vec<Activation>,
    },
    /// Nothing changed (same content hashes).
    Unchanged,
    /// A candidate failed; the running versions stay.
    Rejected {
        /// Why, one line per failed step.
        reasons: Vec<String>,
    },
    /// An administrator returned a slot to its previous version.
    RolledBack {
        /// The version now active again.
        activation: Activation,
    },
    /// The site file was removed; the site stopped.
    Removed,
    /// The sources match the running version again after a rejected
    /// reload, such as a broken file written back to its running content.
    /// Nothing was swapped; the site's recorded failure is cleared.
    Recovered,
}

/// A reload outcome for one site, as broadcast to subscribers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReloadEvent {
    /// Site id.
    pub site: String,
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    pub outcome: ReloadOutcome,
}

/// One line of the audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// When.
    pub at: Timestamp,
    /// Site id.
    pub site: String,
    /// Who: a person id, a token name, or `host` for the host itself.
    pub actor: String,
    /// What, such as `plugin.activated`.
    pub action: String,
    /// Ids and hashes; never patient data.
    pub detail: String,
}

/// Where the host writes its audit trail.
pub trait AuditSink: Send + Sync {
    /// Appends one entry. Failures are logged by the implementation.
    fn record(&self, entry: AuditEntry);
}

/// An [`AuditSink`] in memory, for tests and one-shot commands.
#[derive(Debug, Default)]
pub struct MemoryAudit(pub std::sync::Mutex<Vec<AuditEntry>>);

impl AuditSink for MemoryAudit {
    fn record(&self, entry: AuditEntry) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(entry);
    }
}

impl MemoryAudit {
    /// A copy of the entries so far.
    pub fn entries(&self) -> Vec<AuditEntry> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}
