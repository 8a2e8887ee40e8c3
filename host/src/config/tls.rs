//! TLS for the host's listeners: the HTTP API (`[api]` in `switchboard.toml`)
//! and each connector's MLLP listener (`mllp_tls_*` in a site file).
//!
//! Both read the same kind of files, all PEM:
//!
//! - a certificate chain, leaf first (`api.tls_cert`, `mllp_tls_cert`);
//! - the leaf's private key in PKCS#8, PKCS#1 or SEC1 form (`api.tls_key`,
//!   `mllp_tls_key`);
//! - for MLLP only, optionally, the CA certificates that a sender's client
//!   certificate must chain to (`mllp_tls_client_ca`). MLLP has no other
//!   authentication, so without it any client that reaches the port can
//!   submit messages.
//!
//! A listener on a loopback address may run without TLS. For any other
//! address, loading the configuration fails unless a certificate and key
//! are set (see [`require_tls_off_loopback`]). The files themselves are
//! read when the listener starts, so a renewed certificate takes effect at
//! the next start of the host.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{VerifierBuilderError, WebPkiClientVerifier};
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};

use super::error::ConfigError;
use super::quote;

/// The PEM files of one TLS listener, resolved against the folder their
/// settings are relative to, and the names of those settings (for
/// messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// The leaf certificate's private key.
    pub key: PathBuf,
    /// CA certificates that client certificates must chain to; `None`
    /// accepts clients without a certificate.
    pub client_ca: Option<PathBuf>,
    /// The settings' common prefix: `api.` or `mllp_`, so that
    /// `{prefix}tls_cert` names the certificate setting.
    pub setting_prefix: String,
}

impl TlsFiles {
    fn setting(&self, name: &str) -> String {
        format!("{}{name}", self.setting_prefix)
    }
}

/// TLS files that could not be turned into a server configuration. Each
/// variant names the settings at fault, and the file where one is known.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or is not PEM.
    #[error(
        "{setting}: failed to read {}: {cause}; point {setting} at a readable PEM file",
        quote(path)
    )]
    Unreadable {
        /// The setting, such as `api.tls_cert`.
        setting: String,
        /// The file.
        path: PathBuf,
        /// The I/O or PEM error, part of the message rather than a
        /// `source`, so that it is printed once.
        cause: pem::Error,
    },
    /// A certificate file holds no `CERTIFICATE` block.
    #[error(
        "{setting}: {} contains no PEM certificate; {setting} must name the certificate chain, leaf first",
        quote(path)
    )]
    NoCertificate {
        /// The setting.
        setting: String,
        /// The file.
        path: PathBuf,
    },
    /// A key file holds no private key block.
    #[error(
        "{setting}: {} contains no PEM private key; {setting} must name the key in PKCS#8, PKCS#1 or SEC1 form",
        quote(path)
    )]
    NoKey {
        /// The setting.
        setting: String,
        /// The file.
        path: PathBuf,
    },
    /// rustls rejected the certificate and key, most often because the key
    /// does not belong to the certificate.
    #[error(
        "{cert_setting} and {key_setting}: the certificate and key cannot be used ({cause}); check that the key belongs to the first certificate in the chain"
    )]
    Rejected {
        /// The certificate setting.
        cert_setting: String,
        /// The key setting.
        key_setting: String,
        /// rustls's reason.
        cause: rustls::Error,
    },
    /// The client CA file cannot be used to verify client certificates.
    #[error(
        "{setting}: {} cannot be used to verify client certificates ({reason}); it must hold the PEM certificates of the CAs that issue the senders' certificates",
        quote(path)
    )]
    ClientCa {
        /// The setting.
        setting: String,
        /// The file.
        path: PathBuf,
        /// Why: no certificate found, an unparsable one, or the verifier's error.
        reason: String,
    },
}

/// ALPN protocols of the HTTP API: HTTP/2 first, then HTTP/1.1.
pub const HTTP_ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];

