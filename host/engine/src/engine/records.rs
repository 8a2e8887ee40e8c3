//! Records kept beside items: connector cursors, plugin key-value data,
//! the audit trail, plugin activations, sent nudges, metric events and
//! daily snapshots. Each write is its own durable commit.

use switchboard_sdk::Timestamp;

use super::Engine;
use crate::error::{EngineError, StoreError};
use crate::model::{
    Activation, AuditEntry, Item, ItemId, MetricSnapshot, NudgeRecord, StoredEvent,
};
use crate::store::Mutation;

impl Engine {
    /// Reads a connector's stored poll cursor.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn cursor(&self, site: &str, connector: &str) -> Result<Option<String>, EngineError> {
        Ok(self.inner.store.cursor(site, connector)?)
    }

    /// Stores or clears a connector's poll cursor. To store it with a
    /// batch, pass it in [`IngestOptions`](super::IngestOptions) instead.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn set_cursor(
        &self,
        site: &str,
        connector: &str,
        cursor: Option<&str>,
    ) -> Result<(), EngineError> {
        self.commit_one(Mutation::SetCursor {
            site: site.to_string(),
            connector: connector.to_string(),
            cursor: cursor.map(str::to_string),
        })
    }

    /// Reads a plugin's kv entry at a site.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn kv_get(
        &self,
        site: &str,
        plugin: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, EngineError> {
        Ok(self.inner.store.kv_get(site, plugin, key)?)
    }

    /// Sets a plugin's kv entry at a site.
    ///
    /// # Errors
    ///
    /// [`StoreError::TooLarge`] for a key over
    /// [`KV_MAX_KEY_BYTES`](crate::store::KV_MAX_KEY_BYTES) or a value over
    /// [`KV_MAX_VALUE_BYTES`](crate::store::KV_MAX_VALUE_BYTES); store failures.
    pub fn kv_set(
        &self,
        site: &str,
        plugin: &str,
        key: &str,
        value: Vec<u8>,
    ) -> Result<(), EngineError> {
        self.commit_one(Mutation::KvSet {
            site: site.to_string(),
            plugin: plugin.to_string(),
            key: key.to_string(),
            value,
        })
    }

    /// Deletes a plugin's kv entry at a site; deleting a missing key succeeds.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn kv_delete(&self, site: &str, plugin: &str, key: &str) -> Result<(), EngineError> {
        self.commit_one(Mutation::KvDelete {
            site: site.to_string(),
            plugin: plugin.to_string(),
            key: key.to_string(),
        })
    }

    /// Appends an entry to the audit trail.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn append_audit(&self, entry: AuditEntry) -> Result<(), EngineError> {
        self.commit_one(Mutation::Audit(entry))
    }

    /// Lists audit entries, newest first, of one site or of all.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn audit(&self, site: Option<&str>, limit: usize) -> Result<Vec<AuditEntry>, EngineError> {
        Ok(self.inner.store.audit(site, limit)?)
    }

    /// Records a plugin activation, rejection or rollback, with a matching
    /// audit entry in the same commit.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn record_activation(
        &self,
        activation: Activation,
        actor: &str,
    ) -> Result<(), EngineError> {
        let audit = AuditEntry {
            at: activation.at,
            actor: actor.to_string(),
            action: format!("plugin.{}", activation_verb(&activation)),
            target: format!("{}@{}", activation.plugin.name, activation.plugin.version),
            site: activation.site.clone(),
            detail: format!("sha256 {}", activation.plugin.sha256),
        };
        self.commit_all(vec![
            Mutation::Activation(activation),
            Mutation::Audit(audit),
        ])
    }

    /// Lists plugin activations, newest first, of one site or of all.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn activations(
        &self,
        site: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Activation>, EngineError> {
        Ok(self.inner.store.activations(site, limit)?)
    }

    /// Records that a nudge was sent. Returns `false`, storing nothing, when
    /// this level of the item was already sent to the same recipient. The
    /// store's key includes the recipient (a person, or a role pool), so
    /// several people with an escalation role each get their own.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn record_nudge(&self, record: NudgeRecord) -> Result<bool, EngineError> {
        match self.inner.store.commit(vec![Mutation::Nudge(record)]) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    /// Lists the nudges sent for an item.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn nudges(&self, item: ItemId) -> Result<Vec<NudgeRecord>, EngineError> {
        Ok(self.inner.store.nudges(item)?)
    }

    /// Lists routed open items of a site due before `until`, soonest
    /// first, for the nudge scheduler.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn due_before(
        &self,
        site: &str,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Item>, EngineError> {
        let ids: Vec<ItemId> = self
            .inner
            .store
            .deadlines(site, until, limit)?
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        let mut items = self.load_items(&ids)?;
        // The index may trail an item that was just rerouted or closed.
        items.retain(|item| {
            !item.status.is_terminal() && item.effective_due().is_some_and(|due| due < until)
        });
        Ok(items)
    }

    /// Lists a site's stored chart, claim and appointment events.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn events(&self, site: &str) -> Result<Vec<StoredEvent>, EngineError> {
        Ok(self.inner.store.events(site)?)
    }

    /// Stores a daily metric snapshot, replacing one of the same date.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn put_metric_snapshot(&self, snapshot: MetricSnapshot) -> Result<(), EngineError> {
        self.commit_one(Mutation::Metric(snapshot))
    }

    /// Lists a site's metric snapshots with dates in `from..=to`
    /// (`YYYY-MM-DD`).
    ///
    /// # Errors
    ///
    /// Store failures.
    pub fn metric_snapshots(
        &self,
        site: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<MetricSnapshot>, EngineError> {
        Ok(self.inner.store.metric_snapshots(site, from, to)?)
    }

    fn commit_one(&self, mutation: Mutation) -> Result<(), EngineError> {
        self.commit_all(vec![mutation])
    }

    fn commit_all(&self, mutations: Vec<Mutation>) -> Result<(), EngineError> {
        self.inner.store.commit(mutations)?;
        Ok(())
    }
}

fn activation_verb(activation: &Activation) -> &'static str {
    match activation.outcome {
        crate::model::ActivationOutcome::Activated => "activate",
        crate::model::ActivationOutcome::Rejected => "reject",
        crate::model::ActivationOutcome::RolledBack => "roll-back",
        crate::model::ActivationOutcome::Removed => "remove",
    }
}
