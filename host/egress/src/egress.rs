//! [`Egress`]: sends one plugin's requests on the host's terms.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use url::Url;

use crate::allow::{AllowList, Target};
use crate::config::{Credential, EgressConfig};
use crate::error::{ConfigError, EgressError};
use crate::jwt::AssertionKey;
use crate::request::{EgressRequest, EgressResponse};
use crate::resolve::CheckedResolver;
use crate::retry::{Jitter, backoff, is_idempotent, is_retryable_status, parse_retry_after};
use crate::secret::Secret;
use crate::shared::{EgressShared, client_config};
use crate::token::{CacheKey, SmartCredential};
use crate::transport::{AttemptError, Incoming, Outgoing, exchange, sanitize_headers};

/// Redirects followed within one call. Each hop is checked against the
/// allow-list; a FHIR server has no reason to chain more than a few.
pub const MAX_REDIRECTS: u32 = 5;

/// Methods a plugin may use.
const METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/// Outbound HTTP for one connector plugin at one site.
///
/// Built from an [`EgressConfig`] and the host's [`EgressShared`]. `send`
/// blocks the calling thread (a plugin worker thread, never an async task)
/// until the response is read or the call's deadline passes. Safe to share
/// between threads.
pub struct Egress {
    config: EgressConfig,
    allow: Arc<AllowList>,
    credentials: BTreeMap<String, ReadyCredential>,
    agent: ureq::Agent,
    shared: Arc<EgressShared>,
    jitter: Mutex<Jitter>,
}

/// A credential checked and parsed at build time.
#[derive(Debug)]
enum ReadyCredential {
    Static(Secret),
    Smart(Box<SmartCredential>),
}

/// The state of one `send` call as it moves through redirects and retries.
struct Call<'a> {
    method: String,
    url: Url,
    target: Target,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    credential: Option<(&'a str, &'a ReadyCredential)>,
    /// False once a redirect left the original origin: the token stays
    /// with the origin the plugin chose.
    attach: bool,
    deadline: Instant,
    /// Requests sent so far in this call, for logs.
    sent: u32,
    /// Retries since the last redirect.
    retries: u32,
    redirects: u32,
    /// Whether a 401 already caused a fresh token.
    refreshed: bool,
}

impl Egress {
    /// Checks `config` and builds the client.
    ///
    /// Credentials the manifest lists and the site configures are parsed
    /// here, so a bad key fails at load time rather than on the first poll.
    /// The site's rate limit in `shared` is set to `config.rate`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an unparsable `http_hosts` entry, an unusable
    /// credential (bad token URL, empty client id, key that does not parse
    /// for its algorithm) or a limit out of range.
    pub fn new(config: EgressConfig, shared: Arc<EgressShared>) -> Result<Self, ConfigError> {
        config.validate_limits()?;
        let allow = Arc::new(AllowList::parse(&config.http_hosts)?);
        let credentials = ready_credentials(&config)?;

        shared.configure_rate(&config.site, config.rate);
        let agent = ureq::Agent::with_parts(
            client_config(),
            ureq::unversioned::transport::DefaultConnector::default(),
            CheckedResolver {
                names: shared.names().clone(),
                allow: allow.clone(),
            },
        );
        let jitter = match config.retry.jitter_seed {
            Some(seed) => Jitter::seeded(seed),
            None => Jitter::from_os(),
        };

        Ok(Egress {
            config,
            allow,
            credentials,
            agent,
            shared,
            jitter: Mutex::new(jitter),
        })
    }

    /// Returns the config this egress was built from.
    pub fn config(&self) -> &EgressConfig {
        &self.config
    }

