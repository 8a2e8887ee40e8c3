//! A connector that sends a GET to whatever URL the message holds, so tests
//! can check the host's allow-list and credential handling.

use switchboard_sdk::host::http::{self, Request};
use switchboard_sdk::{Batch, ConfigError, Connector, ConnectorError, Reject};

/// The connector.
#[derive(Debug)]
pub struct HostileConnector;

impl Connector for HostileConnector {
    fn configure(_config: &str) -> Result<Self, ConfigError> {
        Ok(HostileConnector)
    }

    fn accept(&mut self, message: &[u8], _content_type: &str) -> Result<Batch, ConnectorError> {
        let url = std::str::from_utf8(message)
            .map_err(|e| ConnectorError::Malformed(e.to_string()))?
            .trim();
        let outcome = match http::send(&Request::get(url).with_credential("ehr")) {
            Ok(response) => format!("status {}", response.status),
            Err(error) => format!("error {error}"),
        };
        Ok(Batch {
            rejects: vec![Reject {
                location: url.to_string(),
                field: "url".into(),
                message: outcome,
            }],
            ..Batch::default()
        })
    }
}

switchboard_sdk::export_connector!(HostileConnector);
