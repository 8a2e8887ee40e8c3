//! Bearer tokens: fixed ones, and SMART Backend Services tokens obtained
//! with a signed client assertion and cached until shortly before expiry.

use std::collections::HashMap;
use std::io::Read as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::clock::Clock;
use crate::config::{DEFAULT_SCOPE, SmartBackend};
use crate::jwt::{AssertionInput, AssertionKey, client_assertion, new_jti};
use crate::secret::Secret;

/// Lifetime assumed when a token response has no `expires_in`. SMART
/// requires the field; five minutes is the shortest lifetime vendors issue.
pub const ASSUMED_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// Largest token response read, in bytes; real ones are under 4 KiB.
const MAX_TOKEN_RESPONSE_BYTES: u64 = 64 * 1024;

/// Identifies one cached token: the site, the credential name, and a hash
/// of the credential's settings, so a changed key or client id never
/// reuses a token obtained with the old one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    site: String,
    credential: String,
    fingerprint: String,
}

impl CacheKey {
    pub(crate) fn new(site: &str, credential: &str, settings: &SmartBackend) -> Self {
        let mut hash = Sha256::new();
        for part in [
            settings.token_url.as_str(),
            settings.client_id.as_str(),
            settings.algorithm.as_str(),
            settings.key_id.as_deref().unwrap_or(""),
            settings.scope.as_deref().unwrap_or(DEFAULT_SCOPE),
            settings.private_key_pem.expose(),
        ] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
        CacheKey {
            site: site.to_string(),
            credential: credential.to_string(),
            fingerprint: hex::encode(hash.finalize()),
        }
    }
}

/// A token and when it stops being used.
#[derive(Debug, Clone)]
pub(crate) struct CachedToken {
    pub(crate) token: Secret,
    refresh_at: Instant,
}

impl CachedToken {
    /// A token obtained at `now` whose `expires_in` was `lifetime`.
    ///
    /// It is replaced once less than 60 s or a fifth of its lifetime
    /// remains (whichever is more), and at the latest halfway through. So a
    /// 5-minute token is used for 4 minutes, a 1-hour token for 48, and a
    /// 30-second token for 15.
    pub(crate) fn new(token: Secret, now: Instant, lifetime: Duration) -> Self {
        let margin = Duration::from_secs(60).max(lifetime / 5).min(lifetime / 2);
        CachedToken {
            token,
            refresh_at: now + (lifetime - margin),
        }
    }

    pub(crate) fn is_fresh(&self, now: Instant) -> bool {
        now < self.refresh_at
    }
}

/// Tokens shared by every connector of every site, surviving plugin
/// reloads. One slot per [`CacheKey`]; a caller holds the slot's lock while
/// it fetches, so concurrent callers wait for one token request instead of
/// each sending their own.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    slots: Mutex<HashMap<CacheKey, Arc<Mutex<Option<CachedToken>>>>>,
}

impl TokenCache {
    pub(crate) fn slot(&self, key: &CacheKey) -> Arc<Mutex<Option<CachedToken>>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(key.clone()).or_default().clone()
    }
}

/// A SMART Backend Services credential, parsed and ready.
#[derive(Debug)]
pub(crate) struct SmartCredential {
    pub(crate) settings: SmartBackend,
    pub(crate) key: AssertionKey,
    pub(crate) cache_key: CacheKey,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
}

impl SmartCredential {
    /// Sends the client-credentials grant to the token endpoint and returns
    /// the token. The error message names the endpoint's origin, the status
    /// and the OAuth `error` code. It never carries the assertion, the token
    /// or the server's free-text description, which may echo either.
    pub(crate) fn fetch(
        &self,
        agent: &ureq::Agent,
        clock: &dyn Clock,
        timeout: Duration,
    ) -> Result<CachedToken, String> {
        let endpoint = origin_of(&self.settings.token_url);
        let jti = new_jti()?;
        let assertion = client_assertion(
            &self.key,
            &AssertionInput {
                client_id: &self.settings.client_id,
                token_url: &self.settings.token_url,
                key_id: self.settings.key_id.as_deref(),
                now: clock.wall(),
                jti: &jti,
            },
        );
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair(
                "scope",
                self.settings.scope.as_deref().unwrap_or(DEFAULT_SCOPE),
            )
            .append_pair(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .append_pair("client_assertion", &assertion)
            .finish();

        let started = clock.now();
        let request = ureq::http::Request::post(&self.settings.token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(form)
            .map_err(|e| format!("token request to {endpoint} could not be built: {e}"))?;
        let request = agent
            .configure_request(request)
            .timeout_global(Some(timeout))
            .build();
        let response = agent
            .run(request)
            .map_err(|e| format!("token request to {endpoint} failed: {}", describe(&e)))?;

        let status = response.status().as_u16();
        let mut body = Vec::new();
        response
            .into_body()
            .into_reader()
            .take(MAX_TOKEN_RESPONSE_BYTES)
            .read_to_end(&mut body)
            .map_err(|e| format!("token response from {endpoint} could not be read: {e}"))?;

        if status != 200 {
            let code = serde_json::from_slice::<OAuthError>(&body)
                .map(|e| format!(" with OAuth error {:?}", e.error))
                .unwrap_or_default();
            return Err(format!(
                "token endpoint {endpoint} answered HTTP {status}{code}; check the client id, key and key id registered with the EHR"
            ));
        }

        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            format!("token endpoint {endpoint} sent a response that is not a token: {e}")
        })?;
        if let Some(kind) = &parsed.token_type
            && !kind.eq_ignore_ascii_case("bearer")
        {
            return Err(format!(
                "token endpoint {endpoint} issued a {kind:?} token; only bearer tokens are supported"
            ));
        }
        if parsed.access_token.is_empty() {
            return Err(format!("token endpoint {endpoint} issued an empty token"));
        }

        let lifetime = parsed
            .expires_in
            .map(Duration::from_secs)
            .unwrap_or(ASSUMED_TOKEN_LIFETIME);
        Ok(CachedToken::new(
            Secret::new(parsed.access_token),
            started,
            lifetime,
        ))
    }
}

/// `scheme://host:port` of a URL, or a placeholder when it does not parse.
pub(crate) fn origin_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(url) => url.origin().ascii_serialization(),
        Err(_) => "(invalid URL)".to_string(),
    }
}

/// Describes a client error without the URL that ureq may include.
pub(crate) fn describe(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(_) => "timed out".to_string(),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::Io(e) => e.to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_minute_token_refreshed_after_four() {
        let now = Instant::now();

        let token = CachedToken::new(Secret::new("t"), now, Duration::from_secs(300));

        assert!(token.is_fresh(now + Duration::from_secs(239)));
        assert!(!token.is_fresh(now + Duration::from_secs(240)));
    }

    #[test]
    fn hour_token_refreshed_at_48_minutes() {
        let now = Instant::now();

        let token = CachedToken::new(Secret::new("t"), now, Duration::from_secs(3600));

        assert!(token.is_fresh(now + Duration::from_secs(48 * 60 - 1)));
        assert!(!token.is_fresh(now + Duration::from_secs(48 * 60)));
    }

    #[test]
    fn short_token_refreshed_halfway() {
        let now = Instant::now();

        let token = CachedToken::new(Secret::new("t"), now, Duration::from_secs(30));

        assert!(token.is_fresh(now + Duration::from_secs(14)));
        assert!(!token.is_fresh(now + Duration::from_secs(15)));
    }

    #[test]
    fn origin_drops_path_and_query() {
        assert_eq!(
            origin_of("https://auth.example.test/oauth2/token?tenant=42"),
            "https://auth.example.test"
        );
    }
}
