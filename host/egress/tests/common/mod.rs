//! Helpers shared by the egress tests: a mock EHR on 127.0.0.1, a manual
//! clock, and a config that allows the mock.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use mock_ehr::MockEhr;
use switchboard_egress::{
    Credential, EgressConfig, EgressRequest, EgressShared, ManualClock, NameResolver, RetryPolicy,
    Secret, StaticResolver, SystemResolver,
};

pub const SITE: &str = "northside";
pub const PLUGIN: &str = "fhir-connector";

/// A mock EHR, a manual clock and shared state built on them.
pub struct Setup {
    pub ehr: MockEhr,
    pub clock: Arc<ManualClock>,
    pub shared: Arc<EgressShared>,
}

/// Shared state on a manual clock with the system resolver (tests use IP
/// literals unless they install names).
pub fn setup() -> Setup {
    setup_with(Arc::new(SystemResolver))
}

/// As [`setup`], with `names` as the resolver.
pub fn setup_with(names: Arc<dyn NameResolver>) -> Setup {
    let ehr = MockEhr::start();
    let clock = Arc::new(ManualClock::new());
    let shared = EgressShared::with(clock.clone(), names);
    Setup { ehr, clock, shared }
}

/// A resolver that maps `name` to 127.0.0.1.
pub fn resolving_to_loopback(name: &str) -> Arc<dyn NameResolver> {
    Arc::new(StaticResolver::new().with(name, &["127.0.0.1".parse().unwrap()]))
}

/// A config that allows the mock's `127.0.0.1:PORT`, with seeded jitter.
pub fn config(ehr: &MockEhr) -> EgressConfig {
    let mut config = EgressConfig::new(SITE, PLUGIN);
    config.http_hosts = vec![ehr.host_port()];
    config.retry = RetryPolicy {
        jitter_seed: Some(7),
        ..RetryPolicy::default()
    };
    config
}

/// `config` plus a static credential `ehr` holding a token the mock issued.
pub fn config_with_static_token(ehr: &MockEhr) -> EgressConfig {
    let mut config = config(ehr);
    config.credential_names = vec!["ehr".to_string()];
    config.credentials.insert(
        "ehr".to_string(),
        Credential::Static {
            token: Secret::new(ehr.issue_token()),
        },
    );
    config
}

/// A GET of `path` under the mock's FHIR base.
pub fn get(ehr: &MockEhr, path: &str) -> EgressRequest {
    EgressRequest::get(SITE, PLUGIN, &format!("{}{path}", ehr.base_url()))
}

pub fn seconds(n: u64) -> Duration {
    Duration::from_secs(n)
}
