//! `sites/<site>.toml`: one practice location, its roster and its plugins.
//!
//! The roster part (`id`, `time_zone`, `clinic_hours`, `chart_deadline_hours`,
//! `[[roles]]`, `[[people]]`) is what plugins see as the WIT `site` record. The
//! rest wires plugins to the site:
//!
//! ```toml
//! [routing]                       # the active routing policy
//! plugin = "table-policy"         # newest installed version, or "table-policy@0.1.0"
//! config = "northside/routing.toml"   # relative to the sites folder
//!
//! [shadow]                        # optional candidate run beside routing
//! plugin = "table-policy"
//! config = "northside/routing-next.toml"
//!
//! [nudges]
//! plugin = "closure-nudges"
//! config = "northside/nudges.toml"
//!
//! [[connectors]]
//! name = "ehr"                    # instance name: part of every item's identity
//! plugin = "fhir-connector"
//! config = "northside/fhir.toml"
//! poll_seconds = 60               # omit for push-only connectors
//! webhook_secret_env = "NORTHSIDE_FHIR_HMAC"   # verify the webhook HMAC when set
//!
//! [[connectors]]
//! name = "lab"
//! plugin = "hl7v2-connector"
//! mllp_listen = "127.0.0.1:2575"   # HL7 v2 over MLLP
//!
//! [[connectors]]
//! name = "hospital-lab"
//! plugin = "hl7v2-connector"
//! mllp_listen = "0.0.0.0:2576"                      # other than loopback: TLS required
//! mllp_tls_cert = "northside/tls/mllp-chain.pem"    # PEM, leaf first
//! mllp_tls_key = "northside/tls/mllp-key.pem"
//! mllp_tls_client_ca = "northside/tls/lab-ca.pem"   # optional: require client certificates
//! ```
//!
//! TLS is set per connector, because each MLLP listener faces its own
//! senders. One site's lab interface may need a certificate for a name in
//! its hospital's DNS, or client certificates from the hospital's CA.
//! Paths are relative to the sites folder, like `config`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use switchboard_sdk::site::{PersonEntry, RoleEntry, build_site, parse_clock};

use super::error::{ConfigError, parse_toml, read_toml};
use super::tls::{TlsFiles, TlsSettings, require_tls_off_loopback};

/// The site file's schema version this build reads.
pub const SITE_SCHEMA: u32 = 1;

/// A plugin named by a site: `name` or `name@version`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PluginRef {
    /// Plugin name.
    pub name: String,
    /// Pinned version; `None` takes the newest installed.
    pub version: Option<String>,
}

impl<'de> Deserialize<'de> for PluginRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(match text.split_once('@') {
            Some((name, version)) => PluginRef {
                name: name.to_string(),
                version: Some(version.to_string()),
            },
            None => PluginRef {
                name: text,
                version: None,
            },
        })
    }
}

impl std::fmt::Display for PluginRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}@{v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A policy the site runs in one slot (routing, shadow, nudges, prep).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySlot {
    /// The plugin.
    pub plugin: PluginRef,
    /// Its config file, relative to the sites folder.
    #[serde(default)]
    pub config: Option<PathBuf>,
}

/// One connector instance.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    /// Instance name, unique within the site; part of each item's identity.
    pub name: String,
    /// The plugin.
    pub plugin: PluginRef,
    /// Its config file, relative to the sites folder.
    #[serde(default)]
    pub config: Option<PathBuf>,
    /// Poll interval; `None` for push-only connectors.
    #[serde(default)]
    pub poll_seconds: Option<u64>,
    /// Environment variable holding the webhook HMAC-SHA256 secret.
    #[serde(default)]
    pub webhook_secret_env: Option<String>,
    /// Address on which this connector receives HL7 v2 over MLLP, such as
    /// `127.0.0.1:2575`; off when absent. An address other than loopback
    /// needs `mllp_tls_cert` and `mllp_tls_key`.
    #[serde(default)]
    pub mllp_listen: Option<std::net::SocketAddr>,
    /// PEM certificate chain, leaf first, relative to the sites folder.
    /// When set, the listener speaks MLLP inside TLS only.
    #[serde(default)]
    pub mllp_tls_cert: Option<PathBuf>,
    /// PEM private key of `mllp_tls_cert`, relative to the sites folder.
    #[serde(default)]
    pub mllp_tls_key: Option<PathBuf>,
    /// PEM certificates of the CAs that issue the senders' client
    /// certificates, relative to the sites folder. When set, a sender
    /// without such a certificate fails the handshake; when absent, any
    /// client that reaches the port may send messages.
    #[serde(default)]
    pub mllp_tls_client_ca: Option<PathBuf>,
    /// Watch `DATA/inbox/<site>/<name>/` for files.
    #[serde(default = "yes")]
    pub inbox: bool,
    /// Requests per minute to the EHR for this connector at this site.
    #[serde(default)]
    pub rate_per_minute: Option<u32>,
}

