//! `plugin.toml`: what a plugin is and what it may do.
//!
//! ```toml
//! name = "fhir-connector"
//! version = "0.1.0"
//! kind = "connector"            # or "policy"
//! interface = "0.1.0"           # WIT package version it was built against
//!
//! [capabilities]                # connectors only
//! http_hosts = ["api.example-ehr.com", "127.0.0.1:8443"]
//! credentials = ["ehr"]
//!
//! [limits]                      # each within the host's bounds
//! route_ms = 100                # deadline of one route call
//! call_ms = 1000                # configure, nudges, prepare
//! poll_ms = 30000               # poll, backfill, accept
//! memory_mib = 32
//! output_kib = 4096             # size of what one call may return
//! ```

use std::path::Path;

use serde::Deserialize;

use super::error::{ConfigError, parse_toml, read_toml};
use super::host::Limits;

/// The world a plugin implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    /// The `policy` world.
    Policy,
    /// The `connector` world.
    Connector,
}

impl PluginKind {
    /// The name used in manifests and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Policy => "policy",
            PluginKind::Connector => "connector",
        }
    }
}

/// Network reach and credentials of a connector.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Hosts (`name` or `name:port`) the plugin may send HTTP requests to.
    /// Loopback, private and link-local addresses are reachable only when
    /// listed here literally.
    #[serde(default)]
    pub http_hosts: Vec<String>,
    /// Names of site credentials the plugin may ask the host to attach.
    #[serde(default)]
    pub credentials: Vec<String>,
}

/// Limits a plugin requests. `None` takes the host's default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestedLimits {
    /// Deadline of one `route` call, in milliseconds.
    pub route_ms: Option<u64>,
    /// Deadline of `configure`, `nudges` and `prepare`, in milliseconds.
    pub call_ms: Option<u64>,
    /// Deadline of `poll`, `backfill` and `accept`, in milliseconds.
    pub poll_ms: Option<u64>,
    /// Linear memory cap, in MiB.
    pub memory_mib: Option<u64>,
    /// Cap on the size of one call's result, in KiB.
    pub output_kib: Option<u64>,
}

/// A parsed and validated `plugin.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Plugin name: lowercase letters, digits and `-`.
    pub name: String,
    /// Plugin version, `MAJOR.MINOR.PATCH`.
    pub version: String,
    /// The world it implements.
    pub kind: PluginKind,
    /// The WIT package version the author declares it was built against. The
    /// component's own exports are the authority; a mismatch is an error.
    pub interface: String,
    /// One line on what it does.
    #[serde(default)]
    pub description: Option<String>,
    /// Network reach and credentials.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Requested limits.
    #[serde(default)]
    pub limits: RequestedLimits,
}

impl Manifest {
    /// Reads and validates a manifest file against the host's `limits`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the file and field: missing file, bad TOML,
    /// unknown key, bad name or version, or a limit above the host's bound.
    pub fn load(path: &Path, limits: &Limits) -> Result<Self, ConfigError> {
        let (manifest, _): (Manifest, String) = read_toml(path)?;
        manifest.validate(path, limits)?;
        Ok(manifest)
    }

    /// Parses and validates manifest text; `path` is used in messages.
    ///
    /// # Errors
    ///
    /// As [`Manifest::load`].
    pub fn parse(path: &Path, text: &str, limits: &Limits) -> Result<Self, ConfigError> {
        let manifest: Manifest = parse_toml(path, text)?;
        manifest.validate(path, limits)?;
        Ok(manifest)
    }