    /// Sends `request` and returns the response, following redirects and
    /// retrying as [`RetryPolicy`](crate::RetryPolicy) describes, all
    /// within the configured deadline.
    ///
    /// Any status the retries do not absorb, 4xx and 5xx included, comes
    /// back as a response for the plugin to interpret.
    ///
    /// # Errors
    ///
    /// - [`EgressError::Denied`]: the method, scheme, host, port or a
    ///   resolved address is not allowed, here or on a redirect hop.
    /// - [`EgressError::Credential`]: the credential is not in the manifest
    ///   or the site, or its token could not be obtained.
    /// - [`EgressError::RateLimited`]: the site's budget has no slot within
    ///   the deadline, or an earlier `Retry-After` from the origin lasts
    ///   past it. Nothing was sent.
    /// - [`EgressError::TimedOut`]: the deadline passed, or retries of a
    ///   429 or 5xx response ran out.
    /// - [`EgressError::TooLarge`]: the body is over the limit.
    /// - [`EgressError::Transport`]: connection, TLS or protocol failure,
    ///   or too many redirects.
    pub fn send(&self, request: EgressRequest) -> Result<EgressResponse, EgressError> {
        let deadline = self.shared.now() + self.config.deadline;

        self.check_caller(&request)?;
        let method = check_method(&request.method, &request.body)?;
        let url = Url::parse(&request.url).map_err(|e| {
            EgressError::Denied(format!("the URL is not absolute or does not parse: {e}"))
        })?;
        let target = self
            .allow
            .check_url(&url)
            .map_err(|denial| self.denied(denial))?;
        let credential = self.credential(request.credential.as_deref())?;
        let (headers, dropped) = sanitize_headers(request.headers);
        if dropped > 0 {
            tracing::debug!(site = %self.config.site, plugin = %self.config.plugin, dropped, "dropped headers the host sets itself");
        }

        let mut call = Call {
            method,
            url,
            target,
            headers,
            body: request.body,
            attach: credential.is_some(),
            credential,
            deadline,
            sent: 0,
            retries: 0,
            redirects: 0,
            refreshed: false,
        };
        loop {
            if let Some(response) = self.attempt(&mut call)? {
                return Ok(response);
            }
        }
    }

    /// Sends the request once. Returns the response, or `None` when the call
    /// goes on (a redirect, a retry, a token refresh).
    fn attempt(&self, call: &mut Call<'_>) -> Result<Option<EgressResponse>, EgressError> {
        self.wait_for_hold(call)?;
        self.wait_for_budget(call)?;
        let bearer = self.bearer(call)?;
        let timeout = self.remaining(call)?;

        call.sent += 1;
        let began = std::time::Instant::now();
        let outgoing = Outgoing {
            method: &call.method,
            url: &call.url,
            headers: &call.headers,
            body: &call.body,
            bearer: bearer.as_ref(),
            timeout,
            max_body_bytes: self.config.max_response_bytes,
        };
        let result = exchange(&self.agent, &outgoing);
        let elapsed_ms = began.elapsed().as_millis() as u64;

        match result {
            Ok(incoming) => {
                tracing::debug!(
                    site = %self.config.site,
                    plugin = %self.config.plugin,
                    method = %call.method,
                    host = %call.target.origin(),
                    status = incoming.status,
                    attempt = call.sent,
                    elapsed_ms,
                    "egress request"
                );
                self.after_response(call, incoming)
            }
            Err(error) => {
                tracing::debug!(
                    site = %self.config.site,
                    plugin = %self.config.plugin,
                    method = %call.method,
                    host = %call.target.origin(),
                    error = ?error,
                    attempt = call.sent,
                    elapsed_ms,
                    "egress request failed"
                );
                self.after_failure(call, error)
            }
        }
    }

    fn after_response(
        &self,
        call: &mut Call<'_>,
        incoming: Incoming,
    ) -> Result<Option<EgressResponse>, EgressError> {
        let status = incoming.status;

        if is_redirect(status)
            && let Some(location) = incoming.header("location")
        {
            self.follow_redirect(call, status, location)?;
            return Ok(None);
        }

        if status == 401
            && call.attach
            && !call.refreshed
            && let Some((name, ReadyCredential::Smart(smart))) = call.credential
        {
            tracing::warn!(site = %self.config.site, plugin = %self.config.plugin, credential = name, host = %call.target.origin(), "EHR rejected the cached token; requesting a new one");
            self.forget_token(smart);
            call.refreshed = true;
            return Ok(None);
        }

        if is_retryable_status(status, &call.method) {
            let retry_after = incoming
                .header("retry-after")
                .and_then(|value| parse_retry_after(value, self.shared.clock().wall()));
            if let Some(wait) = retry_after {
                self.shared.holds.hold(
                    &self.config.site,
                    &call.target.origin(),
                    self.shared.now(),
                    wait,
                );
            }
            let exhausted = EgressError::TimedOut(format!(
                "{} returned HTTP {status} on {} attempts; the EHR is overloaded or failing, try again later",
                call.target.origin(),
                call.retries + 1
            ));
            self.schedule_retry(call, &format!("HTTP {status}"), retry_after, exhausted)?;
            return Ok(None);
        }

        Ok(Some(EgressResponse {
            status,
            headers: incoming.headers,
            body: incoming.body,
        }))
    }