/// Reads `files` into a rustls server configuration that offers `alpn`
/// (empty for protocols without ALPN, such as MLLP). When
/// `files.client_ca` is set, a client must present a certificate that
/// chains to one of its CAs, or the handshake fails.
///
/// The configuration uses rustls's default protocol versions (TLS 1.2 and
/// 1.3) and its process-wide crypto provider, which is `ring` because the
/// workspace enables no other.
///
/// NOTE: rustls 0.23.48 offers no post-quantum key exchange with `ring`.
/// The `aws-lc-rs` provider would add it, at the cost of a C build.
///
/// # Errors
///
/// [`TlsError`] naming the setting and file that could not be used.
///
/// # Panics
///
/// When the build enables more than one rustls crypto provider, because
/// rustls then cannot pick the process-wide one.
pub fn server_config(files: &TlsFiles, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = read_certificates(&files.setting("tls_cert"), &files.cert)?;
    let key = read_key(&files.setting("tls_key"), &files.key)?;

    let builder = match &files.client_ca {
        Some(path) => {
            let verifier = client_verifier(&files.setting("tls_client_ca"), path)?;
            ServerConfig::builder().with_client_cert_verifier(verifier)
        }
        None => ServerConfig::builder().with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|cause| rejected(files, cause))?;

    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

fn rejected(files: &TlsFiles, cause: rustls::Error) -> TlsError {
    TlsError::Rejected {
        cert_setting: files.setting("tls_cert"),
        key_setting: files.setting("tls_key"),
        cause,
    }
}

fn read_certificates(setting: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let unreadable = |cause| TlsError::Unreadable {
        setting: setting.to_string(),
        path: path.to_path_buf(),
        cause,
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(unreadable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unreadable)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            setting: setting.to_string(),
            path: path.to_path_buf(),
        });
    }
    Ok(chain)
}

fn read_key(setting: &str, path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|cause| match cause {
        pem::Error::NoItemsFound => TlsError::NoKey {
            setting: setting.to_string(),
            path: path.to_path_buf(),
        },
        cause => TlsError::Unreadable {
            setting: setting.to_string(),
            path: path.to_path_buf(),
            cause,
        },
    })
}

