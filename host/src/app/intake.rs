//! Intake: one message through a connector into the store.

use std::sync::atomic::Ordering;

use switchboard_engine::{EngineError, IngestMode, IngestOptions, IngestReport};
use switchboard_sdk::ConnectorError;

use super::App;
use crate::runtime::PluginError;

/// What intake did with a message.
pub type IntakeReport = IngestReport;

/// Why a message was not stored.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// Shutdown has begun.
    #[error("the host is shutting down and accepts no new work; resend later")]
    NotAccepting,
    /// The site is unknown or still loading.
    #[error("site {0:?} is not running (unknown, or still loading)")]
    UnknownSite(String),
    /// The site has no connector of that name.
    #[error("site {site:?} has no connector named {connector:?}")]
    UnknownConnector {
        /// Site id.
        site: String,
        /// Connector name.
        connector: String,
    },
    /// The connector could not use the message at all.
    #[error("connector {connector} rejected the message: {error}")]
    Rejected {
        /// Connector name.
        connector: String,
        /// The connector's verdict.
        error: ConnectorError,
    },
    /// The connector plugin failed (trap, deadline, memory).
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The store failed; nothing was stored.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl App {
    /// Maps `message` through the site's connector and stores the result
    /// durably. When this returns `Ok`, the sender may be acknowledged;
    /// routing follows in the background.
    ///
    /// # Errors
    ///
    /// [`IntakeError`]; nothing was stored unless it is `Ok`.
    pub fn intake(
        &self,
        site: &str,
        connector: &str,
        message: &[u8],
        content_type: &str,
        mode: IngestMode,
    ) -> Result<IntakeReport, IntakeError> {
        if !self.accepting.load(Ordering::SeqCst) {
            return Err(IntakeError::NotAccepting);
        }
        let handle = self
            .sites
            .get(site)
            .ok_or_else(|| IntakeError::UnknownSite(site.to_string()))?;
        let state = handle.state();
        let plugin = state
            .connector(connector)
            .ok_or_else(|| IntakeError::UnknownConnector {
                site: site.to_string(),
                connector: connector.to_string(),
            })?;

        let batch =
            plugin
                .accept(message, content_type)?
                .map_err(|error| IntakeError::Rejected {
                    connector: connector.to_string(),
                    error,
                })?;
        self.ingest_batch(site, connector, batch, IngestOptions { mode, cursor: None })
    }

    /// Stores a batch and requests a routing pass.
    ///
    /// # Errors
    ///
    /// [`IntakeError::Engine`] when the store failed.
    pub fn ingest_batch(
        &self,
        site: &str,
        connector: &str,
        batch: switchboard_sdk::Batch,
        options: IngestOptions,
    ) -> Result<IntakeReport, IntakeError> {
        let mode = options.mode;
        let report = self.engine.ingest(site, connector, batch, options)?;
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        let items = report.new
            + report.updated
            + report.duplicate
            + report.stale
            + report.closed
            + report.reopened
            + report.rerouted;
        self.stats
            .items
            .fetch_add(u64::from(items), Ordering::Relaxed);
        self.stats
            .rejects
            .fetch_add(report.rejects.len() as u64, Ordering::Relaxed);
        for reject in &report.rejects {
            self.stats.warnings.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(site, connector, location = %reject.location, field = %reject.field, "input rejected: {}", reject.message);
        }
        if mode == IngestMode::Live && !report.pending.is_empty() {
            self.dispatcher.notify(site);
        }
        Ok(report)
    }
}