    fn after_failure(
        &self,
        call: &mut Call<'_>,
        error: AttemptError,
    ) -> Result<Option<EgressResponse>, EgressError> {
        let origin = call.target.origin();
        match error {
            AttemptError::Denied(denial) => Err(self.denied(denial)),
            AttemptError::TimedOut => Err(EgressError::TimedOut(format!(
                "{origin} did not respond within the call's {:?} deadline",
                self.config.deadline
            ))),
            AttemptError::TooLarge(detail) => Err(EgressError::TooLarge(format!(
                "{origin}: {detail}; request smaller pages (such as a lower _count) or raise the host's response limit"
            ))),
            AttemptError::Failed(detail) => {
                Err(EgressError::Transport(format!("{origin}: {detail}")))
            }
            AttemptError::Connection(detail) if is_idempotent(&call.method) => {
                let exhausted = EgressError::Transport(format!(
                    "{origin}: {detail} (after {} attempts)",
                    call.retries + 1
                ));
                self.schedule_retry(
                    call,
                    &format!("connection failure: {detail}"),
                    None,
                    exhausted,
                )?;
                Ok(None)
            }
            AttemptError::Connection(detail) => Err(EgressError::Transport(format!(
                "{origin}: {detail}; a {} is not retried because it may have taken effect",
                call.method
            ))),
        }
    }

    /// Waits before the next attempt, or returns `exhausted` (attempts used
    /// up) or a timeout (the wait would pass the deadline).
    fn schedule_retry(
        &self,
        call: &mut Call<'_>,
        reason: &str,
        retry_after: Option<Duration>,
        exhausted: EgressError,
    ) -> Result<(), EgressError> {
        if call.retries + 1 >= self.config.retry.max_attempts {
            return Err(exhausted);
        }
        call.retries += 1;

        let wait = match retry_after {
            Some(wait) => wait,
            None => {
                let fraction = self
                    .jitter
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .next_fraction();
                backoff(&self.config.retry, call.retries, fraction)
            }
        };
        let now = self.shared.now();
        if now + wait >= call.deadline {
            return Err(EgressError::TimedOut(format!(
                "{} returned {reason}; the next attempt in {wait:?} would pass the call's {:?} deadline",
                call.target.origin(),
                self.config.deadline
            )));
        }

        tracing::warn!(
            site = %self.config.site,
            plugin = %self.config.plugin,
            host = %call.target.origin(),
            reason,
            attempt = call.sent,
            wait_ms = wait.as_millis() as u64,
            "retrying egress request"
        );
        self.shared.clock().sleep(wait);
        Ok(())
    }

    fn follow_redirect(
        &self,
        call: &mut Call<'_>,
        status: u16,
        location: &str,
    ) -> Result<(), EgressError> {
        let from = call.target.origin();
        call.redirects += 1;
        if call.redirects > MAX_REDIRECTS {
            return Err(EgressError::Transport(format!(
                "{from} redirected more than {MAX_REDIRECTS} times"
            )));
        }

        let next = call.url.join(location).map_err(|e| {
            EgressError::Transport(format!("{from} redirected to an invalid Location: {e}"))
        })?;
        let target = self
            .allow
            .check_url(&next)
            .map_err(|denial| self.denied(format!("redirect from {from} refused: {denial}")))?;

        if target != call.target && call.attach {
            tracing::debug!(site = %self.config.site, plugin = %self.config.plugin, from = %from, to = %target.origin(), "redirect left the origin; credential not sent on");
            call.attach = false;
        }
        if status == 303 || (matches!(status, 301 | 302) && call.method == "POST") {
            call.method = "GET".to_string();
            call.body.clear();
            call.headers
                .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
        }
        call.url = next;
        call.target = target;
        call.retries = 0;
        Ok(())
    }