fn client_verifier(
    setting: &str,
    path: &Path,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let unusable = |reason: String| TlsError::ClientCa {
        setting: setting.to_string(),
        path: path.to_path_buf(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    for certificate in read_certificates(setting, path)? {
        roots
            .add(certificate)
            .map_err(|error| unusable(error.to_string()))?;
    }
    WebPkiClientVerifier::builder(Arc::new(roots))
        .build()
        .map_err(|error: VerifierBuilderError| unusable(error.to_string()))
}

/// The presence of one listener's TLS settings, checked by
/// [`require_tls_off_loopback`].
#[derive(Clone, Copy, Debug)]
pub(super) struct TlsSettings<'a> {
    /// The listen setting's full name, such as `api.listen`.
    pub listen_field: &'a str,
    /// Prefix of the TLS settings' full names, such as `api.` or
    /// `connectors[0].mllp_`.
    pub prefix: &'a str,
    /// `tls_cert` is set.
    pub cert: bool,
    /// `tls_key` is set.
    pub key: bool,
    /// `tls_client_ca` is set.
    pub client_ca: bool,
}

/// Checks one listener's TLS settings. The certificate and key come as a
/// pair, a client CA needs them, and an address other than loopback needs
/// TLS, so that this listener never takes patient data off the host in
/// clear text.
///
/// # Errors
///
/// [`ConfigError::Invalid`] naming the setting at fault and the fix.
pub(super) fn require_tls_off_loopback(
    path: &Path,
    address: SocketAddr,
    settings: TlsSettings<'_>,
) -> Result<(), ConfigError> {
    let prefix = settings.prefix;
    let cert = format!("{prefix}tls_cert");
    let key = format!("{prefix}tls_key");
    if settings.cert && !settings.key {
        return Err(ConfigError::invalid(
            path,
            &key,
            format!("missing; {cert} is set, and TLS needs the certificate's private key as well"),
        ));
    }
    if settings.key && !settings.cert {
        return Err(ConfigError::invalid(
            path,
            &cert,
            format!("missing; {key} is set, and TLS needs the certificate chain as well"),
        ));
    }
    if settings.client_ca && !settings.cert {
        return Err(ConfigError::invalid(
            path,
            format!("{prefix}tls_client_ca"),
            format!("client certificates need TLS; set {cert} and {key} as well"),
        ));
    }
    if !address.ip().is_loopback() && !settings.cert {
        return Err(ConfigError::invalid(
            path,
            settings.listen_field,
            format!(
                "{address} is not a loopback address, so the listener must use TLS; set {cert} and {key} to PEM files, or listen on 127.0.0.1"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> TlsFiles {
        TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            client_ca: None,
            setting_prefix: "api.".to_string(),
        }
    }

    fn settings(cert: bool, key: bool, client_ca: bool) -> TlsSettings<'static> {
        TlsSettings {
            listen_field: "api.listen",
            prefix: "api.",
            cert,
            key,
            client_ca,
        }
    }

    fn field_of(error: &ConfigError) -> &str {
        match error {
            ConfigError::Invalid { field, .. } => field,
            other => panic!("expected an invalid value, got {other}"),
        }
    }

    #[test]
    fn missing_certificate_file_is_named() {
        let dir = tempfile::tempdir().unwrap();

        let error = server_config(&files(dir.path()), HTTP_ALPN).unwrap_err();

        assert!(
            matches!(&error, TlsError::Unreadable { setting, .. } if setting == "api.tls_cert"),
            "{error}"
        );
        assert!(error.to_string().contains("cert.pem"), "{error}");
    }

    #[test]
    fn certificate_file_without_pem_block() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cert.pem"), "not a certificate\n").unwrap();

        let error = server_config(&files(dir.path()), HTTP_ALPN).unwrap_err();

        assert!(
            matches!(&error, TlsError::NoCertificate { setting, .. } if setting == "api.tls_cert"),
            "{error}"
        );
    }

    #[test]
    fn key_file_without_key() {
        let dir = tempfile::tempdir().unwrap();
        // Any well-formed CERTIFICATE block passes the reading step; the
        // key is read before the chain is parsed as X.509.
        std::fs::write(
            dir.path().join("cert.pem"),
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("key.pem"), "no key here\n").unwrap();

        let error = server_config(&files(dir.path()), HTTP_ALPN).unwrap_err();

        assert!(
            matches!(&error, TlsError::NoKey { setting, .. } if setting == "api.tls_key"),
            "{error}"
        );
    }

    #[test]
    fn loopback_without_tls_is_allowed() {
        let address: SocketAddr = "127.0.0.1:7400".parse().unwrap();

        let checked = require_tls_off_loopback(
            Path::new("switchboard.toml"),
            address,
            settings(false, false, false),
        );

        assert!(checked.is_ok());
    }

    #[test]
    fn other_address_without_tls_names_listen() {
        let address: SocketAddr = "0.0.0.0:7400".parse().unwrap();

        let error = require_tls_off_loopback(
            Path::new("switchboard.toml"),
            address,
            settings(false, false, false),
        )
        .unwrap_err();

        assert_eq!(field_of(&error), "api.listen");
        assert!(error.to_string().contains("0.0.0.0:7400"), "{error}");
        assert!(error.to_string().contains("set api.tls_cert"), "{error}");
    }

    #[test]
    fn other_address_with_tls_is_allowed() {
        let address: SocketAddr = "[::]:7400".parse().unwrap();

        let checked = require_tls_off_loopback(
            Path::new("switchboard.toml"),
            address,
            settings(true, true, false),
        );

        assert!(checked.is_ok());
    }

    #[test]
    fn certificate_without_key_names_key() {
        let address: SocketAddr = "127.0.0.1:7400".parse().unwrap();

        let error = require_tls_off_loopback(
            Path::new("switchboard.toml"),
            address,
            settings(true, false, false),
        )
        .unwrap_err();

        assert_eq!(field_of(&error), "api.tls_key");
    }

    #[test]
    fn key_without_certificate_names_certificate() {
        let address: SocketAddr = "127.0.0.1:7400".parse().unwrap();

        let error = require_tls_off_loopback(
            Path::new("switchboard.toml"),
            address,
            settings(false, true, false),
        )
        .unwrap_err();

        assert_eq!(field_of(&error), "api.tls_cert");
    }

    #[test]
    fn client_ca_without_certificate_is_rejected() {
        let address: SocketAddr = "127.0.0.1:7400".parse().unwrap();

        let error = require_tls_off_loopback(
            Path::new("switchboard.toml"),
            address,
            settings(false, false, true),
        )
        .unwrap_err();

        assert_eq!(field_of(&error), "api.tls_client_ca");
    }
}
