//! `switchboard.toml`: settings for the whole host process.
//!
//! ```toml
//! schema = 1
//! data_dir = "data"                 # relative to the config folder
//!
//! [api]
//! listen = "127.0.0.1:7400"         # loopback by default; other addresses need TLS
//! # tls_cert = "tls/api-chain.pem"  # PEM certificate chain, leaf first, relative
//! # tls_key = "tls/api-key.pem"     # to the config folder; both or neither
//!
//! [limits]                          # bounds on what plugin manifests may ask for
//! max_memory_mib = 256
//!
//! [[tokens]]                        # bearer tokens, stored as SHA-256 hex
//! name = "ana"
//! sha256 = "9f86d0…"
//! site = "northside"
//! person = "ma-ana"
//! scopes = ["staff"]
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::{ConfigError, read_toml};
use super::tls::{TlsFiles, TlsSettings, require_tls_off_loopback};

/// The host file's schema version this build reads.
pub const HOST_SCHEMA: u32 = 1;

/// Parsed `switchboard.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Schema version of this file; must be 1.
    pub schema: u32,
    /// Store, cache and inbox folder, relative to the config folder.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// HTTP API settings.
    #[serde(default)]
    pub api: ApiConfig,
    /// Plugin limit defaults and bounds.
    #[serde(default)]
    pub limits: Limits,
    /// Bearer tokens.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

/// HTTP listeners.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Address of the API, console, webhooks and metrics.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// PEM certificate chain, leaf first, relative to the config folder;
    /// required when `listen` is not loopback. With it the API, console,
    /// webhooks and metrics are served over HTTPS only.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate; set with `tls_cert`.
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// Largest request body accepted, in KiB.
    #[serde(default = "default_body_kib")]
    pub max_body_kib: u64,
    /// Time allowed for one request, in seconds.
    #[serde(default = "default_request_seconds")]
    pub request_timeout_seconds: u64,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7400))
}

/// FHIR Bundles of a thousand resources run to a few MiB.
fn default_body_kib() -> u64 {
    8 * 1024
}

fn default_request_seconds() -> u64 {
    30
}

impl ApiConfig {
    /// Returns the TLS files resolved against the config folder `root`, or
    /// `None` when the API serves plain HTTP. Validation ensures that the
    /// certificate and key are set together.
    pub fn tls_files(&self, root: &Path) -> Option<TlsFiles> {
        let (cert, key) = (self.tls_cert.as_ref()?, self.tls_key.as_ref()?);
        Some(TlsFiles {
            cert: root.join(cert),
            key: root.join(key),
            client_ca: None,
            setting_prefix: "api.".to_string(),
        })
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: default_listen(),
            tls_cert: None,
            tls_key: None,
            max_body_kib: default_body_kib(),
            request_timeout_seconds: default_request_seconds(),
        }
    }
}

/// Defaults for plugin limits, and the bounds a manifest may not exceed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Default `route` deadline in ms: routing runs inline with intake.
    pub default_route_ms: u64,
    /// Largest `route` deadline a manifest may request.
    pub max_route_ms: u64,
    /// Default deadline of other policy calls in ms.
    pub default_call_ms: u64,
    /// Largest deadline of other policy calls.
    pub max_call_ms: u64,
    /// Default connector call deadline in ms: a FHIR page over a slow link.
    pub default_poll_ms: u64,
    /// Largest connector call deadline.
    pub max_poll_ms: u64,
    /// Default linear memory cap in MiB.
    pub default_memory_mib: u64,
    /// Largest memory cap a manifest may request.
    pub max_memory_mib: u64,
    /// Default cap on one call's result in KiB.
    pub default_output_kib: u64,
    /// Largest result cap a manifest may request.
    pub max_output_kib: u64,
    /// Calls after which an instance is replaced by a fresh one, so linear
    /// memory that only grows cannot grow for ever.
    pub recycle_after_calls: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            default_route_ms: 100,
            max_route_ms: 2_000,
            default_call_ms: 1_000,
            max_call_ms: 10_000,
            default_poll_ms: 30_000,
            max_poll_ms: 120_000,
            default_memory_mib: 32,
            max_memory_mib: 256,
            default_output_kib: 4 * 1024,
            max_output_kib: 64 * 1024,
            recycle_after_calls: 100_000,
        }
    }
}

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenScope {
    /// Administer the token's site (or every site when the token names none).
    Admin,
    /// Work the token's site's worklists as its person.
    Staff,
    /// Read `/metrics`.
    Metrics,
    /// Push messages and notifications into the token's site (a service,
    /// such as an interface engine or the EHR's subscription sender).
    Intake,
}

