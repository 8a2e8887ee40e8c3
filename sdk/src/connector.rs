//! The trait an EHR connector implements.

use crate::types::{Batch, ConfigError, ConnectorError, PollResult, Timestamp};

/// An EHR connector. Implement it and export it with [`crate::export_connector!`].
///
/// [`Connector::configure`] runs before any other call and again when the
/// site's configuration changes. Calls on one instance never overlap.
pub trait Connector: Sized + 'static {
    /// Builds the connector from its config text (TOML, possibly empty).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] rejects the configuration.
    fn configure(config: &str) -> Result<Self, ConfigError>;

    /// Pulls a page of new data after `cursor`. The default reports that the
    /// connector is push-only.
    ///
    /// # Errors
    ///
    /// [`ConnectorError`] when the page could not be read at all.
    fn poll(&mut self, cursor: Option<&str>) -> Result<PollResult, ConnectorError> {
        let _ = cursor;
        Err(ConnectorError::Unsupported(
            "this connector does not poll; feed it through a webhook, MLLP or an inbox folder"
                .to_string(),
        ))
    }

    /// Reads history from `since`. The default reports that backfill is
    /// not supported.
    ///
    /// # Errors
    ///
    /// [`ConnectorError`] when the page could not be read.
    fn backfill(
        &mut self,
        since: Timestamp,
        cursor: Option<&str>,
    ) -> Result<PollResult, ConnectorError> {
        let _ = (since, cursor);
        Err(ConnectorError::Unsupported(
            "this connector cannot read history".to_string(),
        ))
    }

    /// Maps one pushed message.
    ///
    /// # Errors
    ///
    /// [`ConnectorError::Malformed`] when nothing in the message could be used.
    fn accept(&mut self, message: &[u8], content_type: &str) -> Result<Batch, ConnectorError>;
}