    /// Waits out a `Retry-After` that the call's origin sent this site
    /// earlier, so the EHR gets no request before the time it named.
    ///
    /// # Errors
    ///
    /// [`EgressError::RateLimited`], without sending, when the hold lasts
    /// past the call's deadline.
    fn wait_for_hold(&self, call: &Call<'_>) -> Result<(), EgressError> {
        let origin = call.target.origin();
        let now = self.shared.now();
        let wait = self.shared.holds.remaining(&self.config.site, &origin, now);
        if wait.is_zero() {
            return Ok(());
        }
        if now + wait >= call.deadline {
            tracing::debug!(site = %self.config.site, plugin = %self.config.plugin, host = %origin, wait_ms = wait.as_millis() as u64, "request not sent: the EHR's Retry-After time has not come");
            return Err(EgressError::RateLimited(format!(
                "{origin} set Retry-After to another {} s, past this call's {:?} deadline; nothing was sent, retry on a later poll",
                whole_seconds(wait),
                self.config.deadline
            )));
        }
        tracing::debug!(site = %self.config.site, plugin = %self.config.plugin, host = %origin, wait_ms = wait.as_millis() as u64, "waiting for the EHR's Retry-After");
        self.shared.clock().sleep(wait);
        Ok(())
    }

    /// Takes a slot from the site's budget, sleeping when the slot is in the
    /// near future.
    fn wait_for_budget(&self, call: &Call<'_>) -> Result<(), EgressError> {
        let max_wait = call.deadline.saturating_duration_since(self.shared.now());
        match self.shared.reserve(&self.config.site, max_wait) {
            Ok(wait) if wait.is_zero() => Ok(()),
            Ok(wait) => {
                tracing::debug!(site = %self.config.site, plugin = %self.config.plugin, wait_ms = wait.as_millis() as u64, "waiting for the site's rate limit");
                self.shared.clock().sleep(wait);
                Ok(())
            }
            Err(would_wait) => Err(EgressError::RateLimited(format!(
                "site {} has used its budget of {} requests per minute; the next slot is {:?} away, past this call's deadline; retry on a later poll",
                self.config.site, self.config.rate.per_minute, would_wait.0
            ))),
        }
    }

    fn remaining(&self, call: &Call<'_>) -> Result<Duration, EgressError> {
        let remaining = call.deadline.saturating_duration_since(self.shared.now());
        if remaining.is_zero() {
            return Err(EgressError::TimedOut(format!(
                "{}: the call's {:?} deadline passed before the request was sent",
                call.target.origin(),
                self.config.deadline
            )));
        }
        Ok(remaining)
    }

    /// Returns the token to attach, fetching a SMART token when none is
    /// cached.
    fn bearer(&self, call: &Call<'_>) -> Result<Option<Secret>, EgressError> {
        if !call.attach {
            return Ok(None);
        }
        match call.credential {
            None => Ok(None),
            Some((_, ReadyCredential::Static(token))) => Ok(Some(token.clone())),
            Some((name, ReadyCredential::Smart(smart))) => {
                self.smart_token(name, smart, call).map(Some)
            }
        }
    }