fn yes() -> bool {
    true
}

impl ConnectorConfig {
    /// Returns the MLLP listener's TLS files resolved against the sites
    /// folder, or `None` for a plain listener. Validation ensures that the
    /// certificate and key are set together.
    pub fn mllp_tls_files(&self, sites_dir: &Path) -> Option<TlsFiles> {
        let (cert, key) = (self.mllp_tls_cert.as_ref()?, self.mllp_tls_key.as_ref()?);
        Some(TlsFiles {
            cert: sites_dir.join(cert),
            key: sites_dir.join(key),
            client_ca: self
                .mllp_tls_client_ca
                .as_ref()
                .map(|ca| sites_dir.join(ca)),
            setting_prefix: "mllp_".to_string(),
        })
    }

    /// Checks the MLLP settings of the connector at `index` in the file.
    fn validate_mllp(&self, path: &Path, index: usize) -> Result<(), ConfigError> {
        let prefix = format!("connectors[{index}].mllp_");
        let settings = TlsSettings {
            listen_field: &format!("connectors[{index}].mllp_listen"),
            prefix: &prefix,
            cert: self.mllp_tls_cert.is_some(),
            key: self.mllp_tls_key.is_some(),
            client_ca: self.mllp_tls_client_ca.is_some(),
        };
        match self.mllp_listen {
            Some(address) => require_tls_off_loopback(path, address, settings),
            None if settings.cert || settings.key || settings.client_ca => {
                Err(ConfigError::invalid(
                    path,
                    format!("connectors[{index}].mllp_listen"),
                    format!(
                        "missing; connector {:?} sets MLLP TLS files, which do nothing without an MLLP listener; set mllp_listen or remove the mllp_tls_ settings",
                        self.name
                    ),
                ))
            }
            None => Ok(()),
        }
    }
}

/// How the host obtains a token for a credential name.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "kebab-case")]
pub enum CredentialConfig {
    /// SMART Backend Services: a client-credentials grant with a signed JWT
    /// client assertion.
    SmartBackend {
        /// The EHR's token endpoint.
        token_url: String,
        /// The registered client id.
        client_id: String,
        /// PEM private key file, relative to the sites folder.
        key_file: PathBuf,
        /// `RS384` or `ES384`.
        algorithm: String,
        /// Key id (`kid`) registered with the EHR.
        #[serde(default)]
        key_id: Option<String>,
        /// Requested scopes, such as `system/*.read`.
        #[serde(default)]
        scope: Option<String>,
    },
    /// A fixed bearer token read from an environment variable.
    Static {
        /// The variable's name.
        token_env: String,
    },
}

/// Parsed and validated site file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Schema version; must be 1.
    pub schema: u32,
    /// Site id: lowercase letters, digits and `-`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Clinic hours, such as `mon-fri 08:00-17:00`.
    #[serde(default = "default_clinic_hours")]
    pub clinic_hours: Vec<String>,
    /// Local time at which open charts are counted each clinic day.
    #[serde(default = "default_closing_time")]
    pub closing_time: String,
    /// Hours after a visit ends by which its note should be signed.
    #[serde(default = "default_deadline_hours")]
    pub chart_deadline_hours: u32,
    /// Person who receives critical results that failed routing or went
    /// unclaimed past their due time.
    #[serde(default)]
    pub fallback_owner: Option<String>,
    /// URL that receives nudges (ids and a link only).
    #[serde(default)]
    pub nudge_webhook: Option<String>,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<RoleEntry>,
    /// Staff.
    #[serde(default)]
    pub people: Vec<PersonEntry>,
    /// Active routing policy.
    #[serde(default)]
    pub routing: Option<PolicySlot>,
    /// Candidate routing policy in shadow mode.
    #[serde(default)]
    pub shadow: Option<PolicySlot>,
    /// Nudge policy.
    #[serde(default)]
    pub nudges: Option<PolicySlot>,
    /// Pre-visit prep policy.
    #[serde(default)]
    pub prep: Option<PolicySlot>,
    /// Connectors.
    #[serde(default)]
    pub connectors: Vec<ConnectorConfig>,
    /// Credentials by name.
    #[serde(default)]
    pub credentials: BTreeMap<String, CredentialConfig>,
}

