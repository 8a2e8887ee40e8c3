//! Outbound HTTP for Switchboard's connector plugins.
//!
//! A connector runs sandboxed and reaches its EHR only through the host's
//! `http` import. This crate is what the host does with such a request:
//!
//! - **Allow-list.** The URL's host and port must be listed in the plugin
//!   manifest's `http_hosts`, on every request and again on every redirect
//!   hop. HTTPS only, except plain HTTP to a loopback host listed with a port
//!   (a testing aid).
//! - **Address rules.** The host name is resolved once and every address is
//!   checked: no loopback, private, link-local, metadata and similar
//!   addresses, unless the manifest lists that exact IP or `localhost`. The
//!   connection goes to exactly the checked addresses, so DNS rebinding
//!   cannot swap one in. The rules are listed under
//!   [Address rules](#address-rules) below.
//! - **Credentials.** A request names a credential; the host attaches
//!   `Authorization: Bearer …` (a fixed token, or a SMART Backend Services
//!   token it obtains with a signed JWT and caches) and drops any
//!   `Authorization` header the plugin set. A 401 drops the cached token
//!   and retries once with a new one.
//! - **Rate limit.** One token bucket per site, shared by its connectors;
//!   every attempt and every token request takes a slot.
//! - **Retries.** 429 and 5xx answers and connection failures, with
//!   exponential backoff, seeded jitter and `Retry-After`, never past the
//!   call's deadline. A `Retry-After` also delays the site's later calls
//!   to that origin until its time, so a call that gave up early is not
//!   followed by another request too soon.
//! - **Size limit.** Bodies over the limit are refused without reading
//!   further.
//!
//! Errors and logs name the origin (`https://host:port`), never the path or
//! query, which carry patient and resource ids, and never a token or key.
//!
//! # Use
//!
//! ```no_run
//! use std::sync::Arc;
//! use switchboard_egress::{Credential, Egress, EgressConfig, EgressRequest, EgressShared, Secret};
//!
//! let shared = EgressShared::new(); // once per host process
//!
//! let mut config = EgressConfig::new("northside", "fhir-connector");
//! config.http_hosts = vec!["fhir.example-ehr.com".to_string()];
//! config.credential_names = vec!["ehr".to_string()];
//! config.credentials.insert(
//!     "ehr".to_string(),
//!     Credential::Static { token: Secret::new("token from the site's environment") },
//! );
//! let egress = Egress::new(config, shared.clone())?;
//!
//! let request = EgressRequest::get("northside", "fhir-connector", "https://fhir.example-ehr.com/r4/Patient/1")
//!     .with_credential("ehr");
//! let response = egress.send(request)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Address rules
//!
//! Non-public addresses are loopback, private (RFC 1918, ULA `fc00::/7`),
//! carrier-grade NAT, link-local, unspecified, multicast, documentation,
//! benchmarking and reserved ranges, judged through IPv4-mapped, NAT64 and
//! 6to4 forms. A manifest reaches one by listing that IP as an entry (an
//! on-premises EHR listed as `ehr.clinic.local` plus `10.20.0.5`), or, for
//! loopback only, by listing `localhost`. Cloud metadata addresses
//! (169.254.169.254, fd00:ec2::254, 100.100.100.200) are never reachable.

mod allow;
mod clock;
mod config;
mod egress;
mod error;
mod hold;
mod jwt;
mod rate;
mod request;
mod resolve;
mod retry;
mod secret;
mod shared;
mod token;
mod transport;
pub mod webhook;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    Algorithm, Credential, DEFAULT_DEADLINE, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_RATE_PER_MINUTE,
    DEFAULT_SCOPE, EgressConfig, RateLimit, RetryPolicy, SmartBackend, UnknownAlgorithm,
};
pub use egress::{Egress, MAX_REDIRECTS};
pub use error::{ConfigError, EgressError};
pub use hold::MAX_RETRY_AFTER_HOLD;
pub use jwt::ASSERTION_LIFETIME;
pub use request::{EgressRequest, EgressResponse};
pub use resolve::{NameResolver, StaticResolver, SystemResolver};
pub use secret::{REDACTED, Secret};
pub use shared::EgressShared;
pub use token::ASSUMED_TOKEN_LIFETIME;