    fn smart_token(
        &self,
        name: &str,
        smart: &SmartCredential,
        call: &Call<'_>,
    ) -> Result<Secret, EgressError> {
        let slot = self.shared.tokens.slot(&smart.cache_key);
        let mut cached = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(token) = cached.as_ref()
            && token.is_fresh(self.shared.now())
        {
            return Ok(token.token.clone());
        }

        self.wait_for_budget(call)?;
        let timeout = self.remaining(call)?;
        let fresh = smart
            .fetch(&self.shared.token_agent, self.shared.clock().as_ref(), timeout)
            .map_err(|message| {
                tracing::warn!(site = %self.config.site, plugin = %self.config.plugin, credential = name, error = %message, "token request failed");
                EgressError::Credential(format!("credential {name:?}: {message}"))
            })?;
        tracing::debug!(site = %self.config.site, plugin = %self.config.plugin, credential = name, "obtained a new token");
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    fn forget_token(&self, smart: &SmartCredential) {
        let slot = self.shared.tokens.slot(&smart.cache_key);
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn check_caller(&self, request: &EgressRequest) -> Result<(), EgressError> {
        let site_matches = request.site.is_empty() || request.site == self.config.site;
        let plugin_matches = request.plugin.is_empty() || request.plugin == self.config.plugin;
        if site_matches && plugin_matches {
            return Ok(());
        }
        Err(EgressError::Denied(format!(
            "a request from plugin {:?} at site {:?} reached the egress of plugin {:?} at site {:?}",
            request.plugin, request.site, self.config.plugin, self.config.site
        )))
    }

    fn credential(
        &self,
        name: Option<&str>,
    ) -> Result<Option<(&str, &ReadyCredential)>, EgressError> {
        let Some(name) = name else {
            return Ok(None);
        };
        if !self
            .config
            .credential_names
            .iter()
            .any(|listed| listed == name)
        {
            return Err(EgressError::Credential(format!(
                "plugin {} asked for credential {name:?}, which its manifest does not list; add it to credentials in [capabilities]",
                self.config.plugin
            )));
        }
        match self.credentials.get_key_value(name) {
            Some((name, credential)) => Ok(Some((name.as_str(), credential))),
            None => Err(EgressError::Credential(format!(
                "credential {name:?} is not configured for site {}; add [credentials.{name}] to the site file",
                self.config.site
            ))),
        }
    }

    fn denied(&self, denial: String) -> EgressError {
        tracing::warn!(site = %self.config.site, plugin = %self.config.plugin, reason = %denial, "egress request denied");
        EgressError::Denied(denial)
    }
}

impl fmt::Debug for Egress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Egress")
            .field("site", &self.config.site)
            .field("plugin", &self.config.plugin)
            .field("http_hosts", &self.config.http_hosts)
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// `duration` in seconds, rounded up, for messages.
fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

fn check_method(method: &str, body: &[u8]) -> Result<String, EgressError> {
    let method = method.trim().to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(EgressError::Denied(format!(
            "method {method:?} is not allowed; use {}",
            METHODS.join(", ")
        )));
    }
    if matches!(method.as_str(), "GET" | "HEAD") && !body.is_empty() {
        return Err(EgressError::Transport(format!(
            "a {method} request cannot carry a body ({} bytes given)",
            body.len()
        )));
    }
    Ok(method)
}

/// Parses the credentials the manifest lists and the site configures.
/// Names only one side has are left for `send` to report, so that a plugin
/// that never uses a credential still loads.
fn ready_credentials(
    config: &EgressConfig,
) -> Result<BTreeMap<String, ReadyCredential>, ConfigError> {
    let mut ready = BTreeMap::new();
    for name in &config.credential_names {
        let Some(credential) = config.credentials.get(name) else {
            continue;
        };
        let invalid = |reason: String| ConfigError::InvalidCredential {
            name: name.clone(),
            reason,
        };
        let credential = match credential {
            Credential::Static { token } => {
                if token.is_empty() {
                    return Err(invalid(
                        "the token is empty; set the variable that holds it".to_string(),
                    ));
                }
                ReadyCredential::Static(token.clone())
            }
            Credential::SmartBackend(settings) => {
                check_token_url(&settings.token_url).map_err(invalid)?;
                if settings.client_id.trim().is_empty() {
                    return Err(invalid(
                        "client_id is empty; use the client id the EHR registered".to_string(),
                    ));
                }
                let key = AssertionKey::from_pem(&settings.private_key_pem, settings.algorithm)
                    .map_err(invalid)?;
                ReadyCredential::Smart(Box::new(SmartCredential {
                    settings: settings.clone(),
                    key,
                    cache_key: CacheKey::new(&config.site, name, settings),
                }))
            }
        };
        ready.insert(name.clone(), credential);
    }
    Ok(ready)
}

/// A token URL must be HTTPS, or plain HTTP to a loopback host for tests.
fn check_token_url(text: &str) -> Result<(), String> {
    let url = Url::parse(text).map_err(|e| format!("token_url {text:?} does not parse: {e}"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "token_url {text:?} must use https (plain http only to a loopback address, for tests)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_method_denied() {
        let error = check_method("TRACE", b"").unwrap_err();

        assert!(matches!(error, EgressError::Denied(_)), "{error:?}");
    }

    #[test]
    fn get_with_body_rejected() {
        let error = check_method("get", b"x").unwrap_err();

        assert!(matches!(error, EgressError::Transport(_)), "{error:?}");
    }

    #[test]
    fn method_uppercased() {
        assert_eq!(check_method("patch", b"{}"), Ok("PATCH".to_string()));
    }

    #[test]
    fn token_url_rules() {
        assert!(check_token_url("https://auth.example.test/token").is_ok());
        assert!(check_token_url("http://127.0.0.1:9000/token").is_ok());
        assert!(check_token_url("http://localhost:9000/token").is_ok());
        assert!(check_token_url("http://auth.example.test/token").is_err());
        assert!(check_token_url("token").is_err());
    }
}
