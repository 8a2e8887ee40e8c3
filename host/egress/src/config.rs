//! What one connector at one site may reach, and how.
//!
//! The host builds an [`EgressConfig`] from three places: the plugin's
//! manifest (`http_hosts`, `credentials`), the site file (credential
//! settings, rate limit) and its own limits (deadline, response size).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::error::ConfigError;
use crate::secret::Secret;

/// Requests per minute a site may send to its EHR when the site file names
/// no limit. 250 per minute is the documented limit of eClinicalWorks' FHIR
/// API, the strictest of the common primary-care EHRs.
pub const DEFAULT_RATE_PER_MINUTE: u32 = 250;

/// Deadline of one `send` call when the host names none: rate-limit waits,
/// token requests, retries and redirects all fit inside it. A connector's
/// poll deadline is 30 s by default, so a single request gets the same.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

/// Largest response body handed to a plugin when the host names no limit.
/// A FHIR search page of 100 resources with `_include` is usually well under
/// 2 MiB; 16 MiB leaves room for large pages while staying far below a
/// plugin's memory cap.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// Scope requested for a SMART Backend Services credential that names none.
pub const DEFAULT_SCOPE: &str = "system/*.read";

/// Settings for one plugin at one site.
#[derive(Clone, Debug)]
pub struct EgressConfig {
    /// Site id, the key of the shared rate limit and token cache.
    pub site: String,
    /// Plugin name, for logs and messages.
    pub plugin: String,
    /// The manifest's `http_hosts`: `name`, `name:port`, an IP address, or
    /// `[v6]:port`. HTTPS on port 443 unless a port is given. Plain HTTP is
    /// allowed only for loopback hosts listed with a port, as a testing aid.
    pub http_hosts: Vec<String>,
    /// The manifest's `credentials`: names the plugin may ask for.
    pub credential_names: Vec<String>,
    /// The site's credentials by name. Only those the manifest also lists
    /// are usable.
    pub credentials: BTreeMap<String, Credential>,
    /// The site's request budget, shared by all its connectors.
    pub rate: RateLimit,
    /// Deadline of one `send` call.
    pub deadline: Duration,
    /// Largest response body accepted, in bytes.
    pub max_response_bytes: u64,
    /// When and how often failed requests are sent again.
    pub retry: RetryPolicy,
}

impl EgressConfig {
    /// A config for `plugin` at `site` that allows nothing, with default
    /// limits. Fill in hosts and credentials from the manifest and site.
    pub fn new(site: impl Into<String>, plugin: impl Into<String>) -> Self {
        EgressConfig {
            site: site.into(),
            plugin: plugin.into(),
            http_hosts: Vec::new(),
            credential_names: Vec::new(),
            credentials: BTreeMap::new(),
            rate: RateLimit::default(),
            deadline: DEFAULT_DEADLINE,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            retry: RetryPolicy::default(),
        }
    }

    /// Checks the limits; hosts and credentials are checked while the
    /// [`Egress`](crate::Egress) is built.
    pub(crate) fn validate_limits(&self) -> Result<(), ConfigError> {
        self.rate.validate()?;
        self.retry.validate()?;
        if self.deadline.is_zero() {
            return Err(ConfigError::InvalidLimit {
                field: "deadline",
                reason: "must be greater than zero".to_string(),
            });
        }
        if self.max_response_bytes == 0 {
            return Err(ConfigError::InvalidLimit {
                field: "max_response_bytes",
                reason: "must be greater than zero".to_string(),
            });
        }
        Ok(())
    }
}

/// How the host obtains the bearer token for a credential name.
#[derive(Clone, Debug)]
pub enum Credential {
    /// A fixed bearer token.
    Static {
        /// The token.
        token: Secret,
    },
    /// SMART Backend Services: a client-credentials grant authenticated by a
    /// signed JWT, with the token cached until shortly before it expires.
    SmartBackend(SmartBackend),
}

/// Settings of a SMART Backend Services client.
#[derive(Clone, Debug)]
pub struct SmartBackend {
    /// The EHR's token endpoint. HTTPS, or HTTP to a loopback address for
    /// tests. The site administrator sets it, so it need not be in the
    /// plugin's `http_hosts`.
    pub token_url: String,
    /// The client id the EHR registered.
    pub client_id: String,
    /// Private key in PEM form: PKCS#8 (`BEGIN PRIVATE KEY`), PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`) or SEC1 (`BEGIN EC PRIVATE KEY`).
    pub private_key_pem: Secret,
    /// Signature algorithm of the client assertion.
    pub algorithm: Algorithm,
    /// Key id (`kid`) registered with the EHR, sent in the JWT header.
    pub key_id: Option<String>,
    /// Requested scopes; [`DEFAULT_SCOPE`] when `None`.
    pub scope: Option<String>,
}

/// A JWS algorithm SMART Backend Services requires servers to support.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// ECDSA on P-384 with SHA-384.
    Es384,
}