fn default_clinic_hours() -> Vec<String> {
    vec!["mon-fri 08:00-17:00".to_string()]
}

fn default_closing_time() -> String {
    "18:00".to_string()
}

/// Twenty-four hours is the common closure target in primary care.
fn default_deadline_hours() -> u32 {
    24
}

impl SiteConfig {
    /// Reads and validates a site file.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the file, field and fix; TOML errors carry
    /// line and column.
    pub fn load(path: &Path) -> Result<(Self, switchboard_sdk::Site), ConfigError> {
        let (config, _): (SiteConfig, String) = read_toml(path)?;
        let site = config.validate(path)?;
        Ok((config, site))
    }

    /// Parses and validates site file text; `path` is used in messages.
    ///
    /// # Errors
    ///
    /// As [`SiteConfig::load`].
    pub fn parse(path: &Path, text: &str) -> Result<(Self, switchboard_sdk::Site), ConfigError> {
        let config: SiteConfig = parse_toml(path, text)?;
        let site = config.validate(path)?;
        Ok((config, site))
    }

    /// The local closing time as minutes after midnight.
    pub fn closing_minute(&self) -> u16 {
        parse_clock(&self.closing_time).unwrap_or(18 * 60)
    }

    /// The time zone, already validated.
    pub fn zone(&self) -> chrono_tz::Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }

    fn validate(&self, path: &Path) -> Result<switchboard_sdk::Site, ConfigError> {
        if self.schema != SITE_SCHEMA {
            return Err(ConfigError::invalid(
                path,
                "schema",
                format!(
                    "schema {} is not supported; this build reads schema {SITE_SCHEMA}",
                    self.schema
                ),
            ));
        }
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(ConfigError::invalid(
                path,
                "id",
                format!(
                    "{:?} is not a valid site id; use lowercase letters, digits and '-'",
                    self.id
                ),
            ));
        }
        if let Some(stem) = path.file_stem().and_then(|s| s.to_str())
            && path.extension().is_some()
            && stem != self.id
        {
            return Err(ConfigError::invalid(
                path,
                "id",
                format!(
                    "site id {:?} does not match the file name; rename the file to {}.toml",
                    self.id, self.id
                ),
            ));
        }
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ConfigError::invalid(
                path,
                "time_zone",
                format!(
                    "{:?} is not an IANA time zone; use a name such as America/Chicago",
                    self.time_zone
                ),
            ));
        }
        if parse_clock(&self.closing_time).is_none() {
            return Err(ConfigError::invalid(
                path,
                "closing_time",
                format!(
                    "{:?} is not a time of day; use HH:MM such as 18:00",
                    self.closing_time
                ),
            ));
        }

        let site = build_site(
            self.id.clone(),
            self.time_zone.clone(),
            &self.clinic_hours,
            self.chart_deadline_hours,
            self.roles.clone(),
            self.people.clone(),
        )
        .map_err(|e| ConfigError::invalid(path, "people", e.message))?;

        if let Some(owner) = &self.fallback_owner
            && site.person(owner).is_none()
        {
            return Err(ConfigError::invalid(
                path,
                "fallback_owner",
                format!("{owner:?} is not in [[people]]"),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (index, connector) in self.connectors.iter().enumerate() {
            if !names.insert(connector.name.as_str()) {
                return Err(ConfigError::invalid(
                    path,
                    format!("connectors[{index}].name"),
                    format!(
                        "{:?} is used twice; connector names must be unique per site",
                        connector.name
                    ),
                ));
            }
            if connector.poll_seconds == Some(0) {
                return Err(ConfigError::invalid(
                    path,
                    format!("connectors[{index}].poll_seconds"),
                    "must be at least 1; omit it for a push-only connector",
                ));
            }
            connector.validate_mllp(path, index)?;
        }
        Ok(site)
    }

    /// Resolves a config path from the site file against the sites folder.
    pub fn config_path(sites_dir: &Path, relative: &Path) -> PathBuf {
        sites_dir.join(relative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "schema = 1\nid = \"s\"\nname = \"S\"\ntime_zone = \"America/Chicago\"\n";

    #[test]
    fn sample_site_parses() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/config/sites/northside.toml"
        ));

        let (config, site) = SiteConfig::load(path).unwrap();

        assert_eq!(config.id, "northside");
        assert_eq!(site.chart_deadline_minutes, 24 * 60);
        assert!(site.person("dr-lee").is_some());
    }

    #[test]
    fn bad_time_zone_is_named() {
        let text = MINIMAL.replace("America/Chicago", "Mars/Olympus");

        let error = SiteConfig::parse(Path::new("s.toml"), &text).unwrap_err();

        assert!(
            matches!(error, ConfigError::Invalid { ref field, .. } if field == "time_zone"),
            "{error}"
        );
    }

    #[test]
    fn unknown_key_has_line_and_column() {
        let text = format!("{MINIMAL}\ncolour = 1\n");

        let error = SiteConfig::parse(Path::new("s.toml"), &text).unwrap_err();

        assert_eq!(error.position(), Some((6, 1)));
        assert!(error.to_string().contains("colour"), "{error}");
    }

    #[test]
    fn file_name_must_match_id() {
        let error = SiteConfig::parse(Path::new("other.toml"), MINIMAL).unwrap_err();

        assert!(
            matches!(error, ConfigError::Invalid { ref field, .. } if field == "id"),
            "{error}"
        );
    }

    fn invalid_field(error: &ConfigError) -> &str {
        match error {
            ConfigError::Invalid { field, .. } => field,
            other => panic!("expected an invalid value, got {other}"),
        }
    }

    fn with_connector(lines: &str) -> String {
        format!("{MINIMAL}[[connectors]]\nname = \"lab\"\nplugin = \"hl7v2-connector\"\n{lines}")
    }

    #[test]
    fn mllp_on_loopback_needs_no_tls() {
        let text = with_connector("mllp_listen = \"127.0.0.1:2575\"\n");

        let (config, _) = SiteConfig::parse(Path::new("s.toml"), &text).unwrap();

        assert_eq!(
            config.connectors[0].mllp_tls_files(Path::new("/sites")),
            None
        );
    }

    #[test]
    fn mllp_off_loopback_without_tls_is_rejected() {
        let text = with_connector("mllp_listen = \"192.0.2.10:2575\"\n");

        let error = SiteConfig::parse(Path::new("s.toml"), &text).unwrap_err();

        assert_eq!(invalid_field(&error), "connectors[0].mllp_listen");
        let message = error.to_string();
        assert!(message.contains("192.0.2.10:2575"), "{message}");
        assert!(message.contains("connectors[0].mllp_tls_cert"), "{message}");
    }

    #[test]
    fn mllp_off_loopback_with_tls_resolves_files() {
        let text = with_connector(
            "mllp_listen = \"0.0.0.0:2575\"\nmllp_tls_cert = \"s/chain.pem\"\nmllp_tls_key = \"s/key.pem\"\nmllp_tls_client_ca = \"s/ca.pem\"\n",
        );

        let (config, _) = SiteConfig::parse(Path::new("s.toml"), &text).unwrap();

        let files = config.connectors[0]
            .mllp_tls_files(Path::new("/sites"))
            .unwrap();
        assert_eq!(files.cert, Path::new("/sites/s/chain.pem"));
        assert_eq!(files.key, Path::new("/sites/s/key.pem"));
        assert_eq!(
            files.client_ca.as_deref(),
            Some(Path::new("/sites/s/ca.pem"))
        );
    }

    #[test]
    fn mllp_key_without_certificate_is_rejected() {
        let text =
            with_connector("mllp_listen = \"127.0.0.1:2575\"\nmllp_tls_key = \"s/key.pem\"\n");

        let error = SiteConfig::parse(Path::new("s.toml"), &text).unwrap_err();

        assert_eq!(invalid_field(&error), "connectors[0].mllp_tls_cert");
    }

    #[test]
    fn mllp_tls_without_listener_is_rejected() {
        let text = with_connector("mllp_tls_cert = \"c.pem\"\nmllp_tls_key = \"k.pem\"\n");

        let error = SiteConfig::parse(Path::new("s.toml"), &text).unwrap_err();

        assert_eq!(invalid_field(&error), "connectors[0].mllp_listen");
    }

    #[test]
    fn plugin_ref_with_version() {
        let text = format!("{MINIMAL}[routing]\nplugin = \"table-policy@0.2.0\"\n");

        let (config, _) = SiteConfig::parse(Path::new("s.toml"), &text).unwrap();

        let slot = config.routing.unwrap();
        assert_eq!(slot.plugin.name, "table-policy");
        assert_eq!(slot.plugin.version.as_deref(), Some("0.2.0"));
    }
}
