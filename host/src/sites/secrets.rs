//! Checks that the secrets a site file names exist when the site loads.
//!
//! A connector with `webhook_secret_env` verifies each notification's HMAC
//! with the secret in that environment variable. Without the variable every
//! notification would fail, so a site that names an unset or empty
//! variable is rejected at load, and on a reload its running version stays.

use std::ffi::OsString;

use crate::config::SiteConfig;

/// A connector whose `webhook_secret_env` names a variable without a usable
/// value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "connector {connector:?}: webhook_secret_env names the environment variable {variable}, which is {problem}; set {variable} to the webhook's HMAC secret in the host's environment and restart the host, or remove webhook_secret_env to require an intake token instead"
)]
pub struct MissingSecret {
    /// Connector instance name.
    pub connector: String,
    /// The environment variable.
    pub variable: String,
    /// `unset` or `empty`.
    pub problem: &'static str,
}

/// Lists the connectors of `config` whose webhook secret variable is unset
/// or empty, in file order. `lookup` reads a variable, such as
/// `std::env::var_os`; the value itself is never copied or logged.
pub fn missing_webhook_secrets(
    config: &SiteConfig,
    lookup: impl Fn(&str) -> Option<OsString>,
) -> Vec<MissingSecret> {
    let mut missing = Vec::new();
    for connector in &config.connectors {
        let Some(variable) = &connector.webhook_secret_env else {
            continue;
        };

        let problem = match lookup(variable) {
            None => "unset",
            Some(value) if value.is_empty() => "empty",
            Some(_) => continue,
        };
        missing.push(MissingSecret {
            connector: connector.name.clone(),
            variable: variable.clone(),
            problem,
        });
    }
    missing
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const SITE: &str = r#"
schema = 1
id = "northside"
name = "Northside"
time_zone = "America/Chicago"

[[roles]]
name = "physician"
clinician = true

[[people]]
id = "dr-lee"
roles = ["physician"]

[[connectors]]
name = "ehr"
plugin = "fhir-connector"
webhook_secret_env = "EHR_HMAC"

[[connectors]]
name = "lab"
plugin = "hl7v2-connector"

[[connectors]]
name = "portal"
plugin = "fhir-connector"
webhook_secret_env = "PORTAL_HMAC"
"#;

    fn config() -> SiteConfig {
        SiteConfig::parse(Path::new("northside.toml"), SITE)
            .expect("the test site parses")
            .0
    }

    fn environment(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs: Vec<(String, OsString)> = pairs
            .iter()
            .map(|(name, value)| (name.to_string(), OsString::from(value)))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(known, _)| known == name)
                .map(|(_, value)| value.clone())
        }
    }

    #[test]
    fn set_secrets_pass() {
        let lookup = environment(&[("EHR_HMAC", "s3cret"), ("PORTAL_HMAC", "other")]);

        let missing = missing_webhook_secrets(&config(), lookup);

        assert_eq!(missing, Vec::new());
    }

    #[test]
    fn unset_and_empty_are_listed() {
        let lookup = environment(&[("PORTAL_HMAC", "")]);

        let missing = missing_webhook_secrets(&config(), lookup);

        assert_eq!(
            missing,
            vec![
                MissingSecret {
                    connector: "ehr".into(),
                    variable: "EHR_HMAC".into(),
                    problem: "unset",
                },
                MissingSecret {
                    connector: "portal".into(),
                    variable: "PORTAL_HMAC".into(),
                    problem: "empty",
                },
            ]
        );
    }

    #[test]
    fn message_names_connector_variable_and_fix() {
        let lookup = environment(&[("PORTAL_HMAC", "other")]);

        let message = missing_webhook_secrets(&config(), lookup)[0].to_string();

        assert!(message.contains("connector \"ehr\""), "{message}");
        assert!(message.contains("EHR_HMAC, which is unset"), "{message}");
        assert!(message.contains("set EHR_HMAC"), "{message}");
        assert!(message.contains("remove webhook_secret_env"), "{message}");
    }
}