impl Algorithm {
    /// The JWS `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rs384 => "RS384",
            Algorithm::Es384 => "ES384",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not `RS384` or `ES384`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("algorithm {0:?} is not supported; use RS384 or ES384")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_uppercase().as_str() {
            "RS384" => Ok(Algorithm::Rs384),
            "ES384" => Ok(Algorithm::Es384),
            _ => Err(UnknownAlgorithm(text.to_string())),
        }
    }
}

/// A site's request budget: a token bucket that holds `burst` requests and
/// refills at `per_minute - burst` per minute, so that no 60-second window
/// carries more than `per_minute` requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Maximum requests in any 60-second window; at least 2.
    pub per_minute: u32,
    /// Requests that may go out back to back; from 1 to `per_minute - 1`.
    pub burst: u32,
}

impl RateLimit {
    /// A limit of `per_minute` with a burst of a tenth of it (at least 1).
    pub fn per_minute(per_minute: u32) -> Self {
        RateLimit {
            per_minute,
            burst: (per_minute / 10).max(1),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.per_minute < 2 {
            return Err(ConfigError::InvalidLimit {
                field: "rate.per_minute",
                reason: format!("{} is below the minimum of 2", self.per_minute),
            });
        }
        if self.burst == 0 || self.burst >= self.per_minute {
            return Err(ConfigError::InvalidLimit {
                field: "rate.burst",
                reason: format!(
                    "{} must be at least 1 and below per_minute ({})",
                    self.burst, self.per_minute
                ),
            });
        }
        Ok(())
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit::per_minute(DEFAULT_RATE_PER_MINUTE)
    }
}

/// When a failed request is sent again.
///
/// Retried: 429 and 503 for every method; 500, 502 and 504 and connection
/// failures only for idempotent methods (`GET`, `HEAD`, `PUT`, `DELETE`),
/// because a `POST` that failed there may already have taken effect. The
/// wait is the response's `Retry-After` when present, else an exponential
/// backoff with jitter; no wait runs past the call's deadline. A
/// `Retry-After` also delays the site's later calls to the same origin until
/// its time, up to [`MAX_RETRY_AFTER_HOLD`](crate::MAX_RETRY_AFTER_HOLD).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 disables retries.
    pub max_attempts: u32,
    /// Backoff before the second attempt; it doubles for each later one.
    pub base_delay: Duration,
    /// Cap on one backoff wait (not on `Retry-After`).
    pub max_delay: Duration,
    /// Seed of the jitter source; `None` seeds from the operating system.
    /// Tests set it to make waits reproducible.
    pub jitter_seed: Option<u64>,
}

impl RetryPolicy {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(ConfigError::InvalidLimit {
                field: "retry.max_attempts",
                reason: "must be at least 1".to_string(),
            });
        }
        if self.base_delay > self.max_delay {
            return Err(ConfigError::InvalidLimit {
                field: "retry.base_delay",
                reason: format!(
                    "{:?} is above retry.max_delay ({:?})",
                    self.base_delay, self.max_delay
                ),
            });
        }
        Ok(())
    }
}

impl Default for RetryPolicy {
    /// Four attempts, waiting about 0.5 s, 1 s and 2 s between them.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            jitter_seed: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_parses_case_insensitively() {
        assert_eq!("rs384".parse::<Algorithm>(), Ok(Algorithm::Rs384));
        assert_eq!("ES384".parse::<Algorithm>(), Ok(Algorithm::Es384));
        assert!("HS256".parse::<Algorithm>().is_err());
    }

    #[test]
    fn default_rate_is_ecw_limit() {
        let rate = RateLimit::default();

        assert_eq!(rate.per_minute, 250);
        assert_eq!(rate.burst, 25);
    }

    #[test]
    fn burst_at_per_minute_rejected() {
        let mut config = EgressConfig::new("north", "fhir");
        config.rate = RateLimit {
            per_minute: 10,
            burst: 10,
        };

        let error = config.validate_limits().unwrap_err();

        assert!(matches!(
            error,
            ConfigError::InvalidLimit {
                field: "rate.burst",
                ..
            }
        ));
    }

    #[test]
    fn zero_attempts_rejected() {
        let mut config = EgressConfig::new("north", "fhir");
        config.retry.max_attempts = 0;

        let error = config.validate_limits().unwrap_err();

        assert!(matches!(
            error,
            ConfigError::InvalidLimit {
                field: "retry.max_attempts",
                ..
            }
        ));
    }

    #[test]
    fn credential_debug_hides_secrets() {
        let credential = Credential::SmartBackend(SmartBackend {
            token_url: "https://auth.example.test/token".to_string(),
            client_id: "client-1".to_string(),
            private_key_pem: Secret::new("-----BEGIN PRIVATE KEY-----\nAAAA"),
            algorithm: Algorithm::Es384,
            key_id: None,
            scope: None,
        });
        let fixed = Credential::Static {
            token: Secret::new("tok-static-9"),
        };

        let printed = format!("{credential:?} {fixed:?}");

        assert!(!printed.contains("BEGIN PRIVATE KEY"), "{printed}");
        assert!(!printed.contains("tok-static-9"), "{printed}");
        assert!(printed.contains("client-1"), "{printed}");
    }
}
