//! State shared by every plugin's egress: the clock, the name resolver, the
//! token cache and the per-site rate limits.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::clock::{Clock, SystemClock};
use crate::config::RateLimit;
use crate::hold::RetryHolds;
use crate::rate::{TokenBucket, WouldWait};
use crate::resolve::{NameResolver, PlainResolver, SystemResolver};
use crate::token::TokenCache;

/// User-Agent sent with every request.
pub(crate) const USER_AGENT: &str = concat!("switchboard-egress/", env!("CARGO_PKG_VERSION"));

/// State that outlives a plugin reload: cached tokens, rate-limit buckets
/// and `Retry-After` holds.
///
/// The host makes one at start-up and passes it to every
/// [`Egress::new`](crate::Egress::new). Dropping an `Egress` (a plugin
/// reload) keeps the site's tokens and budget. Cheap to share behind an
/// `Arc`; every method takes `&self` and is safe to call from many threads.
pub struct EgressShared {
    clock: Arc<dyn Clock>,
    names: Arc<dyn NameResolver>,
    pub(crate) tokens: TokenCache,
    buckets: Mutex<HashMap<String, TokenBucket>>,
    pub(crate) holds: RetryHolds,
    pub(crate) token_agent: ureq::Agent,
}

impl EgressShared {
    /// Shared state using the system clock and the system resolver.
    pub fn new() -> Arc<Self> {
        Self::with(Arc::new(SystemClock), Arc::new(SystemResolver))
    }

    /// Shared state with the given clock and resolver; tests pass a
    /// [`ManualClock`](crate::ManualClock) and a
    /// [`StaticResolver`](crate::StaticResolver).
    pub fn with(clock: Arc<dyn Clock>, names: Arc<dyn NameResolver>) -> Arc<Self> {
        let token_agent = ureq::Agent::with_parts(
            client_config(),
            ureq::unversioned::transport::DefaultConnector::default(),
            PlainResolver {
                names: names.clone(),
            },
        );
        Arc::new(EgressShared {
            clock,
            names,
            tokens: TokenCache::default(),
            buckets: Mutex::new(HashMap::new()),
            holds: RetryHolds::default(),
            token_agent,
        })
    }

    /// Returns the clock every egress built on this state uses.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub(crate) fn names(&self) -> &Arc<dyn NameResolver> {
        &self.names
    }

    /// Sets `site`'s limit. The last egress built for a site sets the limit
    /// for all of its connectors; a change is logged.
    pub(crate) fn configure_rate(&self, site: &str, limit: RateLimit) {
        let now = self.clock.now();
        let mut buckets = self.lock_buckets();
        match buckets.get_mut(site) {
            Some(bucket) if bucket.limit() == limit => {}
            Some(bucket) => {
                tracing::info!(
                    site,
                    old_per_minute = bucket.limit().per_minute,
                    per_minute = limit.per_minute,
                    burst = limit.burst,
                    "site request rate changed"
                );
                bucket.reconfigure(limit, now);
            }
            None => {
                buckets.insert(site.to_string(), TokenBucket::new(limit, now));
            }
        }
    }

    /// Takes one request from `site`'s budget; see [`TokenBucket::reserve`].
    pub(crate) fn reserve(&self, site: &str, max_wait: Duration) -> Result<Duration, WouldWait> {
        let now = self.clock.now();
        let mut buckets = self.lock_buckets();
        let bucket = buckets
            .entry(site.to_string())
            .or_insert_with(|| TokenBucket::new(RateLimit::default(), now));
        bucket.reserve(now, max_wait)
    }

    fn lock_buckets(&self) -> std::sync::MutexGuard<'_, HashMap<String, TokenBucket>> {
        // Bucket arithmetic cannot panic halfway, so a poisoned lock still
        // guards consistent numbers.
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Now, on this state's clock.
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }
}

impl fmt::Debug for EgressShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sites = self.lock_buckets().len();
        f.debug_struct("EgressShared")
            .field("clock", &self.clock)
            .field("names", &self.names)
            .field("rate_limited_sites", &sites)
            .finish_non_exhaustive()
    }
}

/// The HTTP client settings of every egress. Status codes are returned, not
/// raised. Redirects are left to [`Egress`](crate::Egress), which checks
/// each hop. Proxies from the environment are ignored, because a proxy
/// would resolve names where the address checks cannot see them.
pub(crate) fn client_config() -> ureq::config::Config {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .user_agent(USER_AGENT)
        .build()
}