    fn validate(&self, path: &Path, limits: &Limits) -> Result<(), ConfigError> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(ConfigError::invalid(
                path,
                "name",
                format!(
                    "{:?} is not a valid plugin name; use lowercase letters, digits and '-'",
                    self.name
                ),
            ));
        }
        if !is_version(&self.version) {
            return Err(ConfigError::invalid(
                path,
                "version",
                format!("{:?} is not MAJOR.MINOR.PATCH", self.version),
            ));
        }
        if !is_version(&self.interface) {
            return Err(ConfigError::invalid(
                path,
                "interface",
                format!("{:?} is not MAJOR.MINOR.PATCH", self.interface),
            ));
        }
        if self.kind == PluginKind::Policy
            && (!self.capabilities.http_hosts.is_empty()
                || !self.capabilities.credentials.is_empty())
        {
            return Err(ConfigError::invalid(
                path,
                "capabilities",
                "policies cannot make HTTP requests or use credentials; remove [capabilities]",
            ));
        }
        for host in &self.capabilities.http_hosts {
            if host.is_empty() || host.contains('/') || host.contains('*') {
                return Err(ConfigError::invalid(
                    path,
                    "capabilities.http_hosts",
                    format!(
                        "{host:?} is not a host name or host:port; wildcards and paths are not allowed"
                    ),
                ));
            }
        }

        let checks = [
            (
                "limits.route_ms",
                self.limits.route_ms,
                limits.max_route_ms,
                "max_route_ms",
            ),
            (
                "limits.call_ms",
                self.limits.call_ms,
                limits.max_call_ms,
                "max_call_ms",
            ),
            (
                "limits.poll_ms",
                self.limits.poll_ms,
                limits.max_poll_ms,
                "max_poll_ms",
            ),
            (
                "limits.memory_mib",
                self.limits.memory_mib,
                limits.max_memory_mib,
                "max_memory_mib",
            ),
            (
                "limits.output_kib",
                self.limits.output_kib,
                limits.max_output_kib,
                "max_output_kib",
            ),
        ];
        for (field, requested, bound, bound_name) in checks {
            match requested {
                Some(0) => return Err(ConfigError::invalid(path, field, "must be greater than 0")),
                Some(value) if value > bound => {
                    return Err(ConfigError::invalid(
                        path,
                        field,
                        format!(
                            "{value} is above the host's maximum of {bound} (limits.{bound_name} in switchboard.toml); lower it here or raise the host's bound"
                        ),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The effective limits: requested values, else the host's defaults.
    pub fn effective_limits(&self, limits: &Limits) -> EffectiveLimits {
        EffectiveLimits {
            route_ms: self.limits.route_ms.unwrap_or(limits.default_route_ms),
            call_ms: self.limits.call_ms.unwrap_or(limits.default_call_ms),
            poll_ms: self.limits.poll_ms.unwrap_or(limits.default_poll_ms),
            memory_bytes: self.limits.memory_mib.unwrap_or(limits.default_memory_mib) << 20,
            output_bytes: self.limits.output_kib.unwrap_or(limits.default_output_kib) << 10,
        }
    }
}

/// Limits in force for one plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EffectiveLimits {
    /// Deadline of one route call, in milliseconds.
    pub route_ms: u64,
    /// Deadline of other policy calls, in milliseconds.
    pub call_ms: u64,
    /// Deadline of connector calls, in milliseconds.
    pub poll_ms: u64,
    /// Linear memory cap, in bytes.
    pub memory_bytes: u64,
    /// Result size cap, in bytes.
    pub output_bytes: u64,
}

fn is_version(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, ConfigError> {
        Manifest::parse(Path::new("plugin.toml"), text, &Limits::default())
    }

    const GOOD: &str =
        "name = \"p\"\nversion = \"1.0.0\"\nkind = \"policy\"\ninterface = \"0.1.0\"\n";

    #[test]
    fn good_manifest_parses() {
        let manifest = parse(GOOD).unwrap();

        assert_eq!(manifest.kind, PluginKind::Policy);
        assert_eq!(
            manifest.effective_limits(&Limits::default()).route_ms,
            Limits::default().default_route_ms
        );
    }

    #[test]
    fn missing_field_is_named() {
        let error = parse("name = \"p\"\nversion = \"1.0.0\"\nkind = \"policy\"\n").unwrap_err();

        assert!(error.to_string().contains("interface"), "{error}");
    }

    #[test]
    fn unknown_key_is_named_with_position() {
        let error = parse(&format!("{GOOD}colour = \"red\"\n")).unwrap_err();

        assert!(error.to_string().contains("colour"), "{error}");
        assert_eq!(error.position(), Some((5, 1)));
    }

    #[test]
    fn limit_above_bound_is_rejected() {
        let error = parse(&format!("{GOOD}[limits]\nmemory_mib = 4096\n")).unwrap_err();

        match error {
            ConfigError::Invalid { field, message, .. } => {
                assert_eq!(field, "limits.memory_mib");
                assert!(message.contains("4096"), "{message}");
            }
            other => panic!("expected Invalid, got {other}"),
        }
    }

    #[test]
    fn policy_cannot_ask_for_http() {
        let error = parse(&format!(
            "{GOOD}[capabilities]\nhttp_hosts = [\"x.test\"]\n"
        ))
        .unwrap_err();

        assert!(
            matches!(error, ConfigError::Invalid { ref field, .. } if field == "capabilities"),
            "{error}"
        );
    }

    #[test]
    fn bad_version_is_rejected() {
        let error =
            parse("name = \"p\"\nversion = \"one\"\nkind = \"policy\"\ninterface = \"0.1.0\"\n")
                .unwrap_err();

        assert!(
            matches!(error, ConfigError::Invalid { ref field, .. } if field == "version"),
            "{error}"
        );
    }
}