/// A bearer token, stored hashed.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Label for logs and the audit trail.
    pub name: String,
    /// SHA-256 of the token, lowercase hex.
    pub sha256: String,
    /// Site the token is bound to; `None` only for host-wide admin or metrics.
    #[serde(default)]
    pub site: Option<String>,
    /// Roster person the token acts as.
    #[serde(default)]
    pub person: Option<String>,
    /// Scopes.
    pub scopes: Vec<TokenScope>,
}

impl HostConfig {
    /// Reads `switchboard.toml` from `path`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the file and field.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let (config, _): (HostConfig, String) = read_toml(path)?;
        config.validate(path)?;
        Ok(config)
    }

    /// The configuration a folder without `switchboard.toml` gets.
    pub fn defaults() -> Self {
        HostConfig {
            schema: HOST_SCHEMA,
            data_dir: default_data_dir(),
            api: ApiConfig::default(),
            limits: Limits::default(),
            tokens: Vec::new(),
        }
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        if self.schema != HOST_SCHEMA {
            return Err(ConfigError::invalid(
                path,
                "schema",
                format!(
                    "schema {} is not supported; this build reads schema {HOST_SCHEMA}",
                    self.schema
                ),
            ));
        }
        require_tls_off_loopback(
            path,
            self.api.listen,
            TlsSettings {
                listen_field: "api.listen",
                prefix: "api.",
                cert: self.api.tls_cert.is_some(),
                key: self.api.tls_key.is_some(),
                client_ca: false,
            },
        )?;
        let l = &self.limits;
        for (field, default, max) in [
            (
                "limits.default_route_ms",
                l.default_route_ms,
                l.max_route_ms,
            ),
            ("limits.default_call_ms", l.default_call_ms, l.max_call_ms),
            ("limits.default_poll_ms", l.default_poll_ms, l.max_poll_ms),
            (
                "limits.default_memory_mib",
                l.default_memory_mib,
                l.max_memory_mib,
            ),
            (
                "limits.default_output_kib",
                l.default_output_kib,
                l.max_output_kib,
            ),
        ] {
            if default == 0 || default > max {
                return Err(ConfigError::invalid(
                    path,
                    field,
                    format!("{default} must be between 1 and the matching max ({max})"),
                ));
            }
        }
        for (index, token) in self.tokens.iter().enumerate() {
            if token.sha256.len() != 64
                || !token
                    .sha256
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            {
                return Err(ConfigError::invalid(
                    path,
                    format!("tokens[{index}].sha256"),
                    format!(
                        "token {:?} needs the SHA-256 of the token as 64 lowercase hex digits; `switchboard token hash` prints it",
                        token.name
                    ),
                ));
            }
            if token.scopes.contains(&TokenScope::Staff)
                && (token.site.is_none() || token.person.is_none())
            {
                return Err(ConfigError::invalid(
                    path,
                    format!("tokens[{index}]"),
                    format!("staff token {:?} needs both site and person", token.name),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<HostConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchboard.toml");
        std::fs::write(&path, text).unwrap();
        HostConfig::load(&path)
    }

    fn field_of(error: &ConfigError) -> &str {
        match error {
            ConfigError::Invalid { field, .. } => field,
            other => panic!("expected an invalid value, got {other}"),
        }
    }

    #[test]
    fn api_listens_on_loopback_by_default() {
        let config = load("schema = 1\n").unwrap();

        assert_eq!(config.api.listen, default_listen());
        assert!(config.api.listen.ip().is_loopback());
        assert_eq!(config.api.tls_files(Path::new("/etc/switchboard")), None);
    }

    #[test]
    fn public_listen_without_tls_is_rejected() {
        let error = load("schema = 1\n[api]\nlisten = \"0.0.0.0:7400\"\n").unwrap_err();

        assert_eq!(field_of(&error), "api.listen");
        assert!(error.to_string().contains("0.0.0.0:7400"), "{error}");
    }

    #[test]
    fn tls_cert_without_key_is_rejected() {
        let error = load("schema = 1\n[api]\ntls_cert = \"cert.pem\"\n").unwrap_err();

        assert_eq!(field_of(&error), "api.tls_key");
    }

    #[test]
    fn tls_files_resolve_against_config_folder() {
        let config = load(
            "schema = 1\n[api]\nlisten = \"0.0.0.0:7400\"\ntls_cert = \"tls/cert.pem\"\ntls_key = \"/keys/key.pem\"\n",
        )
        .unwrap();

        let files = config.api.tls_files(Path::new("/etc/switchboard")).unwrap();

        assert_eq!(files.cert, Path::new("/etc/switchboard/tls/cert.pem"));
        assert_eq!(files.key, Path::new("/keys/key.pem"));
        assert_eq!(files.client_ca, None);
    }
}
